//! Command-line arguments (clap derive). Parsing only: no I/O happens here;
//! `main.rs` turns the parsed arguments into engine requests.

use std::path::PathBuf;

use akten::catalog::CatalogEngine;
use clap::{Args, Parser, Subcommand, ValueEnum};

const ABOUT: &str = "akten: the city's electronic records system (E-Akte)";

const LONG_ABOUT: &str = "\
akten keeps the city's documents unchanged, filed in the Akte of the file plan where they
belong, with a history nobody can quietly rewrite.

Terms:
  Aktenplan     the city's file plan: a tree of positions (Hauptgruppe > Gruppe >
                Untergruppe > Betreffseinheit), each with a Kennzeichen such as 000.01,
                a retention period and a disposal code (A archivwürdig, B bewerten,
                V vernichten). Akten are opened under Betreffseinheiten.
  Akte          a file under one Betreffseinheit, known by its Aktenzeichen,
                e.g. 000.01-0001/2026 (Kennzeichen, running number, year).
  Vorgang       a case inside an Akte, known by its Vorgangszeichen, e.g.
                000.01-0001/2026-1.
  zdA           \"zu den Akten\": closing an Akte or Vorgang. Retention runs from the end
                of the zdA year: it ends on 31 December of (zdA year + retention years).
  Posteingang   documents akten could not file on its own wait here, with suggestions,
                for someone to file, forward to another office or discard.

The store is found via --store, else $AKTEN_STORE, else ./akten-data.
Exit codes: 0 ok, 1 findings or partial failure, 2 usage or fatal error.";

const SERVE_ABOUT: &str = "\
Run the engine as a daemon for this store (the main job).

`akten serve` opens the store (creating ./akten-data with the bundled Aktenplan when
no store is given and none exists), holds it, and answers on 127.0.0.1: every other
akten command run on the same store while it runs is sent to it and prints the same
as without it. The port is `port` under [serve] in akten.toml (0, the default: any
free port).

It also runs the mailroom: every file dropped into <store>/inbox/ or a station folder
([[mailroom.station]] in akten.toml) is taken in once it is complete, cut at cover
sheets, filed or put in the Posteingang; what cannot be taken goes to <store>/failed/
with the reason beside it (`akten intake failed`). One line per file is printed.

