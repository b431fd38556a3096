//! The `akten` command.
//!
//! Parses arguments ([`cli::args`]), turns them into one engine
//! [`Request`], runs it on the store, and prints the [`Response`] as text
//! ([`cli::render`]) or JSON. No operation is implemented here.
//!
//! The audit actor is the OS user running the process; there is no option
//! to claim another identity.
//!
//! Where `akten serve` holds the store (`<store>/serve.json`), every command
//! but `init` and `serve` is sent to it ([`cli::remote`]) and its answer
//! printed the same way; where the file is stale, the command runs embedded.
//!
//! Exit codes: 0 ok, 1 findings or partial failure, 2 usage or fatal error.

mod cli;

use std::cell::Cell;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use akten::engine::{
    AddOutcome, Engine, FileChoice, PlanSource, Progress, Request, Response, SearchRequest, StateFilter,
};
use akten::model::{Actor, BlobId, DocKind};
use anyhow::{Context, bail};
use clap::Parser;

use akten::store::Config;

use crate::cli::args::{
    AkteCommand, ClassifyCommand, Cli, Command, IntakeCommand, Kind, PlanCommand, PosteingangCommand, VersionCommand,
    VorgangCommand,
};

const STORE_ENV: &str = "AKTEN_STORE";
/// How often `akten serve` disposes of discarded items whose time has come.
const DISPOSAL_EVERY: Duration = Duration::from_secs(3600);
const DEFAULT_STORE: &str = "akten-data";

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == akten::extract::worker::WORKER_ARG) {
        // The extraction worker (see src/extract/worker.rs), not a user command.
        return match akten::extract::worker::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(1),
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            if json {
                let body = serde_json::json!({ "error": { "message": format!("{err:#}") } });
                let _ = writeln!(io::stdout(), "{body}");
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Where the store is, and how we learned it.
enum StoreLocation {
    Given(PathBuf),
    Default(PathBuf),
}

impl StoreLocation {
    fn find(flag: Option<PathBuf>) -> StoreLocation {
        if let Some(path) = flag {
            return StoreLocation::Given(path);
        }
        match std::env::var_os(STORE_ENV) {
            Some(path) if !path.is_empty() => StoreLocation::Given(PathBuf::from(path)),
            _ => StoreLocation::Default(PathBuf::from(DEFAULT_STORE)),
        }
    }

    fn path(&self) -> &Path {
        match self {
            StoreLocation::Given(p) | StoreLocation::Default(p) => p,
        }
    }
}

/// Draws progress of long operations on stderr, when it is a terminal.
struct TerminalProgress {
    last: Cell<Option<Instant>>,
}

impl Progress for TerminalProgress {
    fn report(&self, what: &str, done: u64, total: u64) {
        let now = Instant::now();
        if done >= total {
            if self.last.get().is_some() {
                eprint!("\r\x1b[K");
                self.last.set(None);
            }
            return;
        }
        if self.last.get().is_some_and(|t| now.duration_since(t) < Duration::from_millis(200)) {
            return;
        }
        self.last.set(Some(now));
        eprint!("\r\x1b[K{what}: {done}/{total}");
    }
}

fn command_line() -> String {
    let line = std::env::args().collect::<Vec<_>>().join(" ");
    line.chars().take(200).collect()
}

fn open_engine(location: &StoreLocation, create_default: bool, actor: &Actor) -> anyhow::Result<Engine> {
    let mut engine = open_engine_quiet(location, create_default, actor)?;
    if io::stderr().is_terminal() {
        engine.set_progress(Box::new(TerminalProgress { last: Cell::new(None) }));
    }
    Ok(engine)
}

/// [`open_engine`] without progress on the terminal.
fn open_engine_quiet(location: &StoreLocation, create_default: bool, actor: &Actor) -> anyhow::Result<Engine> {
    let path = location.path();
    let engine = match location {
        StoreLocation::Default(p) if create_default && !p.exists() => {
            let (engine, report) = Engine::init(p, PlanSource::Bundled, Config::new(), actor, &command_line())?;
            eprintln!(
                "created a new store at {} with the bundled Aktenplan ({} Betreffseinheiten)",
                report.store.display(),
                report.betreffseinheiten
            );
            engine
        }
        _ => Engine::open(path, &command_line())?,
    };
    Ok(engine)
}

/// Where a request runs.
enum Route {
    /// `akten serve` ran it.
    Answered(Box<Response>),
    /// Run it embedded; `stopping` is the pid of a server that refused the
    /// connection while alive (it is shutting down): its lock is waited for.
    Embedded { stopping: Option<u32> },
}

/// Sends `request` to the `akten serve` holding the store, if one runs.
fn forward(location: &StoreLocation, request: &Request, actor: &Actor) -> anyhow::Result<Route> {
    match cli::remote::forward(location.path(), request, actor)? {
        cli::remote::Forwarded::NotRunning => Ok(Route::Embedded { stopping: None }),
        cli::remote::Forwarded::Stopping { pid } => Ok(Route::Embedded { stopping: Some(pid) }),
        cli::remote::Forwarded::Answered(response) => Ok(Route::Answered(response)),
        // Printed exactly as the same error from an embedded engine.
        cli::remote::Forwarded::Refused(message) => Err(anyhow::Error::msg(message)),
    }
}

/// How long `akten serve` waits at start for a store another process holds.
const SERVE_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Who holds the store, where `err` says it is locked.
fn lock_holder(err: &anyhow::Error) -> Option<&str> {
    match err.downcast_ref::<akten::engine::Error>() {
        Some(akten::engine::Error::Store(akten::store::StoreError::Locked { holder, .. })) => Some(holder),
        _ => None,
    }
}

/// The holder (as the lock describes it) is an `akten serve`.
fn is_server(holder: &str) -> bool {
    holder.split(',').next().is_some_and(|command| command.trim_end_matches(')').ends_with(" serve"))
}

/// How long the holder has held the lock, from its record.
fn held_for(holder: &str) -> Option<Duration> {
    let since = holder.split("since ").nth(1)?.trim_end_matches(')');
    let since: jiff::Timestamp = since.parse().ok()?;
    let age = jiff::Timestamp::now().duration_since(since);
    Duration::try_from(age).ok()
}

/// Where a request is carried out.
enum Target {
    /// `akten serve` answered it.
    Remote(Box<Response>),
    /// No server: an engine opened here runs it.
    Local(Box<Engine>),
}

/// How long after taking the lock an `akten serve` without serve.json is
/// taken to be starting (opening the store, catching up the index), and
/// how long a command waits for a server that is starting or stopping.
const SERVER_WAIT: Duration = Duration::from_secs(10);

/// Sends `request` to the server holding the store, or opens the store here.
/// While a server is starting (no serve.json yet) or stopping (it refused
/// the connection, but lives), its lock is waited for; any other holder
/// gets the usual "in use" error at once.
fn reach(location: &StoreLocation, request: &Request, actor: &Actor, create_default: bool) -> anyhow::Result<Target> {
    let deadline = Instant::now() + SERVER_WAIT + SERVER_WAIT;
    loop {
        let stopping = match forward(location, request, actor)? {
            Route::Answered(response) => return Ok(Target::Remote(response)),
            Route::Embedded { stopping } => stopping,
        };
        match open_engine(location, create_default, actor) {
            Err(e) if Instant::now() < deadline && held_by_passing_server(&e, stopping) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            result => return result.map(|e| Target::Local(Box::new(e))),
        }
    }
}

/// The store is locked by a server on its way in or out: `stopping` (alive,
/// refusing connections), an `akten serve` that took the lock a moment ago
/// and has no serve.json yet, or a process that has not yet written who it is.
fn held_by_passing_server(err: &anyhow::Error, stopping: Option<u32>) -> bool {
    lock_holder(err).is_some_and(|holder| {
        stopping.is_some_and(cli::remote::process_alive)
            || holder == akten::store::UNKNOWN_HOLDER
            || (is_server(holder) && held_for(holder).is_some_and(|age| age < SERVER_WAIT))
    })
}

/// `akten serve`: holds the store and answers until stopped.
fn serve(location: &StoreLocation, actor: &Actor) -> anyhow::Result<ExitCode> {
    // A command a clerk runs at this moment holds the store for a second:
    // wait for it rather than fail the service.
    let deadline = Instant::now() + SERVE_LOCK_WAIT;
    let mut told = false;
    let engine = loop {
        match open_engine_quiet(location, true, actor) {
            // Another server is refused at once; a command is waited for.
            Err(e) if Instant::now() < deadline && lock_holder(&e).is_some_and(|h| !is_server(h)) => {
                if !told {
                    eprintln!("akten serve: {e:#}; waiting up to {} s", SERVE_LOCK_WAIT.as_secs());
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            result => break result?,
        }
    };
    let options = akten::server::ServeOptions::from_config(engine.config());
    let options_time_zone = engine.config().calendar.time_zone.clone();
    let server = akten::server::Server::bind(engine, &options)?;
    emit(&format!(
        "akten serve: store {}, listening on {} (pid {}); stop with Ctrl-C or SIGTERM\n",
        server.store().display(),
        server.address(),
        std::process::id()
    ))?;
    // The mailroom runs beside the HTTP API; each file holds the engine only
    // while it is taken in, and a stop is noticed between files.
    let calendar = akten::calendar::Calendar::new(&options_time_zone).context("the configured time zone")?;
    let mailroom: akten::server::Background = Box::new(move |engine, stop| {
        std::thread::spawn(move || {
            let log = move |line: &str| {
                println!("{} {line}", calendar.display(jiff::Timestamp::now()));
            };
            let mut mailroom = akten::intake::mailroom::Mailroom::new(engine, Box::new(log));
            mailroom.run(&|| stop.is_stopped(), false);
        })
    });
    // Discarded Posteingang items are disposed of when their keep period has
    // ended: checked at start and then every hour.
    let calendar = akten::calendar::Calendar::new(&options_time_zone).context("the configured time zone")?;
    let disposal: akten::server::Background = Box::new(move |engine, stop| {
        std::thread::spawn(move || {
            let system = Actor::new("akten (disposal)");
            loop {
                let outcome = engine
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .handle(Request::PosteingangDispose { dry_run: false }, &system);
                let now = calendar.display(jiff::Timestamp::now());
                match outcome {
                    Ok(Response::PosteingangDisposed(r)) => {
                        for d in &r.disposed {
                            println!(
                                "{now} disposal: {} \"{}\" ({}), discarded {}",
                                d.doc.short(),
                                d.title,
                                d.reason,
                                calendar.display(d.discarded_at)
                            );
                        }
                    }
                    Ok(_) => {}
                    Err(e) => println!("{now} disposal: {e}; tried again in an hour"),
                }
                if stop.wait_timeout(DISPOSAL_EVERY) {
                    break;
                }
            }
        })
    });
    server.run(vec![mailroom, disposal])?;
    Ok(ExitCode::SUCCESS)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let actor = Actor::new(akten::store::current_os_user());
    let location = StoreLocation::find(cli.store);
    let json = cli.json;

    let request = match cli.command {
        Command::Init { dir, plan, catalog_engine } => {
            let dir = dir.unwrap_or_else(|| location.path().to_path_buf());
            let source = plan.map(PlanSource::File).unwrap_or(PlanSource::Bundled);
            let mut config = Config::new();
            config.catalog.engine = catalog_engine;
            let (_engine, report) = Engine::init(&dir, source, config, &actor, &command_line())?;
            let response = Response::Initialized(report);
            print_response(&response, json)?;
            if !json {
                emit(
                    "next: open an Akte with `akten akte open CODE --title TITLE` (see `akten plan show` for codes)\n",
                )?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Plan(PlanCommand::Show { code }) => Request::PlanShow { code },
        Command::Plan(PlanCommand::Import { file, name, plan_version, dry_run }) => {
            Request::PlanImport { file, name, version: plan_version, dry_run }
        }
        Command::Akte(AkteCommand::Open { code, title }) => Request::AkteOpen { position: code, title },
        Command::Akte(AkteCommand::List { plan, open, closed }) => {
            let state = if open {
                StateFilter::Open
            } else if closed {
                StateFilter::Closed
            } else {
                StateFilter::All
            };
            Request::AkteList { position: plan, state }
        }
        Command::Akte(AkteCommand::Show { az }) => Request::AkteShow { aktenzeichen: az },
        Command::Akte(AkteCommand::Close { az, with_vorgaenge }) => {
            Request::AkteClose { aktenzeichen: az, with_vorgaenge }
        }
        Command::Akte(AkteCommand::Reopen { az }) => Request::AkteReopen { aktenzeichen: az },
        Command::Vorgang(VorgangCommand::Open { az, title }) => Request::VorgangOpen { aktenzeichen: az, title },
        Command::Vorgang(VorgangCommand::Close { vz }) => Request::VorgangClose { vorgangszeichen: vz },
        Command::Vorgang(VorgangCommand::Reopen { vz }) => Request::VorgangReopen { vorgangszeichen: vz },
        Command::Add(add) => {
            let received = match add.received {
                None => None,
                Some(text) => Some(akten::calendar::Calendar::parse_date(&text)?),
            };
            Request::Add {
                files: add.files,
                target: add.to,
                title: add.title,
                kind: doc_kind(add.kind),
                received,
                allow_duplicate: add.allow_duplicate,
                sender: add.sender,
                date: add.date.as_deref().map(akten::calendar::Calendar::parse_date).transpose()?,
            }
        }
        Command::Search(args) => Request::Search(SearchRequest {
            query: args.query.join(" "),
            plan: args.plan,
            akte: args.akte,
            from: args.from.as_deref().map(akten::calendar::Calendar::parse_date).transpose()?,
            to: args.to.as_deref().map(akten::calendar::Calendar::parse_date).transpose()?,
            channel: args.channel,
            kind: args.kind.map(doc_kind),
            limit: Some(args.limit),
            facets: args.facets,
        }),
        Command::Similar { doc, limit } => Request::Similar { doc, limit },
        Command::Reindex => Request::Reindex,
        Command::Intake(IntakeCommand::Failed) => Request::IntakeFailed,
        Command::Intake(IntakeCommand::Retry { name }) => Request::IntakeRetry { name },
        Command::Intake(IntakeCommand::Run) => {
            let engine = open_engine(&location, true, &actor)?;
            return intake_run(engine);
        }
        Command::Coversheet(args) => {
            let request = Request::CoverSheet {
                akte: args.akte,
                vorgang: args.vorgang,
                kind: args.kind.map(doc_kind),
                received: args.received.as_deref().map(akten::calendar::Calendar::parse_date).transpose()?,
            };
            let response = match reach(&location, &request, &actor, false)? {
                Target::Remote(response) => *response,
                Target::Local(mut engine) => engine.handle(request, &actor)?,
            };
            return write_cover_sheet(&response, &args.output, json);
        }
        Command::Ocr { pending: _, failed, limit } => Request::OcrPending { limit, failed },
        Command::Text { doc, version } => Request::Text { doc, version },
        Command::Version(VersionCommand::Add { doc, file }) => Request::VersionAdd { doc, file },
        Command::Move { doc, to, allow_duplicate } => Request::Move { doc, target: to, allow_duplicate },
        Command::Show { id } => Request::Show { id },
        Command::Get { doc, version, output } => {
            let request = Request::Get { doc, version };
            match reach(&location, &request, &actor, false)? {
                Target::Remote(response) => {
                    // Blobs are write-once and content-addressed: safe to
                    // read without the lock the server holds.
                    let blobs = akten::blobs::BlobStore::open(&location.path().join("blobs"));
                    return get(&response, &|blob, out| Ok(blobs.copy_verified(blob, out)?), output, json);
                }
                Target::Local(mut engine) => {
                    let response = engine.handle(request, &actor)?;
                    return get(&response, &|blob, out| Ok(engine.read_verified(blob, out)?), output, json);
                }
            }
        }
        Command::Serve => return serve(&location, &actor),
        Command::Posteingang(PosteingangCommand::List { unit, discarded }) => {
            Request::PosteingangList { unit, discarded }
        }
        Command::Posteingang(PosteingangCommand::File { item, to, accept, new_akte, title }) => {
            let choice = match (to, new_akte) {
                (Some(target), _) => FileChoice::To { target },
                (None, Some(position)) => FileChoice::NewAkte { position, title: title.unwrap_or_default() },
                (None, None) if accept => FileChoice::Accept,
                (None, None) => bail!("say where it goes: --to AZ|VZ, --accept or --new-akte CODE --title T"),
            };
            Request::PosteingangFile { item, choice }
        }
        Command::Posteingang(PosteingangCommand::Forward { item, unit, note }) => {
            Request::PosteingangForward { item, unit, note }
        }
        Command::Posteingang(PosteingangCommand::Discard { item, reason }) => {
            Request::PosteingangDiscard { item, reason }
        }
        Command::Posteingang(PosteingangCommand::Dispose { dry_run }) => Request::PosteingangDispose { dry_run },
        Command::Classify(args) => match (args.command, args.what) {
            (Some(ClassifyCommand::Train), _) => Request::ClassifyTrain,
            (Some(ClassifyCommand::Evaluate { file, label, folds, mask_label, seed, threshold, markdown }), _) => {
                return evaluate(&file, &label, folds, mask_label, seed, threshold, markdown.as_deref(), json);
            }
            (None, Some(what)) => {
                // A path that exists is a file; anything else a document id.
                if Path::new(&what).exists() {
                    Request::Classify { doc: None, file: Some(PathBuf::from(what)) }
                } else {
                    Request::Classify { doc: Some(what), file: None }
                }
            }
            (None, None) => bail!("give a document id or a file to classify"),
        },
        Command::Log { object, limit } => {
            let limit = limit.or(if object.is_none() { Some(100) } else { None });
            Request::Log { object, limit }
        }
        Command::Verify => Request::Verify,
        Command::Gc { dry_run } => Request::Gc { dry_run },
    };

    // Adding documents is the main job: it alone creates the default store
    // when none exists yet.
    let create_default = matches!(request, Request::Add { .. });
    let response = match reach(&location, &request, &actor, create_default)? {
        Target::Remote(response) => *response,
        Target::Local(mut engine) => engine.handle(request, &actor)?,
    };
    print_response(&response, json)?;
    Ok(ExitCode::from(exit_code(&response)))
}

fn doc_kind(kind: Kind) -> DocKind {
    match kind {
        Kind::Eingang => DocKind::Eingang,
        Kind::Ausgang => DocKind::Ausgang,
        Kind::Intern => DocKind::Intern,
        Kind::Vermerk => DocKind::Vermerk,
    }
}

/// 1 where the operation found problems or did only part of its work.
fn exit_code(response: &Response) -> u8 {
    match response {
        Response::Added(report) => u8::from(report.results.iter().any(|r| !matches!(r, AddOutcome::Added { .. }))),
        Response::Verified(report) => u8::from(report.errors() > 0),
        _ => 0,
    }
}

/// `akten classify evaluate`: cross-validation of the learned model on a
/// labelled JSON-lines file; needs no store.
#[allow(clippy::too_many_arguments, reason = "the options of one command")]
fn evaluate(
    file: &Path,
    label: &str,
    folds: usize,
    mask: bool,
    seed: u64,
    threshold: Option<f32>,
    markdown: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use akten::classify::evaluate;
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot be read as UTF-8 text: give a JSON-lines file", file.display()))?;
    let mut rows = evaluate::rows_from_jsonl(&text, label).with_context(|| file.display().to_string())?;
    if mask {
        evaluate::mask_labels(&mut rows);
    }
    let options =
        evaluate::Options { folds, seed, threshold: threshold.unwrap_or(akten::classify::model::DEFAULT_THRESHOLD) };
    let interactive = io::stderr().is_terminal();
    let started = Instant::now();
    let report = evaluate::cross_validate(&rows, &options, &mut |done, total| {
        if interactive {
            eprint!("\rfold {done}/{total} ({:.0} s)", started.elapsed().as_secs_f64());
            if done == total {
                eprintln!();
            }
        }
    })?;
    if let Some(path) = markdown {
        std::fs::write(path, report.to_markdown()).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        emit(&(serde_json::to_string_pretty(&report).context("serialising the report")? + "\n"))?;
    } else {
        emit(&format!("{report}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_response(response: &Response, json: bool) -> anyhow::Result<()> {
    if json {
        let mut text = serde_json::to_string_pretty(response).context("serialising the response")?;
        text.push('\n');
        emit(&text)
    } else {
        emit(&cli::render::render(response))
    }
}

fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes()).context("writing to standard output")?;
    stdout.flush().context("writing to standard output")?;
    Ok(())
}

/// Copies a blob's bytes out verified (from the engine, or from the blob
/// directory directly when `akten serve` holds the store).
type ReadBlob<'a> = dyn Fn(&BlobId, &mut dyn Write) -> anyhow::Result<u64> + 'a;

/// `akten get`: the engine says where the content is; the bytes are copied
/// out verified, to a file (through a temporary name, renamed only once the
/// hash matched) or to standard output (verified in a first pass, so no
/// unverified byte is ever printed).
fn get(response: &Response, read: &ReadBlob, output: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let Response::Content(info) = response else { bail!("unexpected response to get") };
    let blob = info.version.blob;
    match output {
        Some(path) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let file_name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
            let temp = dir.join(format!(".{}.akten-{}.tmp", file_name.to_string_lossy(), std::process::id()));
            let result = (|| -> anyhow::Result<u64> {
                let mut file = std::fs::File::create_new(&temp).with_context(|| {
                    format!("cannot create {}: check the directory exists and is writable", temp.display())
                })?;
                let written = read(&blob, &mut file)?;
                file.sync_all().with_context(|| format!("writing {}", temp.display()))?;
                std::fs::rename(&temp, &path).with_context(|| format!("cannot write {}", path.display()))?;
                Ok(written)
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            let written = result?;
            if json {
                print_response(response, true)?;
            } else {
                emit(&format!(
                    "wrote {} ({} bytes, version {} of {}, blake3 verified)\n",
                    path.display(),
                    written,
                    info.version.number,
                    info.doc.short()
                ))?;
            }
        }
        None => {
            if json {
                bail!("--json describes the content only together with -o PATH, which receives the bytes");
            }
            if io::stdout().is_terminal() && !info.version.media_type.starts_with("text/") {
                bail!(
                    "{} is {}, not text: give -o PATH, or redirect standard output to a file",
                    info.version.file_name,
                    info.version.media_type
                );
            }
            read(&blob, &mut io::sink())?;
            let mut stdout = io::stdout().lock();
            read(&blob, &mut stdout)?;
            stdout.flush().context("writing to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `akten intake run`: the mailroom in the foreground until the folders
/// hold nothing more to take.
fn intake_run(engine: Engine) -> anyhow::Result<ExitCode> {
    let engine = std::sync::Arc::new(std::sync::Mutex::new(engine));
    let mut mailroom = akten::intake::mailroom::Mailroom::new(engine, Box::new(|line| println!("{line}")));
    mailroom.run(&|| false, true);
    Ok(ExitCode::SUCCESS)
}

/// `akten coversheet`: the engine checks the target; the sheet is drawn here
/// and written through a temporary name.
fn write_cover_sheet(response: &Response, output: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let Response::CoverSheet(spec) = response else { bail!("unexpected response to coversheet") };
    let target = akten::coversheet::parse(&spec.payload).context("the engine made an unreadable cover sheet")?;
    let pdf = akten::coversheet::render_pdf(&akten::coversheet::CoverSheetPrint {
        target,
        akte_title: spec.akte_title.clone(),
        vorgang_title: spec.vorgang_title.clone(),
        position: spec.position.clone(),
    })?;
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = output.file_name().with_context(|| format!("{}: not a file name", output.display()))?;
    let temp = dir.join(format!(".{}.akten-{}.tmp", name.to_string_lossy(), std::process::id()));
    std::fs::write(&temp, &pdf)
        .and_then(|()| std::fs::rename(&temp, output))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
        .with_context(|| format!("cannot write {}: check the directory exists and is writable", output.display()))?;
    if json {
        print_response(response, true)?;
    } else {
        let what = match akten::coversheet::parse(&spec.payload) {
            Ok(akten::coversheet::CoverTarget::Target { akte, vorgang: Some(vz), .. }) => format!(
                "cover sheet for Vorgang {vz} \"{}\" in Akte {akte}",
                spec.vorgang_title.as_deref().unwrap_or_default()
            ),
            Ok(akten::coversheet::CoverTarget::Target { akte, .. }) => {
                format!("cover sheet for Akte {akte} \"{}\"", spec.akte_title.as_deref().unwrap_or_default())
            }
            _ => "separator sheet".to_string(),
        };
        emit(&format!(
            "wrote {}: {what}; print it at 100 % and put it on top of the document before scanning\n",
            output.display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