While it runs, <store>/serve.json says where it listens, and <store>/serve.token
(readable only by the store's owner) holds the token clients must send.
Stop it with Ctrl-C or SIGTERM (`kill PID`, the pid is in serve.json): it finishes the
request in hand and the files being taken in, removes both files and releases the
store.";

#[derive(Debug, Parser)]
#[command(name = "akten", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// Store directory [default: $AKTEN_STORE, else ./akten-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// Print JSON instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Take in what is in the inbox and station folders now, then stop
    /// (`akten serve` does this continuously)
    Run,
    /// List the files in <store>/failed/ and why they failed
    Failed,
    /// Put a file from failed/ back into the folder it came from, to be taken in again
    Retry {
        /// The file's name, as `akten intake failed` lists it
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct CoversheetArgs {
    /// The Akte the pages go to
    #[arg(long, value_name = "AZ", required_unless_present_any = ["vorgang", "separator"])]
    pub akte: Option<String>,
    /// The Vorgang the pages go to
    #[arg(long, value_name = "VZ")]
    pub vorgang: Option<String>,
    /// Kind of the documents behind the sheet
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Date of receipt to record (YYYY-MM-DD or DD.MM.YYYY) [default: the scan date]
    #[arg(long, value_name = "DATE")]
    pub received: Option<String>,
    /// A sheet that only separates documents, without a target
    #[arg(long, conflicts_with_all = ["akte", "vorgang", "kind", "received"])]
    pub separator: bool,
    /// Where to write the PDF
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new store with the bundled Aktenplan (or --plan FILE)
    Init {
        /// Directory for the new store [default: the --store location]
        dir: Option<PathBuf>,
        /// Start with this plan (TOML or CSV) instead of the bundled one
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Key-value engine of the catalog, redb or sled (fixed for the store's life)
        #[arg(long, default_value_t = CatalogEngine::Redb)]
        catalog_engine: CatalogEngine,
    },
    /// The Aktenplan (file plan): show it, import a new version
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Akten (files): open, list, show, close (zdA), reopen
    #[command(subcommand)]
    Akte(AkteCommand),
    /// Vorgänge (cases inside an Akte): open, close (zdA), reopen
    #[command(subcommand)]
    Vorgang(VorgangCommand),
    /// Add files as new documents, to an Akte or Vorgang or to the Posteingang
    Add(AddArgs),
    /// Versions of a document
    #[command(subcommand)]
    Version(VersionCommand),
    /// Move a document to another Akte or Vorgang
    Move {
        /// Document id (at least 6 hex digits)
        doc: String,
        /// Aktenzeichen or Vorgangszeichen to move it to
        #[arg(long, value_name = "AZ|VZ")]
        to: String,
        /// Move it even if the same content is already there
        #[arg(long)]
        allow_duplicate: bool,
    },
    /// Show an Akte, Vorgang or document
    Show {
        /// Aktenzeichen, Vorgangszeichen or document id
        id: String,
    },
    /// Write a document's content, verified against its hash
    Get {
        /// Document id (at least 6 hex digits)
        doc: String,
        /// Version number [default: the current one]
        #[arg(long, value_name = "N")]
        version: Option<u32>,
        /// Write to this file instead of standard output
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// The Posteingang: documents waiting to be filed, forwarded or discarded
    #[command(subcommand)]
    Posteingang(PosteingangCommand),
    /// Where a document belongs: ranked suggestions with reasons; the learned model
    #[command(long_about = "\
`akten classify DOC|FILE` ranks plan positions, Akten and Vorgänge for a document of the
store (by id) or a file, with the evidence: a cited Aktenzeichen (\"Ihr Zeichen: ...\"),
the file plan's rules (stichworte, muster, absender) and the model learned from filings
by people. It says what akten would do with it on intake; nothing is changed.
`akten classify train` rebuilds the model; `akten classify evaluate` cross-validates it.")]
    Classify(ClassifyArgs),
    /// The audit history of the store or of one object
    Log {
        /// Aktenzeichen, Vorgangszeichen or document id [default: the whole store]
        object: Option<String>,
        /// Show only the last N events [default: all for an object, 100 for the store]
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Check every blob, the catalog and the audit chain; exit 1 on errors
    Verify,
    /// Remove orphan blobs older than the grace period (akten.toml); compact the catalog
    Gc {
        /// Only list what would be removed
        #[arg(long)]
        dry_run: bool,
    },
    /// Run the engine as a daemon for this store (the main job)
    #[command(long_about = SERVE_ABOUT)]
    Serve,
    /// Full-text search: words (German forms and compounds found), "phrases",
    /// AND/OR/NOT or -word, field:value (title, text, sender, az, vz, kind, channel), prefix*
    Search(SearchArgs),
    /// Documents similar to a given one
    Similar {
        /// Document id (at least 6 hex digits)
        doc: String,
        /// At most this many
        #[arg(long, value_name = "N", default_value_t = 10)]
        limit: usize,
    },
    /// Rebuild the search index from the catalog (after deleting or damaging index/)
    Reindex,
    /// The mailroom: take in the inbox now, list and retry failed files
    #[command(subcommand)]
    Intake(IntakeCommand),
    /// Print a cover sheet (Deckblatt) that routes the pages behind it to an Akte or Vorgang
    #[command(long_about = "\
Writes a one-page A4 PDF with a QR code naming the target. Put the printed sheet on top
of a document before scanning: the mailroom cuts a batch scan at cover sheets, files each
part to its sheet's target and leaves the sheets out. A separator sheet (--separator) only
cuts; the part behind it goes to the station's default target or the Posteingang.")]
    Coversheet(CoversheetArgs),
    /// Read the text of scans that wait for OCR (e.g. once tesseract is installed)
    Ocr {
        /// Every version waiting for OCR, or never read
        #[arg(long, required = true)]
        pending: bool,
        /// Also read again the versions whose extraction failed or was partial
        /// (after raising a limit in akten.toml)
        #[arg(long)]
        failed: bool,
        /// At most this many versions
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Print the text akten read from a document (by extraction or OCR)
    Text {
        /// Document id (at least 6 hex digits)
        doc: String,
        /// Version number [default: the current one]
        #[arg(long, value_name = "N")]
        version: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for (several words: all must match; exclude with NOT word, or quote "antrag -carport")
    #[arg(required = true, value_name = "QUERY")]
    pub query: Vec<String>,
    /// Only in this plan position and the positions below it
    #[arg(long, value_name = "CODE")]
    pub plan: Option<String>,
    /// Only in this Akte (and its Vorgänge)
    #[arg(long, value_name = "AZ")]
    pub akte: Option<String>,
    /// Received on or after, 2026-01-31 or 31.01.2026
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Received on or before
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only from this channel (cli, mailroom, portal, council)
    #[arg(long, value_name = "C")]
    pub channel: Option<String>,
    /// Only this kind of document
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// At most this many hits
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub limit: usize,
    /// Also count the hits per plan position
    #[arg(long)]
    pub facets: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The whole plan, or one position with its parents and children
    Show {
        /// Kennzeichen of a position, e.g. 000 or 110.05
        code: Option<String>,
    },
    /// Import a new plan version (TOML or CSV); positions holding Akten are kept, retired
    Import {
        /// The plan file (.toml, or .csv: Kennzeichen;Titel;Aufbewahrung;Aussonderungsart;...)
        file: PathBuf,
        /// Plan name (CSV files carry none) [default: the file name]
        #[arg(long)]
        name: Option<String>,
        /// Plan version (CSV files carry none) [default: the file's hash]
        #[arg(long = "plan-version", value_name = "VERSION")]
        plan_version: Option<String>,
        /// Only show what would change
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AkteCommand {
    /// Open a new Akte under a Betreffseinheit
    Open {
        /// Kennzeichen of the Betreffseinheit, e.g. 000.01
        code: String,
        #[arg(long)]
        title: String,
    },
    /// List Akten
    List {
        /// Only Akten at or below this plan position
        #[arg(long, value_name = "CODE")]
        plan: Option<String>,
        /// Only open Akten
        #[arg(long, conflicts_with = "closed")]
        open: bool,
        /// Only closed (zdA) Akten
        #[arg(long)]
        closed: bool,
    },
    /// Show an Akte with its Vorgänge and documents
    Show {
        /// Aktenzeichen
        az: String,
    },
    /// Close an Akte (zdA); retention starts
    Close {
        /// Aktenzeichen
        az: String,
        /// Also close its open Vorgänge
        #[arg(long)]
        with_vorgaenge: bool,
    },
    /// Reopen a closed Akte
    Reopen {
        /// Aktenzeichen
        az: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VorgangCommand {
    /// Open a new Vorgang in an Akte
    Open {
        /// Aktenzeichen of the Akte
        az: String,
        #[arg(long)]
        title: String,
    },
    /// Close a Vorgang (zdA)
    Close {
        /// Vorgangszeichen
        vz: String,
    },
    /// Reopen a closed Vorgang (its Akte must be open)
    Reopen {
        /// Vorgangszeichen
        vz: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Add a new version of a document (earlier versions are kept)
    Add {
        /// Document id (at least 6 hex digits)
        doc: String,
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PosteingangCommand {
    /// List the documents in the Posteingang with their suggestions
    List {
        /// Only the items for this organisational unit (short code or name)
        #[arg(long, value_name = "OE")]
        unit: Option<String>,
        /// The discard list instead: discarded items waiting for disposal
        #[arg(long)]
        discarded: bool,
    },
    /// File an item: to an Akte or Vorgang, to the top suggestion, or to a new Akte
    File {
        /// Document id (at least 6 hex digits)
        item: String,
        /// Aktenzeichen or Vorgangszeichen
        #[arg(long, value_name = "AZ|VZ", required_unless_present_any = ["accept", "new_akte"], conflicts_with_all = ["accept", "new_akte"])]
        to: Option<String>,
        /// File it where the top suggestion points
        #[arg(long, conflicts_with = "new_akte")]
        accept: bool,
        /// Open a new Akte at this plan position (Kennzeichen) and file it there
        #[arg(long, value_name = "CODE", requires = "title")]
        new_akte: Option<String>,
        /// Title of the new Akte
        #[arg(long, requires = "new_akte")]
        title: Option<String>,
    },
    /// Send an item on to another office (organisational unit)
    Forward {
        /// Document id (at least 6 hex digits)
        item: String,
        /// Organisational unit (short code or name from the file plan)
        #[arg(long, value_name = "OE")]
        unit: String,
        /// A note for the receiving office
        #[arg(long)]
        note: Option<String>,
    },
    /// Take out an item that belongs nowhere (advert, misdelivered, personal)
    #[command(long_about = "\
Takes an item that belongs in no Akte out of the Posteingang, with the reason, onto the
discard list. It is kept there for discard_keep_days ([classify] in akten.toml, default
90) and then disposed of by `akten posteingang dispose`, which leaves an audit record
of what it was and why it went.")]
    Discard {
        /// Document id (at least 6 hex digits)
        item: String,
        /// Why it belongs nowhere: advert, misdelivered, personal, ...
        #[arg(long)]
        reason: String,
    },
    /// Dispose of discarded items whose keep period has ended (run it daily)
    Dispose {
        /// Show what would be disposed of, change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ClassifyArgs {
    /// Document id (at least 6 hex digits) or a file
    #[arg(value_name = "DOC|FILE", required = true)]
    pub what: Option<String>,
    #[command(subcommand)]
    pub command: Option<ClassifyCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ClassifyCommand {
    /// Rebuild the learned model from every filing by a person
    Train,
    /// Cross-validate the model on labelled documents (JSON lines with title and text)
    #[command(long_about = "\
Cross-validates the learned model on a JSON-lines file whose rows have `title`, `text`
and a label field, e.g. an export of filed documents or the council papers of
../shared/corpus/german-text/karlsruhe-dev.jsonl with --label office. Prints top-1
and top-3 accuracy, and for the threshold the share that would be filed automatically
and the precision of those, with the per-label confusion. Needs no store.")]
    Evaluate {
        /// The JSON-lines file
        file: PathBuf,
        /// The field that holds the label; rows without it are left out
        #[arg(long, default_value = "office")]
        label: String,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Remove each row's own label text from its title and text first
        #[arg(long)]
        mask_label: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Confidence for automatic filing [default: the built-in threshold]
        #[arg(long)]
        threshold: Option<f32>,
        /// Also write the report as Markdown to this file
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Eingang,
    Ausgang,
    Intern,
    Vermerk,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Files to add
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Aktenzeichen or Vorgangszeichen to file them in [default: the Posteingang]
    #[arg(long, value_name = "AZ|VZ")]
    pub to: Option<String>,
    /// Title [default: the file name without extension]
    #[arg(long)]
    pub title: Option<String>,
    /// Kind of document
    #[arg(long, value_enum, default_value = "eingang")]
    pub kind: Kind,
    /// Date of receipt, 2026-12-04 or 04.12.2026 [default: today]
    #[arg(long, value_name = "DATE")]
    pub received: Option<String>,
    /// File it even if the same content is already in the target
    #[arg(long)]
    pub allow_duplicate: bool,
    /// Who wrote it (Absender)
    #[arg(long)]
    pub sender: Option<String>,
    /// The date the document bears (Schreiben vom)
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn add_parses_all_options() {
        let cli = Cli::try_parse_from([
            "akten",
            "--store",
            "/s",
            "add",
            "a.pdf",
            "b.pdf",
            "--to",
            "000.01-0001/2026",
            "--kind",
            "vermerk",
            "--received",
            "04.12.2026",
            "--allow-duplicate",
        ])
        .unwrap();
        let Command::Add(add) = cli.command else { panic!("not add") };
        assert_eq!(add.files.len(), 2);
        assert!(matches!(add.kind, Kind::Vermerk));
        assert!(add.allow_duplicate);
        assert!(Cli::try_parse_from(["akten", "add"]).is_err(), "files are required");
        assert!(Cli::try_parse_from(["akten", "akte", "list", "--open", "--closed"]).is_err());
    }
}
