//! The engine: the one API every front end uses.
//!
//! A front end (the CLI now; the daemon and HTTP API later) turns user input
//! into a [`Request`], calls [`Engine::handle`] with the authenticated
//! [`Actor`], and presents the [`Response`]. Requests and responses are serde
//! types, so the same values can cross a process boundary unchanged; no
//! operation is implemented anywhere else.
//!
//! Commit protocol, for every mutating operation:
//! 1. validate the request against the catalog (nothing written yet);
//! 2. stream new content into staged blobs ([`BlobStore::stage`]);
//! 3. make those blobs durable ([`BlobStore::make_durable`]: fsync, rename,
//!    fsync directory), and read their text in the extraction worker
//!    ([`crate::extract`]);
//! 4. write all records, their text and their audit events into one catalog
//!    batch and commit it ([`crate::catalog::Txn::commit`]: apply
//!    atomically, flush);
//! 5. bring the search index up to the catalog's change log (`search.rs`);
//! 6. only then answer.
//!
//! A crash before step 4 completes leaves at most orphan blobs (reported by
//! `verify`, removed by `gc`); a crash after it leaves the whole operation,
//! and the index catches up on the next request.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, ChainHead, Change, NewEvent, ObjectKind, ObjectRef};
use crate::blobs::{BlobError, BlobStore, Staged};
use crate::calendar::Calendar;
use crate::catalog::{Catalog, CatalogError, PlanRecord};
use crate::extract::Extractor;
use crate::index::SearchIndex;
use crate::model::{
    Actor, Akte, AkteId, Aktenzeichen, AzTemplate, BlobId, Disposal, DocId, DocKind, Dokument, Kennzeichen, Location,
    OrgUnit, Retention, Version, Vorgang, VorgangId, Zda,
};
use crate::plan::{Plan, PlanChanges, PlanConflict, PlanErrors};
use crate::store::{Config, Store, StoreError};
use crate::verify::{self, GcReport, VerifyReport};

mod classify;
mod intake;
mod search;

pub use classify::{ClassifyReport, DisposeReport, DisposedItem, FileChoice, FiledReport, PostEntry, TrainReport};
pub use intake::{CoverSheetSpec, FailedFile, IntakeDoc, IntakeOutcome, Prepare, Prepared};
pub use search::{
    FacetCount, OcrReport, ReindexReport, SearchHit, SearchReport, SearchRequest, SimilarReport, TextView,
};

/// The plan a new store starts with: `aktenplan/aktenplan.toml`.
pub const BUNDLED_PLAN: &str = include_str!("../aktenplan/aktenplan.toml");
pub const BUNDLED_PLAN_NAME: &str = "aktenplan/aktenplan.toml";

/// At most this many files, and [`ADD_BATCH_BYTES`], go into one catalog
/// commit of `add`: a crash loses at most one batch, which a rerun adds
/// again. Larger batches mean fewer fsync rounds (docs/benchmarks.md).
pub const ADD_BATCH: usize = 256;
pub const ADD_BATCH_BYTES: u64 = 256 * 1024 * 1024;

/// Shortest document id prefix accepted in place of the full UUID.
pub const MIN_ID_PREFIX: usize = 6;

/// One operation, as a front end asks for it. References (Aktenzeichen,
/// Vorgangszeichen, document ids) are passed as typed by the user and
/// resolved by the engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The whole plan, or one position with its children.
    PlanShow {
        code: Option<String>,
    },
    /// Import a new plan version from a TOML or CSV file.
    PlanImport {
        file: PathBuf,
        name: Option<String>,
        version: Option<String>,
        dry_run: bool,
    },
    AkteOpen {
        position: String,
        title: String,
    },
    AkteList {
        position: Option<String>,
        state: StateFilter,
    },
    AkteShow {
        aktenzeichen: String,
    },
    AkteClose {
        aktenzeichen: String,
        with_vorgaenge: bool,
    },
    AkteReopen {
        aktenzeichen: String,
    },
    VorgangOpen {
        aktenzeichen: String,
        title: String,
    },
    VorgangClose {
        vorgangszeichen: String,
    },
    VorgangReopen {
        vorgangszeichen: String,
    },
    /// Add files as new documents; without a target they go to the Posteingang.
    Add {
        files: Vec<PathBuf>,
        target: Option<String>,
        title: Option<String>,
        kind: DocKind,
        received: Option<Date>,
        allow_duplicate: bool,
        /// Who wrote it (Absender).
        #[serde(default)]
        sender: Option<String>,
        /// The date it bears (Schreiben vom).
        #[serde(default)]
        date: Option<Date>,
    },
    VersionAdd {
        doc: String,
        file: PathBuf,
    },
    Move {
        doc: String,
        target: String,
        allow_duplicate: bool,
    },
    /// An Akte, Vorgang or Dokument by Aktenzeichen, Vorgangszeichen or id.
    Show {
        id: String,
    },
    /// Where a document version's content is; read it with [`Engine::read_verified`].
    Get {
        doc: String,
        version: Option<u32>,
    },
    /// The Posteingang (or, with `discarded`, the discard list), optionally
    /// only the items for one organisational unit.
    PosteingangList {
        #[serde(default)]
        unit: Option<String>,
        #[serde(default)]
        discarded: bool,
    },
    /// A person files a Posteingang item.
    PosteingangFile {
        item: String,
        choice: classify::FileChoice,
    },
    /// Sends an item to another office's Posteingang.
    PosteingangForward {
        item: String,
        unit: String,
        #[serde(default)]
        note: Option<String>,
    },
    /// Takes an item that belongs nowhere out, onto the discard list.
    PosteingangDiscard {
        item: String,
        reason: String,
    },
    /// Disposes of discarded items whose keep period has ended.
    PosteingangDispose {
        #[serde(default)]
        dry_run: bool,
    },
    /// Ranks where a document (in the store, or a file) belongs.
    Classify {
        #[serde(default)]
        doc: Option<String>,
        #[serde(default)]
        file: Option<PathBuf>,
    },
    /// Rebuilds the learned model from the human-confirmed filings.
    ClassifyTrain,
    Log {
        object: Option<String>,
        limit: Option<usize>,
    },
    Verify,
    Gc {
        dry_run: bool,
    },
    /// Full-text search (see [`crate::index`]).
    Search(SearchRequest),
    /// Documents like a given one.
    Similar {
        doc: String,
        limit: usize,
    },
    /// Rebuilds the search index from the catalog.
    Reindex,
    /// Reads the text of versions that wait for OCR (or were never read).
    OcrPending {
        limit: Option<usize>,
        /// Also versions whose extraction failed (after raising a limit).
        #[serde(default)]
        failed: bool,
    },
    /// The stored text of a document version.
    Text {
        doc: String,
        version: Option<u32>,
    },
    /// The files in `<store>/failed/`, with why.
    IntakeFailed,
    /// Puts a file from failed/ back into the folder it came from.
    IntakeRetry {
        name: String,
    },
    /// A cover sheet for an Akte or Vorgang, or (neither given) a separator.
    CoverSheet {
        akte: Option<String>,
        vorgang: Option<String>,
        kind: Option<DocKind>,
        received: Option<Date>,
    },
}

/// Which Akten `akte list` shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateFilter {
    #[default]
    All,
    Open,
    Closed,
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    Initialized(InitReport),
    Plan(PlanView),
    Position(PositionView),
    PlanImported(PlanImportReport),
    AkteOpened(AkteSummary),
    AkteList {
        akten: Vec<AkteSummary>,
    },
    Akte(AkteView),
    AkteClosed {
        akte: AkteSummary,
        vorgaenge_closed: Vec<VorgangSummary>,
    },
    AkteReopened {
        akte: AkteSummary,
    },
    VorgangOpened(VorgangSummary),
    Vorgang(VorgangView),
    VorgangClosed(VorgangSummary),
    VorgangReopened(VorgangSummary),
    Added(AddReport),
    VersionAdded {
        doc: DocSummary,
        version: Version,
        location: Place,
    },
    Moved {
        doc: DocSummary,
        from: Place,
        to: Place,
    },
    Dokument(DocView),
    Content(ContentInfo),
    Posteingang {
        documents: Vec<classify::PostEntry>,
        #[serde(default)]
        discarded: bool,
    },
    PosteingangFiled(classify::FiledReport),
    PosteingangForwarded {
        doc: DocSummary,
        from: Option<OrgUnit>,
        to: OrgUnit,
        unit_name: Option<String>,
    },
    PosteingangDiscarded {
        doc: DocSummary,
        reason: String,
        dispose_from: Date,
    },
    PosteingangDisposed(classify::DisposeReport),
    Classified(classify::ClassifyReport),
    Trained(classify::TrainReport),
    Log(LogView),
    Verified(VerifyReport),
    Collected(GcReport),
    Search(SearchReport),
    Similar(SimilarReport),
    Reindexed(ReindexReport),
    OcrDone(OcrReport),
    Text(TextView),
    IntakeFailed {
        files: Vec<FailedFile>,
    },
    IntakeRetried {
        name: String,
        to: PathBuf,
    },
    CoverSheet(CoverSheetSpec),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InitReport {
    pub store: PathBuf,
    pub catalog_engine: crate::catalog::CatalogEngine,
    pub plan_name: String,
    pub plan_version: String,
    pub plan_file: String,
    pub positions: usize,
    pub betreffseinheiten: usize,
    pub chain_head: ChainHead,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PositionSummary {
    pub kennzeichen: Kennzeichen,
    pub title: String,
    pub level: String,
    pub retention: Retention,
    pub disposal: Disposal,
    pub unit: Option<OrgUnit>,
    pub retired: bool,
    pub akten: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanView {
    pub name: String,
    pub version: String,
    pub valid_from: Option<Date>,
    pub betreffseinheiten: usize,
    pub positions: Vec<PositionSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PositionView {
    pub position: crate::plan::Position,
    pub level: String,
    pub unit_name: Option<String>,
    pub lineage: Vec<PositionSummary>,
    pub children: Vec<PositionSummary>,
    pub akten: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanImportReport {
    pub file: PathBuf,
    pub name: String,
    pub version: String,
    pub previous_version: String,
    pub dry_run: bool,
    pub betreffseinheiten: usize,
    pub changes: PlanChanges,
}

/// An Akte as lists show it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AkteSummary {
    pub id: AkteId,
    pub aktenzeichen: Aktenzeichen,
    pub title: String,
    pub position: Kennzeichen,
    pub position_title: String,
    pub unit: OrgUnit,
    pub unit_name: Option<String>,
    pub opened_on: Date,
    pub retention: Retention,
    pub disposal: Disposal,
    pub zda: Option<Zda>,
    pub vorgaenge: usize,
    pub documents: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AkteView {
    pub akte: AkteSummary,
    pub vorgaenge: Vec<VorgangSummary>,
    pub documents: Vec<DocSummary>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VorgangSummary {
    pub id: VorgangId,
    pub vorgangszeichen: crate::model::Vorgangszeichen,
    pub title: String,
    pub akte: Aktenzeichen,
    pub opened_on: Date,
    pub retention: Retention,
    pub zda: Option<Zda>,
    pub documents: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VorgangView {
    pub vorgang: VorgangSummary,
    pub akte_title: String,
    pub documents: Vec<DocSummary>,
}

/// A document as lists show it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocSummary {
    pub id: DocId,
    pub title: String,
    pub kind: DocKind,
    pub received: Date,
    pub versions: u32,
    pub file_name: String,
    pub media_type: String,
    pub size: u64,
    pub blob: BlobId,
    /// What text extraction got from the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<crate::model::TextInfo>,
}

/// Where a document is, with the human keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Place {
    Posteingang,
    /// The discard list: taken out of the Posteingang, waiting for disposal.
    Discarded,
    Akte {
        aktenzeichen: Aktenzeichen,
        title: String,
    },
    Vorgang {
        vorgangszeichen: crate::model::Vorgangszeichen,
        title: String,
    },
}

impl Place {
    /// `Akte 000.01-0001/2026`, `Vorgang ...-1`, `Posteingang`.
    pub fn label(&self) -> String {
        match self {
            Place::Posteingang => "Posteingang".to_string(),
            Place::Discarded => "discard list".to_string(),
            Place::Akte { aktenzeichen, .. } => format!("Akte {aktenzeichen}"),
            Place::Vorgang { vorgangszeichen, .. } => format!("Vorgang {vorgangszeichen}"),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocView {
    pub doc: Dokument,
    pub place: Place,
    /// Other documents with the same current content, and where they are.
    pub same_content: Vec<(DocId, Place)>,
    pub created_local: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContentInfo {
    pub doc: DocId,
    pub title: String,
    pub version: Version,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AddReport {
    pub results: Vec<AddOutcome>,
}

impl AddReport {
    pub fn added(&self) -> usize {
        self.results.iter().filter(|r| matches!(r, AddOutcome::Added { .. })).count()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AddOutcome {
    Added {
        file: PathBuf,
        doc: Box<DocSummary>,
        place: Place,
        /// How akten decided the place, when it filed it on its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filing: Option<crate::model::Filing>,
        /// The same bytes are also filed here (the blob is shared).
        also_filed: Vec<(DocId, Place)>,
    },
    /// Refused: the same bytes are already in the target.
    Duplicate {
        file: PathBuf,
        existing: DocId,
        existing_title: String,
        place: Place,
    },
    Failed {
        file: PathBuf,
        error: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    pub local_time: String,
    pub event: AuditEvent,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LogView {
    pub object: Option<String>,
    pub total: usize,
    pub entries: Vec<LogEntry>,
    pub chain_head: ChainHead,
}

/// Everything an operation can fail with. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Plan(#[from] PlanErrors),
    #[error(transparent)]
    PlanConflict(#[from] PlanConflict),
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error("{}: {problem}", path.display())]
    Input { path: PathBuf, problem: String },
    #[error(
        "no Akte or Vorgang '{reference}': check the Aktenzeichen or Vorgangszeichen with `akten akte list` or `akten akte show AZ`"
    )]
    NoTarget { reference: String },
    #[error("no Akte '{reference}': list the Akten with `akten akte list`")]
    NoAkte { reference: String },
    #[error("no Vorgang '{reference}': see the Vorgänge of an Akte with `akten akte show AZ`")]
    NoVorgang { reference: String },
    #[error(
        "no document '{reference}': give its id (at least {MIN_ID_PREFIX} hex digits) as shown by `akten show AZ` or `akten posteingang list`"
    )]
    NoDocument { reference: String },
    #[error("nothing found for '{reference}': give an Aktenzeichen, a Vorgangszeichen or a document id")]
    NoObject { reference: String },
    #[error("'{reference}' matches {count} documents: give more digits of the id")]
    Ambiguous { reference: String, count: usize },
    #[error("{code} is not in the Aktenplan: see the positions with `akten plan show`")]
    UnknownPosition { code: String },
    #[error(
        "{code} is a {level}, not a Betreffseinheit: Akten are opened under Betreffseinheiten; see `akten plan show {code}`"
    )]
    NotBetreffseinheit { code: String, level: String },
    #[error("{code} is retired (stillgelegt) since a newer plan version: open new Akten under its successor position")]
    RetiredPosition { code: String },
    #[error("the {what} {key} is closed (zdA): reopen it first with `akten {command} reopen {key}`")]
    Closed { what: &'static str, key: String, command: &'static str },
    #[error("the {what} {key} is not closed: there is nothing to reopen")]
    NotClosed { what: &'static str, key: String },
    #[error("the Akte {aktenzeichen} still has open Vorgänge ({}): close them first, or close all at once with --with-vorgaenge", open.join(", "))]
    OpenVorgaenge { aktenzeichen: String, open: Vec<String> },
    #[error("{file} is identical to version {version} of document {doc}: nothing to add")]
    SameContent { file: String, doc: DocId, version: u32 },
    #[error("the same content is already in {} as document {existing}: use --allow-duplicate to file it there again", place.label())]
    Duplicate { existing: DocId, place: Place },
    #[error("document {doc} is already in {}", place.label())]
    AlreadyThere { doc: DocId, place: Place },
    #[error("{0}")]
    BadRequest(String),
}

/// The settings shared by every file of one `add` request.
struct AddSpec {
    location: Location,
    place: Place,
    title: Option<String>,
    kind: DocKind,
    received: Option<Date>,
    allow_duplicate: bool,
    sender: Option<String>,
    date: Option<Date>,
}

/// Where the plan of a new store comes from.
#[derive(Clone, Debug)]
pub enum PlanSource {
    Bundled,
    File(PathBuf),
}

/// Receives progress of long operations (verify, gc); the CLI draws it.
pub trait Progress: Send {
    fn report(&self, what: &str, done: u64, total: u64);
}

struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _: &str, _: u64, _: u64) {}
}

/// The engine over one open store.
pub struct Engine {
    blobs: BlobStore,
    catalog: Catalog,
    calendar: Calendar,
    akte_template: AzTemplate,
    vorgang_template: AzTemplate,
    plan: Plan,
    progress: Box<dyn Progress + Send>,
    index: SearchIndex,
    /// The catalog change number the index holds, once this process knows it.
    index_seq: Option<u64>,
    extractor: Extractor,
    /// Blobs of inbox files being read right now (by the mailroom's readers).
    intake_in_flight: std::collections::HashSet<BlobId>,
    /// The learned classifier, once loaded (see [`classify`]).
    model: Option<classify::LoadedModel>,
    /// The plan's compiled rules and the key pattern, built on first use
    /// (compiling a plan's patterns takes milliseconds); reset on plan import.
    rules: Option<std::sync::Arc<crate::classify::rules::Rules>>,
    /// The pattern of the city's keys, from the templates.
    keys: std::sync::Arc<regex::Regex>,
    /// Relative input paths of the request in hand are opened against this
    /// directory (empty: the process's own); see [`Engine::handle_in`].
    input_base: PathBuf,
    /// Holds the store lock. Fields drop in declaration order, so this one
    /// stays last: the lock goes only after the catalog and the index are
    /// closed, and a process that takes it next can open them.
    store: Store,
}

fn input_err(path: &Path, problem: impl Into<String>) -> Error {
    Error::Input { path: path.to_path_buf(), problem: problem.into() }
}

/// Opens a file the user named for reading, with errors that say what is
/// wrong with it.
fn open_input(path: &Path) -> Result<(File, u64), Error> {
    open_input_at(path, path)
}

/// [`open_input`] of `real`, with errors naming the path as the user typed
/// it (`shown`).
fn open_input_at(real: &Path, shown: &Path) -> Result<(File, u64), Error> {
    let path = shown;
    let meta = match std::fs::metadata(real) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(input_err(path, "no such file: check the path")),
        Err(e) => return Err(input_err(path, format!("cannot be read: {e}"))),
    };
    if meta.is_dir() {
        return Err(input_err(path, "is a directory: give the files in it, e.g. DIR/*"));
    }
    if !meta.is_file() {
        return Err(input_err(path, "is not a regular file"));
    }
    match File::open(real) {
        Ok(f) => Ok((f, meta.len())),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Err(input_err(path, "cannot be read (permission denied): check its permissions"))
        }
        Err(e) => Err(input_err(path, format!("cannot be read: {e}"))),
    }
}

fn file_name_of(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

fn title_from(path: &Path) -> String {
    path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| file_name_of(path))
}

fn plan_from_bytes(bytes: &[u8], path: &Path, name: Option<&str>, version: Option<&str>) -> Result<Plan, Error> {
    let display = path.display().to_string();
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        let name = name.map(str::to_string).unwrap_or_else(|| title_from(path));
        let version =
            version.map(str::to_string).unwrap_or_else(|| blake3::hash(bytes).to_hex().as_str()[..12].to_string());
        return Ok(Plan::from_csv(bytes, &display, &name, &version)?);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| input_err(path, "is not UTF-8 text; save the plan as UTF-8"))?;
    let mut plan = Plan::from_toml(text, &display)?;
    if let Some(name) = name {
        plan.name = name.to_string();
    }
    if let Some(version) = version {
        plan.version = version.to_string();
    }
    Ok(plan)
}

impl Engine {
    /// Creates a store at `root` with `plan`, records the creation in the
    /// audit log, and returns the engine on it.
    pub fn init(
        root: &Path,
        plan: PlanSource,
        config: Config,
        actor: &Actor,
        command: &str,
    ) -> Result<(Engine, InitReport), Error> {
        // Read and validate the plan before anything is created.
        let (plan_bytes, plan_path) = match &plan {
            PlanSource::Bundled => (BUNDLED_PLAN.as_bytes().to_vec(), PathBuf::from(BUNDLED_PLAN_NAME)),
            PlanSource::File(path) => {
                let (_, _) = open_input(path)?;
                let bytes = std::fs::read(path).map_err(|e| input_err(path, format!("cannot be read: {e}")))?;
                (bytes, path.clone())
            }
        };
        let plan = plan_from_bytes(&plan_bytes, &plan_path, None, None)?;
        let catalog_engine = config.catalog.engine;
        let store = Store::create(root, config, command)?;
        let blobs = BlobStore::create(&store.blobs_dir())?;
        let catalog = Catalog::create(&store.catalog_dir(), catalog_engine)?;
        let mut engine = Self::assemble(store, blobs, catalog, plan.clone())?;
        let now = Timestamp::now();
        let source = engine.store_bytes(&plan_bytes, &plan_path)?;
        let mut txn = engine.catalog.txn()?;
        txn.put_plan(&plan);
        txn.add_plan_record(
            0,
            &PlanRecord {
                name: plan.name.clone(),
                version: plan.version.clone(),
                imported_at: now,
                file_name: file_name_of(&plan_path),
                source,
            },
        );
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "store.init".into(),
            object: ObjectRef { kind: ObjectKind::Store, id: engine.store.root().display().to_string(), label: None },
            related: vec![],
            changes: vec![
                Change::new("format", None::<u32>, crate::store::FORMAT_VERSION),
                Change::new("catalog", None::<String>, engine.catalog.engine().to_string()),
            ],
        });
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "plan.import".into(),
            object: plan_ref(&plan),
            related: vec![],
            changes: vec![
                Change::new("version", None::<String>, &plan.version),
                Change::new("source", None::<String>, source.to_hex()),
            ],
        });
        let events = txn.commit()?;
        engine.store.seal()?;
        let head =
            events.last().map(|e| ChainHead { seq: e.seq, hash: e.hash.clone() }).unwrap_or_else(ChainHead::empty);
        let report = InitReport {
            store: engine.store.root().to_path_buf(),
            catalog_engine: engine.catalog.engine(),
            plan_name: plan.name.clone(),
            plan_version: plan.version.clone(),
            plan_file: plan_path.display().to_string(),
            positions: plan.positions().count(),
            betreffseinheiten: plan.betreffseinheiten().count(),
            chain_head: head,
        };
        engine.plan = plan;
        Ok((engine, report))
    }

    /// Opens the store at `root`, taking its lock for `command`.
    pub fn open(root: &Path, command: &str) -> Result<Engine, Error> {
        let store = Store::open(root, command)?;
        let blobs = BlobStore::open(&store.blobs_dir());
        let catalog = Catalog::open(&store.catalog_dir(), store.config().catalog.engine)?;
        let plan = catalog.plan()?.ok_or_else(|| CatalogError::Corrupt {
            key: "plan/current".into(),
            detail: "the store has no Aktenplan".into(),
        })?;
        // Only the lock holder gets here, so temp files are leftovers of a
        // process that was stopped mid-operation.
        blobs.clean_temp()?;
        Self::assemble(store, blobs, catalog, plan)
    }

    fn assemble(store: Store, blobs: BlobStore, catalog: Catalog, plan: Plan) -> Result<Engine, Error> {
        let config = store.config().clone();
        let calendar = Calendar::new(&config.calendar.time_zone).map_err(|e| StoreError::BadConfig {
            path: store.root().join(crate::store::CONFIG_FILE),
            message: e.to_string(),
        })?;
        let bad = |e: crate::model::BadTemplate| StoreError::BadConfig {
            path: store.root().join(crate::store::CONFIG_FILE),
            message: e.to_string(),
        };
        let akte_template = AzTemplate::for_akte(&config.aktenzeichen.akte).map_err(bad)?;
        let vorgang_template = AzTemplate::for_vorgang(&config.aktenzeichen.vorgang).map_err(bad)?;
        let keys = std::sync::Arc::new(crate::classify::keys_regex(&akte_template, &vorgang_template));
        let index = search::open_index(&store.index_dir())?;
        let extractor = Extractor::new(config.extract.clone());
        Ok(Engine {
            store,
            blobs,
            catalog,
            calendar,
            akte_template,
            vorgang_template,
            plan,
            progress: Box::new(NoProgress),
            index,
            index_seq: None,
            extractor,
            intake_in_flight: Default::default(),
            model: None,
            rules: None,
            keys,
            input_base: PathBuf::new(),
        })
    }

    pub fn set_progress(&mut self, progress: Box<dyn Progress + Send>) {
        self.progress = progress;
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }

    /// The store's akten.toml, as read on open.
    pub fn config(&self) -> &Config {
        self.store.config()
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Streams a blob's bytes to `out`, verifying its hash; a mismatch is an
    /// error after the last byte (see [`BlobStore::copy_verified`]).
    pub fn read_verified(&self, blob: &BlobId, out: &mut dyn Write) -> Result<u64, Error> {
        Ok(self.blobs.copy_verified(blob, out)?)
    }

    /// Carries out one request on behalf of `actor`.
    pub fn handle(&mut self, request: Request, actor: &Actor) -> Result<Response, Error> {
        // The index follows the catalog: catch up what an earlier process
        // committed but could not index (verify reports that lag instead).
        if !matches!(request, Request::Verify | Request::Reindex) {
            self.sync_index()?;
        }
        let response = self.dispatch(request, actor);
        self.save_learned();
        let response = response?;
        self.sync_index()?;
        Ok(response)
    }

    /// [`Engine::handle`] for a client in another working directory: the
    /// relative input paths of the request (`Add.files`, `VersionAdd.file`,
    /// `PlanImport.file`) are opened against `base`, while the response and
    /// errors show them as the client typed them, so the output is the same
    /// as if the client had run the request itself.
    pub fn handle_in(&mut self, request: Request, actor: &Actor, base: &Path) -> Result<Response, Error> {
        self.input_base = base.to_path_buf();
        let result = self.handle(request, actor);
        self.input_base = PathBuf::new();
        result
    }

    /// Opens an input file of the request in hand (see [`Engine::handle_in`]).
    fn open_request_input(&self, path: &Path) -> Result<(File, u64), Error> {
        open_input_at(&self.input_base.join(path), path)
    }

    fn dispatch(&mut self, request: Request, actor: &Actor) -> Result<Response, Error> {
        match request {
            Request::PlanShow { code } => self.plan_show(code.as_deref()),
            Request::IntakeFailed => self.intake_failed(),
            Request::IntakeRetry { name } => self.intake_retry(&name, actor),
            Request::CoverSheet { akte, vorgang, kind, received } => {
                self.cover_sheet(akte.as_deref(), vorgang.as_deref(), kind, received)
            }
            Request::PlanImport { file, name, version, dry_run } => {
                self.plan_import(&file, name.as_deref(), version.as_deref(), dry_run, actor)
            }
            Request::AkteOpen { position, title } => self.akte_open(&position, &title, actor),
            Request::AkteList { position, state } => self.akte_list(position.as_deref(), state),
            Request::AkteShow { aktenzeichen } => {
                let akte = self.resolve_akte(&aktenzeichen)?;
                Ok(Response::Akte(self.akte_view(&akte)?))
            }
            Request::AkteClose { aktenzeichen, with_vorgaenge } => {
                self.akte_close(&aktenzeichen, with_vorgaenge, actor)
            }
            Request::AkteReopen { aktenzeichen } => self.akte_reopen(&aktenzeichen, actor),
            Request::VorgangOpen { aktenzeichen, title } => self.vorgang_open(&aktenzeichen, &title, actor),
            Request::VorgangClose { vorgangszeichen } => self.vorgang_close(&vorgangszeichen, actor),
            Request::VorgangReopen { vorgangszeichen } => self.vorgang_reopen(&vorgangszeichen, actor),
            Request::Add { files, target, title, kind, received, allow_duplicate, sender, date } => {
                let spec = AddSpec {
                    location: Location::Posteingang,
                    place: Place::Posteingang,
                    title: title.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string),
                    kind,
                    received,
                    allow_duplicate,
                    sender: sender.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
                    date,
                };
                self.add(&files, target.as_deref(), spec, actor)
            }
            Request::VersionAdd { doc, file } => self.version_add(&doc, &file, actor),
            Request::Move { doc, target, allow_duplicate } => self.move_doc(&doc, &target, allow_duplicate, actor),
            Request::Show { id } => self.show(&id),
            Request::Get { doc, version } => self.get(&doc, version),
            Request::PosteingangList { unit, discarded } => self.posteingang_list(unit.as_deref(), discarded),
            Request::PosteingangFile { item, choice } => self.posteingang_file(&item, &choice, actor),
            Request::PosteingangForward { item, unit, note } => {
                self.posteingang_forward(&item, &unit, note.as_deref(), actor)
            }
            Request::PosteingangDiscard { item, reason } => self.posteingang_discard(&item, &reason, actor),
            Request::PosteingangDispose { dry_run } => self.posteingang_dispose(dry_run, actor),
            Request::Classify { doc, file } => self.classify_request(doc.as_deref(), file.as_deref()),
            Request::ClassifyTrain => self.classify_train(),
            Request::Log { object, limit } => self.log(object.as_deref(), limit),
            Request::Verify => {
                let mut report = verify::verify(&self.catalog, &self.blobs, &self.plan, self.progress.as_ref())?;
                report.findings.extend(self.check_index()?);
                Ok(Response::Verified(report))
            }
            Request::Gc { dry_run } => self.gc(dry_run, actor),
            Request::Search(request) => self.search(&request),
            Request::Similar { doc, limit } => self.similar(&doc, limit),
            Request::Reindex => self.reindex(),
            Request::OcrPending { limit, failed } => self.ocr_pending(limit, failed, actor),
            Request::Text { doc, version } => self.text(&doc, version),
        }
    }

    // ---- plan -------------------------------------------------------------

    fn position_summary(&self, p: &crate::plan::Position, counts: &BTreeMap<Kennzeichen, usize>) -> PositionSummary {
        PositionSummary {
            kennzeichen: p.kennzeichen.clone(),
            title: p.title.clone(),
            level: p.level().to_string(),
            retention: p.retention,
            disposal: p.disposal,
            unit: p.unit.clone(),
            retired: p.retired,
            akten: counts.get(&p.kennzeichen).copied().unwrap_or(0),
        }
    }

    fn plan_show(&self, code: Option<&str>) -> Result<Response, Error> {
        let counts = self.catalog.akten_per_position()?;
        let Some(code) = code else {
            return Ok(Response::Plan(PlanView {
                name: self.plan.name.clone(),
                version: self.plan.version.clone(),
                valid_from: self.plan.valid_from,
                betreffseinheiten: self.plan.betreffseinheiten().count(),
                positions: self.plan.positions().map(|p| self.position_summary(p, &counts)).collect(),
            }));
        };
        let k = Kennzeichen::parse(code).map_err(|_| Error::UnknownPosition { code: code.to_string() })?;
        let p = self.plan.position(&k).ok_or_else(|| Error::UnknownPosition { code: code.to_string() })?;
        let lineage = k
            .lineage()
            .iter()
            .filter(|a| **a != k)
            .filter_map(|a| self.plan.position(a))
            .map(|a| self.position_summary(a, &counts))
            .collect();
        let children = self.plan.children(&k).map(|c| self.position_summary(c, &counts)).collect();
        Ok(Response::Position(PositionView {
            level: p.level().to_string(),
            unit_name: p.unit.as_ref().and_then(|u| self.plan.unit_name(u)).map(str::to_string),
            lineage,
            children,
            akten: counts.get(&k).copied().unwrap_or(0),
            position: p.clone(),
        }))
    }

    fn plan_import(
        &mut self,
        file: &Path,
        name: Option<&str>,
        version: Option<&str>,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Response, Error> {
        let (mut input, _) = self.open_request_input(file)?;
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut input, &mut bytes).map_err(|e| input_err(file, format!("cannot be read: {e}")))?;
        let new = plan_from_bytes(&bytes, file, name, version)?;
        let counts = self.catalog.akten_per_position()?;
        let (merged, changes) = self.plan.merge_new_version(new, &counts)?;
        let report = PlanImportReport {
            file: file.to_path_buf(),
            name: merged.name.clone(),
            version: merged.version.clone(),
            previous_version: self.plan.version.clone(),
            dry_run,
            betreffseinheiten: merged.betreffseinheiten().filter(|p| !p.retired).count(),
            changes,
        };
        if dry_run {
            return Ok(Response::PlanImported(report));
        }
        let now = Timestamp::now();
        let source = self.store_bytes(&bytes, file)?;
        let history = self.catalog.plan_history()?.len() as u64;
        let mut txn = self.catalog.txn()?;
        txn.put_plan(&merged);
        txn.add_plan_record(
            history,
            &PlanRecord {
                name: merged.name.clone(),
                version: merged.version.clone(),
                imported_at: now,
                file_name: file_name_of(file),
                source,
            },
        );
        let c = &report.changes;
        let codes = |v: &[Kennzeichen]| v.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "plan.import".into(),
            object: plan_ref(&merged),
            related: vec![],
            changes: vec![
                Change::new("version", &self.plan.version, &merged.version),
                Change::new("source", None::<String>, source.to_hex()),
                Change::new("added", None::<String>, codes(&c.added)),
                Change::new("changed", None::<String>, codes(&c.changed)),
                Change::new("removed", None::<String>, codes(&c.removed)),
                Change::new("retired", None::<String>, codes(&c.retired)),
                Change::new("reactivated", None::<String>, codes(&c.reactivated)),
            ],
        });
        txn.commit()?;
        self.plan = merged;
        self.rules = None;
        Ok(Response::PlanImported(report))
    }

    /// Stores `bytes` as a durable blob (for plan sources).
    fn store_bytes(&self, bytes: &[u8], path: &Path) -> Result<BlobId, Error> {
        let mut staged = [self.blobs.stage(&mut &bytes[..], path)?];
        self.blobs.make_durable(&mut staged)?;
        Ok(staged[0].id())
    }

    // ---- Akten and Vorgänge -----------------------------------------------

    fn akte_open(&mut self, code: &str, title: &str, actor: &Actor) -> Result<Response, Error> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::BadRequest("the title must not be empty: give --title".into()));
        }
        let k = Kennzeichen::parse(code.trim()).map_err(|_| Error::UnknownPosition { code: code.to_string() })?;
        let position = self.plan.position(&k).ok_or_else(|| Error::UnknownPosition { code: code.to_string() })?;
        if !position.betreffseinheit {
            return Err(Error::NotBetreffseinheit { code: k.to_string(), level: position.level().to_string() });
        }
        if position.retired {
            return Err(Error::RetiredPosition { code: k.to_string() });
        }
        let unit = position.unit.clone().ok_or_else(|| CatalogError::Corrupt {
            key: "plan/current".into(),
            detail: format!("Betreffseinheit {k} has no organisational unit"),
        })?;
        let now = Timestamp::now();
        let year = self.calendar.date_of(now).year();
        let counter_year = self.akte_template.uses_year().then_some(year);
        let mut number = self.catalog.counter(&k, counter_year)?;
        // A changed template could collide with an older Aktenzeichen: skip on.
        let aktenzeichen = loop {
            number += 1;
            let az = self.akte_template.aktenzeichen(&k, number, year);
            if self.catalog.akte_by_az(az.as_str())?.is_none() && self.catalog.vorgang_by_vz(az.as_str())?.is_none() {
                break az;
            }
        };
        let akte = Akte {
            id: AkteId::new_random(),
            aktenzeichen,
            position: k.clone(),
            title: title.to_string(),
            unit,
            opened_at: now,
            year,
            number,
            retention: position.retention,
            disposal: position.disposal,
            zda: None,
            next_vorgang: 1,
        };
        let mut txn = self.catalog.txn()?;
        txn.set_counter(&k, counter_year, number);
        txn.put_akte(&akte, None);
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "akte.open".into(),
            object: akte_ref(&akte),
            related: vec![],
            changes: vec![
                Change::new("aktenzeichen", None::<String>, &akte.aktenzeichen),
                Change::new("titel", None::<String>, &akte.title),
                Change::new("position", None::<String>, &akte.position),
                Change::new("aufbewahrung", None::<String>, akte.retention.to_string()),
                Change::new("aussonderung", None::<String>, akte.disposal.to_string()),
            ],
        });
        txn.commit()?;
        Ok(Response::AkteOpened(self.akte_summary(&akte)?))
    }

    fn akte_list(&self, position: Option<&str>, state: StateFilter) -> Result<Response, Error> {
        let within = match position {
            None => None,
            Some(code) => {
                let k =
                    Kennzeichen::parse(code.trim()).map_err(|_| Error::UnknownPosition { code: code.to_string() })?;
                if self.plan.position(&k).is_none() {
                    return Err(Error::UnknownPosition { code: code.to_string() });
                }
                Some(k)
            }
        };
        let mut akten: Vec<Akte> = self
            .catalog
            .akten()?
            .into_iter()
            .filter(|a| within.as_ref().is_none_or(|k| a.position.is_within(k)))
            .filter(|a| match state {
                StateFilter::All => true,
                StateFilter::Open => a.zda.is_none(),
                StateFilter::Closed => a.zda.is_some(),
            })
            .collect();
        akten.sort_by(|a, b| (&a.position, a.year, a.number).cmp(&(&b.position, b.year, b.number)));
        let akten = akten.iter().map(|a| self.akte_summary(a)).collect::<Result<_, _>>()?;
        Ok(Response::AkteList { akten })
    }

    fn akte_close(&mut self, az: &str, with_vorgaenge: bool, actor: &Actor) -> Result<Response, Error> {
        let akte = self.resolve_akte(az)?;
        if akte.zda.is_some() {
            return Err(Error::BadRequest(format!("the Akte {} is already closed (zdA)", akte.aktenzeichen)));
        }
        let open: Vec<Vorgang> = self.catalog.vorgaenge_of(&akte.id)?.into_iter().filter(|v| v.zda.is_none()).collect();
        if !open.is_empty() && !with_vorgaenge {
            return Err(Error::OpenVorgaenge {
                aktenzeichen: akte.aktenzeichen.to_string(),
                open: open.iter().map(|v| v.vorgangszeichen.to_string()).collect(),
            });
        }
        let now = Timestamp::now();
        let date = self.calendar.date_of(now);
        let mut txn = self.catalog.txn()?;
        let mut closed = Vec::new();
        for v in &open {
            let mut new = v.clone();
            new.zda = Some(Zda { date, at: now, retention_end: v.retention.end_after_zda(date) });
            txn.put_vorgang(&new, Some(v));
            txn.record(zda_event(
                now,
                actor,
                "vorgang.close",
                vorgang_ref(&new),
                &v.zda,
                &new.zda,
                Some(akte_ref(&akte)),
            ));
            closed.push(new);
        }
        let mut new = akte.clone();
        new.zda = Some(Zda { date, at: now, retention_end: akte.retention.end_after_zda(date) });
        txn.put_akte(&new, Some(&akte));
        txn.record(zda_event(now, actor, "akte.close", akte_ref(&new), &akte.zda, &new.zda, None));
        txn.commit()?;
        let vorgaenge_closed = closed.iter().map(|v| self.vorgang_summary(v)).collect::<Result<_, _>>()?;
        Ok(Response::AkteClosed { akte: self.akte_summary(&new)?, vorgaenge_closed })
    }

    fn akte_reopen(&mut self, az: &str, actor: &Actor) -> Result<Response, Error> {
        let akte = self.resolve_akte(az)?;
        if akte.zda.is_none() {
            return Err(Error::NotClosed { what: "Akte", key: akte.aktenzeichen.to_string() });
        }
        let now = Timestamp::now();
        let mut new = akte.clone();
        new.zda = None;
        let mut txn = self.catalog.txn()?;
        txn.put_akte(&new, Some(&akte));
        txn.record(zda_event(now, actor, "akte.reopen", akte_ref(&new), &akte.zda, &None, None));
        txn.commit()?;
        Ok(Response::AkteReopened { akte: self.akte_summary(&new)? })
    }

    fn vorgang_open(&mut self, az: &str, title: &str, actor: &Actor) -> Result<Response, Error> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::BadRequest("the title must not be empty: give --title".into()));
        }
        let akte = self.resolve_akte(az)?;
        self.ensure_akte_open(&akte)?;
        let now = Timestamp::now();
        let mut number = akte.next_vorgang;
        let vorgangszeichen = loop {
            let vz = self.vorgang_template.vorgangszeichen(&akte.aktenzeichen, number);
            if self.catalog.vorgang_by_vz(vz.as_str())?.is_none() && self.catalog.akte_by_az(vz.as_str())?.is_none() {
                break vz;
            }
            number += 1;
        };
        let vorgang = Vorgang {
            id: VorgangId::new_random(),
            vorgangszeichen,
            akte: akte.id,
            number,
            title: title.to_string(),
            opened_at: now,
            retention: akte.retention,
            disposal: akte.disposal,
            zda: None,
        };
        let mut new_akte = akte.clone();
        new_akte.next_vorgang = number + 1;
        let mut txn = self.catalog.txn()?;
        txn.put_akte(&new_akte, Some(&akte));
        txn.put_vorgang(&vorgang, None);
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "vorgang.open".into(),
            object: vorgang_ref(&vorgang),
            related: vec![akte_ref(&akte)],
            changes: vec![
                Change::new("vorgangszeichen", None::<String>, &vorgang.vorgangszeichen),
                Change::new("titel", None::<String>, &vorgang.title),
            ],
        });
        txn.commit()?;
        Ok(Response::VorgangOpened(self.vorgang_summary(&vorgang)?))
    }

    fn vorgang_close(&mut self, vz: &str, actor: &Actor) -> Result<Response, Error> {
        let vorgang = self.resolve_vorgang(vz)?;
        if vorgang.zda.is_some() {
            return Err(Error::BadRequest(format!("the Vorgang {} is already closed (zdA)", vorgang.vorgangszeichen)));
        }
        let akte = self.akte_of(&vorgang)?;
        let now = Timestamp::now();
        let date = self.calendar.date_of(now);
        let mut new = vorgang.clone();
        new.zda = Some(Zda { date, at: now, retention_end: vorgang.retention.end_after_zda(date) });
        let mut txn = self.catalog.txn()?;
        txn.put_vorgang(&new, Some(&vorgang));
        txn.record(zda_event(
            now,
            actor,
            "vorgang.close",
            vorgang_ref(&new),
            &vorgang.zda,
            &new.zda,
            Some(akte_ref(&akte)),
        ));
        txn.commit()?;
        Ok(Response::VorgangClosed(self.vorgang_summary(&new)?))
    }

    fn vorgang_reopen(&mut self, vz: &str, actor: &Actor) -> Result<Response, Error> {
        let vorgang = self.resolve_vorgang(vz)?;
        if vorgang.zda.is_none() {
            return Err(Error::NotClosed { what: "Vorgang", key: vorgang.vorgangszeichen.to_string() });
        }
        let akte = self.akte_of(&vorgang)?;
        self.ensure_akte_open(&akte)?;
        let now = Timestamp::now();
        let mut new = vorgang.clone();
        new.zda = None;
        let mut txn = self.catalog.txn()?;
        txn.put_vorgang(&new, Some(&vorgang));
        txn.record(zda_event(
            now,
            actor,
            "vorgang.reopen",
            vorgang_ref(&new),
            &vorgang.zda,
            &None,
            Some(akte_ref(&akte)),
        ));
        txn.commit()?;
        Ok(Response::VorgangReopened(self.vorgang_summary(&new)?))
    }

    // ---- documents --------------------------------------------------------

    fn add(
        &mut self,
        files: &[PathBuf],
        target: Option<&str>,
        spec: AddSpec,
        actor: &Actor,
    ) -> Result<Response, Error> {
        if files.is_empty() {
            return Err(Error::BadRequest("no files given: name at least one file to add".into()));
        }
        let location = match target {
            Some(t) => self.resolve_target(t)?,
            None => Location::Posteingang,
        };
        self.ensure_open(&location)?;
        // Every input must be readable before anything is stored. The files
        // are closed again so that long lists do not exhaust descriptors.
        let mut sizes = Vec::with_capacity(files.len());
        for path in files {
            sizes.push(self.open_request_input(path)?.1);
        }
        let spec = AddSpec { place: self.place(&location)?, location, ..spec };
        let mut results: Vec<Option<AddOutcome>> = vec![None; files.len()];
        let mut seen: HashMap<BlobId, usize> = HashMap::new();
        let total = files.len() as u64;
        let mut first = 0;
        while first < files.len() {
            let mut end = first + 1;
            let mut bytes = sizes[first];
            while end < files.len() && end - first < ADD_BATCH && bytes + sizes[end] <= ADD_BATCH_BYTES {
                bytes += sizes[end];
                end += 1;
            }
            self.progress.report("adding files", first as u64, total);
            self.add_batch(first, &files[first..end], files, &spec, &mut seen, &mut results, actor)?;
            first = end;
        }
        self.progress.report("adding files", total, total);
        let results = results.into_iter().map(|r| r.expect("every input has an outcome")).collect();
        Ok(Response::Added(AddReport { results }))
    }

    /// Adds `chunk` (starting at index `first` of `files`) in one commit.
    #[allow(clippy::too_many_arguments, reason = "the batch state of one add request")]
    fn add_batch(
        &mut self,
        first: usize,
        chunk: &[PathBuf],
        files: &[PathBuf],
        spec: &AddSpec,
        seen: &mut HashMap<BlobId, usize>,
        results: &mut [Option<AddOutcome>],
        actor: &Actor,
    ) -> Result<(), Error> {
        let now = Timestamp::now();
        let received = spec.received.unwrap_or_else(|| self.calendar.date_of(now));
        let mut order = Vec::new();
        let mut staged: Vec<Staged> = Vec::new();
        for (offset, path) in chunk.iter().enumerate() {
            let i = first + offset;
            let blob = match self.open_request_input(path).and_then(|(mut f, _)| Ok(self.blobs.stage(&mut f, path)?)) {
                Ok(s) => s,
                Err(e) => {
                    results[i] = Some(AddOutcome::Failed { file: path.clone(), error: e.to_string() });
                    continue;
                }
            };
            if !spec.allow_duplicate {
                if let Some(existing) = self.duplicate_in(&spec.location, &blob.id())? {
                    results[i] = Some(AddOutcome::Duplicate {
                        file: path.clone(),
                        existing: existing.id,
                        existing_title: existing.title,
                        place: spec.place.clone(),
                    });
                    continue;
                }
                if let Some(&earlier) = seen.get(&blob.id()) {
                    results[i] = Some(AddOutcome::Failed {
                        file: path.clone(),
                        error: format!(
                            "same content as {}, given earlier in this command: added once",
                            files[earlier].display()
                        ),
                    });
                    continue;
                }
            }
            seen.insert(blob.id(), i);
            order.push(i);
            staged.push(blob);
        }
        if staged.is_empty() {
            return Ok(());
        }
        self.blobs.make_durable(&mut staged)?;
        // Text is read from the durable blobs, before the commit that names
        // them: a crash here leaves orphan blobs only, as before.
        let mut texts = Vec::with_capacity(staged.len());
        for (n, blob) in staged.iter().enumerate() {
            self.progress.report("reading text", (first + n) as u64, files.len() as u64);
            let file_name = file_name_of(&files[order[n]]);
            texts.push(self.extract_blob(&blob.id(), crate::media::sniff(blob.head(), &file_name)));
        }
        // Documents without a target are classified: filed where akten may
        // decide, else they wait in the Posteingang with suggestions.
        let titles: Vec<String> =
            order.iter().map(|&i| spec.title.clone().unwrap_or_else(|| title_from(&files[i]))).collect();
        let mut triages: Vec<Option<classify::Triage>> = Vec::with_capacity(staged.len());
        if spec.location == Location::Posteingang {
            let inputs: Vec<crate::classify::Input<'_>> = titles
                .iter()
                .zip(&texts)
                .map(|(title, (_, text))| crate::classify::Input {
                    title,
                    text,
                    sender: spec.sender.as_deref(),
                    cover: None,
                })
                .collect();
            for c in self.classify_inputs(&inputs)? {
                triages.push(Some(self.triage(c, actor)?));
            }
        } else {
            triages.resize_with(staged.len(), || None);
        }
        let keys = self.keys.clone();
        let mut txn = self.catalog.txn()?;
        let mut added = Vec::new();
        let mut by_person = Vec::new();
        for ((((&i, blob), (text_info, text)), title), triage) in
            order.iter().zip(&staged).zip(texts).zip(titles).zip(triages)
        {
            let path = &files[i];
            let file_name = file_name_of(path);
            let (location, filing, place) = match &triage {
                Some(t) => (t.location, t.filing.clone(), self.place(&t.location)?),
                None => (spec.location, Some(crate::model::Filing::person()), spec.place.clone()),
            };
            let external_reference = match &triage {
                Some(t) => t.external_reference.clone(),
                None => crate::classify::cite::scan(&text, &keys).external,
            };
            let doc = Dokument {
                id: DocId::new_random(),
                title,
                kind: spec.kind,
                received,
                location,
                channel: "cli".into(),
                sender: spec.sender.clone(),
                date: spec.date,
                created_at: now,
                external_reference,
                filing,
                versions: vec![Version {
                    number: 1,
                    blob: blob.id(),
                    media_type: crate::media::sniff(blob.head(), &file_name).to_string(),
                    file_name,
                    size: blob.size(),
                    added_at: now,
                    added_by: actor.clone(),
                    text: Some(text_info),
                    scan: None,
                }],
            };
            let mut also_filed: Vec<(DocId, Place)> = Vec::new();
            for (other, _) in self.catalog.blob_users(&blob.id())? {
                if !also_filed.iter().any(|(d, _)| *d == other) {
                    also_filed.push((other, self.place_of_doc(&other)?));
                }
            }
            txn.put_doc(&doc, None);
            if !text.is_empty() {
                txn.put_text(&doc.id, 1, &text);
            }
            if let Some(item) = triage.as_ref().and_then(|t| Self::post_item(doc.id, t, now)) {
                txn.put_post_item(&item);
            }
            if triage.is_none() {
                by_person.push(doc.id);
            }
            let mut changes = vec![
                Change::new("ort", None::<String>, place.label()),
                Change::new("version", None::<u32>, 1),
                Change::new("blob", None::<String>, blob.id().to_hex()),
                Change::new("datei", None::<String>, &doc.current().file_name),
                Change::new("eingang", None::<String>, doc.received.to_string()),
                Change::new("art", None::<String>, doc.kind.as_str()),
            ];
            changes.extend(filing_changes(&doc));
            txn.record(NewEvent {
                at: now,
                actor: actor.clone(),
                action: "dokument.add".into(),
                object: doc_ref(&doc),
                related: self.location_refs(&location)?,
                changes,
            });
            added.push((i, doc, also_filed, place));
        }
        txn.count_training(by_person.len() as u64);
        txn.commit()?;
        self.learn_filed(&by_person)?;
        for (i, doc, also_filed, place) in added {
            results[i] = Some(AddOutcome::Added {
                file: files[i].clone(),
                filing: doc.filing.clone().filter(|f| f.by != crate::model::FiledBy::Person),
                doc: Box::new(doc_summary(&doc)),
                place,
                also_filed,
            });
        }
        Ok(())
    }

    /// A document in `location` with `blob` as one of its versions.
    fn duplicate_in(&self, location: &Location, blob: &BlobId) -> Result<Option<Dokument>, Error> {
        for (doc_id, _) in self.catalog.blob_users(blob)? {
            if let Some(doc) = self.catalog.doc(&doc_id)?
                && doc.location == *location
            {
                return Ok(Some(doc));
            }
        }
        Ok(None)
    }

    fn version_add(&mut self, doc_ref_text: &str, file: &Path, actor: &Actor) -> Result<Response, Error> {
        let doc = self.resolve_doc(doc_ref_text)?;
        self.ensure_open(&doc.location)?;
        let (mut input, _) = self.open_request_input(file)?;
        let blob = self.blobs.stage(&mut input, file)?;
        if let Some(same) = doc.versions.iter().find(|v| v.blob == blob.id()) {
            return Err(Error::SameContent { file: file.display().to_string(), doc: doc.id, version: same.number });
        }
        let mut blobs = [blob];
        self.blobs.make_durable(&mut blobs)?;
        let blob = &blobs[0];
        let file_name = file_name_of(file);
        let (text_info, text) = self.extract_blob(&blob.id(), crate::media::sniff(blob.head(), &file_name));
        let now = Timestamp::now();
        let version = Version {
            number: doc.current().number + 1,
            blob: blob.id(),
            media_type: crate::media::sniff(blob.head(), &file_name).to_string(),
            file_name,
            size: blob.size(),
            added_at: now,
            added_by: actor.clone(),
            text: Some(text_info),
            scan: None,
        };
        let mut new = doc.clone();
        new.versions.push(version.clone());
        let mut txn = self.catalog.txn()?;
        txn.put_doc(&new, Some(&doc));
        if !text.is_empty() {
            txn.put_text(&new.id, version.number, &text);
        }
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "version.add".into(),
            object: doc_ref(&new),
            related: self.location_refs(&new.location)?,
            changes: vec![
                Change::new("version", doc.current().number, version.number),
                Change::new("blob", doc.current().blob.to_hex(), version.blob.to_hex()),
                Change::new("datei", &doc.current().file_name, &version.file_name),
            ],
        });
        txn.commit()?;
        Ok(Response::VersionAdded { doc: doc_summary(&new), version, location: self.place(&new.location)? })
    }

    fn move_doc(
        &mut self,
        doc_text: &str,
        target: &str,
        allow_duplicate: bool,
        actor: &Actor,
    ) -> Result<Response, Error> {
        let doc = self.resolve_doc(doc_text)?;
        let to = self.resolve_target(target)?;
        let from_place = self.place(&doc.location)?;
        let to_place = self.place(&to)?;
        if doc.location == to {
            return Err(Error::AlreadyThere { doc: doc.id, place: to_place });
        }
        self.ensure_open(&doc.location)?;
        self.ensure_open(&to)?;
        if !allow_duplicate {
            for v in &doc.versions {
                if let Some(existing) = self.duplicate_in(&to, &v.blob)? {
                    return Err(Error::Duplicate { existing: existing.id, place: to_place });
                }
            }
        }
        let now = Timestamp::now();
        let mut new = doc.clone();
        new.location = to;
        // Where a person puts it is a filing the model may learn from.
        let learn = to.akte().is_some();
        if learn {
            new.filing = Some(crate::model::Filing::person());
        }
        let mut related = self.location_refs(&doc.location)?;
        related.extend(self.location_refs(&to)?);
        let mut txn = self.catalog.txn()?;
        txn.put_doc(&new, Some(&doc));
        if doc.location == Location::Posteingang {
            txn.remove_post_item(&doc.id);
        }
        txn.count_training(u64::from(learn));
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "dokument.move".into(),
            object: doc_ref(&new),
            related,
            changes: vec![Change::new("ort", from_place.label(), to_place.label())],
        });
        txn.commit()?;
        if learn {
            self.learn_filed(&[new.id])?;
        }
        Ok(Response::Moved { doc: doc_summary(&new), from: from_place, to: to_place })
    }

    fn show(&self, id: &str) -> Result<Response, Error> {
        let id = id.trim();
        if let Some(akte) = self.catalog.akte_by_az(id)? {
            return Ok(Response::Akte(self.akte_view(&akte)?));
        }
        if let Some(vorgang) = self.catalog.vorgang_by_vz(id)? {
            return Ok(Response::Vorgang(self.vorgang_view(&vorgang)?));
        }
        if let Ok(uuid) = id.parse::<uuid::Uuid>() {
            let bytes = *uuid.as_bytes();
            if let Some(akte) = self.catalog.akte(&AkteId::from_bytes(bytes))? {
                return Ok(Response::Akte(self.akte_view(&akte)?));
            }
            if let Some(vorgang) = self.catalog.vorgang(&VorgangId::from_bytes(bytes))? {
                return Ok(Response::Vorgang(self.vorgang_view(&vorgang)?));
            }
        }
        match self.resolve_doc(id) {
            Ok(doc) => Ok(Response::Dokument(self.doc_view(&doc)?)),
            Err(Error::NoDocument { .. }) => Err(Error::NoObject { reference: id.to_string() }),
            Err(e) => Err(e),
        }
    }

    fn get(&self, doc_text: &str, version: Option<u32>) -> Result<Response, Error> {
        let doc = self.resolve_doc(doc_text)?;
        let v = match version {
            None => doc.current().clone(),
            Some(n) => doc.version(n).cloned().ok_or_else(|| {
                Error::BadRequest(format!(
                    "document {} has no version {n}: it has versions 1 to {}",
                    doc.id,
                    doc.current().number
                ))
            })?,
        };
        Ok(Response::Content(ContentInfo { doc: doc.id, title: doc.title.clone(), version: v }))
    }

    fn log(&self, object: Option<&str>, limit: Option<usize>) -> Result<Response, Error> {
        let head = self.catalog.audit_head()?;
        let limit = limit.filter(|&l| l > 0);
        let (label, events, total) = match object {
            // Events are numbered without gaps (verify checks it), so the
            // tail can be read without decoding the whole log.
            None => {
                let first = limit.map_or(1, |l| head.seq.saturating_sub(l as u64) + 1);
                (None, self.catalog.events_since(first)?, head.seq as usize)
            }
            Some(text) => {
                let (kind, id, label) = self.resolve_object(text)?;
                let events = self.catalog.events_for(kind, &id)?;
                let total = events.len();
                (Some(label), events, total)
            }
        };
        let skip = limit.map_or(0, |l| events.len().saturating_sub(l));
        let entries = events
            .into_iter()
            .skip(skip)
            .map(|event| LogEntry { local_time: self.calendar.display(event.at), event })
            .collect();
        Ok(Response::Log(LogView { object: label, total, entries, chain_head: head }))
    }

    fn gc(&mut self, dry_run: bool, actor: &Actor) -> Result<Response, Error> {
        let grace = std::time::Duration::from_secs(self.store.config().gc.grace_hours.saturating_mul(3600));
        let mut report = verify::collect_garbage(&self.catalog, &self.blobs, grace, dry_run, self.progress.as_ref())?;
        if !dry_run && !report.removed.is_empty() {
            let now = Timestamp::now();
            let mut txn = self.catalog.txn()?;
            txn.record(NewEvent {
                at: now,
                actor: actor.clone(),
                action: "blobs.gc".into(),
                object: ObjectRef { kind: ObjectKind::Store, id: self.store.root().display().to_string(), label: None },
                related: vec![],
                changes: vec![Change::new(
                    "removed",
                    None::<String>,
                    report.removed.iter().map(|r| r.blob.to_hex()).collect::<Vec<_>>(),
                )],
            });
            txn.commit()?;
        }
        if !dry_run {
            self.progress.report("compacting the catalog", 0, 1);
            report.catalog_bytes = Some(self.catalog.compact()?);
            self.progress.report("compacting the catalog", 1, 1);
        }
        Ok(Response::Collected(report))
    }

    // ---- resolution and views ---------------------------------------------

    fn resolve_akte(&self, az: &str) -> Result<Akte, Error> {
        self.catalog.akte_by_az(az.trim())?.ok_or_else(|| Error::NoAkte { reference: az.to_string() })
    }

    fn resolve_vorgang(&self, vz: &str) -> Result<Vorgang, Error> {
        self.catalog.vorgang_by_vz(vz.trim())?.ok_or_else(|| Error::NoVorgang { reference: vz.to_string() })
    }

    fn resolve_target(&self, text: &str) -> Result<Location, Error> {
        let text = text.trim();
        if let Some(akte) = self.catalog.akte_by_az(text)? {
            return Ok(Location::Akte { akte: akte.id });
        }
        if let Some(v) = self.catalog.vorgang_by_vz(text)? {
            return Ok(Location::Vorgang { akte: v.akte, vorgang: v.id });
        }
        Err(Error::NoTarget { reference: text.to_string() })
    }

    fn resolve_doc(&self, text: &str) -> Result<Dokument, Error> {
        let text = text.trim();
        if let Ok(uuid) = text.parse::<uuid::Uuid>() {
            return self
                .catalog
                .doc(&DocId::from_bytes(*uuid.as_bytes()))?
                .ok_or_else(|| Error::NoDocument { reference: text.to_string() });
        }
        let hex_digits = text.chars().filter(|c| *c != '-').count();
        if hex_digits < MIN_ID_PREFIX || !text.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(Error::NoDocument { reference: text.to_string() });
        }
        let matches = self.catalog.docs_by_id_prefix(text)?;
        match matches.as_slice() {
            [] => Err(Error::NoDocument { reference: text.to_string() }),
            [one] => self.catalog.doc(one)?.ok_or_else(|| Error::NoDocument { reference: text.to_string() }),
            many => Err(Error::Ambiguous { reference: text.to_string(), count: many.len() }),
        }
    }

    /// Any object a log can be asked for: (kind, id, label).
    fn resolve_object(&self, text: &str) -> Result<(ObjectKind, String, String), Error> {
        match self.show(text)? {
            Response::Akte(v) => Ok((ObjectKind::Akte, v.akte.id.to_string(), format!("Akte {}", v.akte.aktenzeichen))),
            Response::Vorgang(v) => {
                Ok((ObjectKind::Vorgang, v.vorgang.id.to_string(), format!("Vorgang {}", v.vorgang.vorgangszeichen)))
            }
            Response::Dokument(v) => Ok((ObjectKind::Dokument, v.doc.id.to_string(), format!("Dokument {}", v.doc.id))),
            _ => Err(Error::NoObject { reference: text.to_string() }),
        }
    }

    fn akte_of(&self, vorgang: &Vorgang) -> Result<Akte, Error> {
        self.catalog.akte(&vorgang.akte)?.ok_or_else(|| {
            Error::Catalog(CatalogError::Corrupt {
                key: format!("vg/{}", vorgang.id),
                detail: format!("names Akte {}, which does not exist", vorgang.akte),
            })
        })
    }

    fn ensure_akte_open(&self, akte: &Akte) -> Result<(), Error> {
        if akte.zda.is_some() {
            return Err(Error::Closed { what: "Akte", key: akte.aktenzeichen.to_string(), command: "akte" });
        }
        Ok(())
    }

    /// Refuses closed Akten and Vorgänge (and Vorgänge in closed Akten).
    fn ensure_open(&self, location: &Location) -> Result<(), Error> {
        match location {
            Location::Posteingang => Ok(()),
            Location::Discarded => Err(Error::BadRequest(
                "the document is on the discard list: it waits for its disposal and cannot be changed or moved; see `akten posteingang discarded`".into(),
            )),
            Location::Akte { akte } => {
                let akte = self.catalog.akte(akte)?.ok_or_else(|| Error::NoAkte { reference: akte.to_string() })?;
                self.ensure_akte_open(&akte)
            }
            Location::Vorgang { akte, vorgang } => {
                let akte = self.catalog.akte(akte)?.ok_or_else(|| Error::NoAkte { reference: akte.to_string() })?;
                self.ensure_akte_open(&akte)?;
                let v = self
                    .catalog
                    .vorgang(vorgang)?
                    .ok_or_else(|| Error::NoVorgang { reference: vorgang.to_string() })?;
                if v.zda.is_some() {
                    return Err(Error::Closed {
                        what: "Vorgang",
                        key: v.vorgangszeichen.to_string(),
                        command: "vorgang",
                    });
                }
                Ok(())
            }
        }
    }

    fn place(&self, location: &Location) -> Result<Place, Error> {
        Ok(match location {
            Location::Posteingang => Place::Posteingang,
            Location::Discarded => Place::Discarded,
            Location::Akte { akte } => {
                let a = self.catalog.akte(akte)?.ok_or_else(|| Error::NoAkte { reference: akte.to_string() })?;
                Place::Akte { aktenzeichen: a.aktenzeichen, title: a.title }
            }
            Location::Vorgang { vorgang, .. } => {
                let v = self
                    .catalog
                    .vorgang(vorgang)?
                    .ok_or_else(|| Error::NoVorgang { reference: vorgang.to_string() })?;
                Place::Vorgang { vorgangszeichen: v.vorgangszeichen, title: v.title }
            }
        })
    }

    fn place_of_doc(&self, doc: &DocId) -> Result<Place, Error> {
        let d = self.catalog.doc(doc)?.ok_or_else(|| Error::NoDocument { reference: doc.to_string() })?;
        self.place(&d.location)
    }

    fn location_refs(&self, location: &Location) -> Result<Vec<ObjectRef>, Error> {
        Ok(match location {
            Location::Posteingang | Location::Discarded => vec![],
            Location::Akte { akte } => {
                let a = self.catalog.akte(akte)?.ok_or_else(|| Error::NoAkte { reference: akte.to_string() })?;
                vec![akte_ref(&a)]
            }
            Location::Vorgang { akte, vorgang } => {
                let a = self.catalog.akte(akte)?.ok_or_else(|| Error::NoAkte { reference: akte.to_string() })?;
                let v = self
                    .catalog
                    .vorgang(vorgang)?
                    .ok_or_else(|| Error::NoVorgang { reference: vorgang.to_string() })?;
                vec![vorgang_ref(&v), akte_ref(&a)]
            }
        })
    }

    fn akte_summary(&self, akte: &Akte) -> Result<AkteSummary, Error> {
        let position_title = self.plan.position(&akte.position).map(|p| p.title.clone()).unwrap_or_default();
        Ok(AkteSummary {
            id: akte.id,
            aktenzeichen: akte.aktenzeichen.clone(),
            title: akte.title.clone(),
            position: akte.position.clone(),
            position_title,
            unit: akte.unit.clone(),
            unit_name: self.plan.unit_name(&akte.unit).map(str::to_string),
            opened_on: self.calendar.date_of(akte.opened_at),
            retention: akte.retention,
            disposal: akte.disposal,
            zda: akte.zda.clone(),
            vorgaenge: self.catalog.vorgaenge_of(&akte.id)?.len(),
            documents: self.catalog.docs_in(&Location::Akte { akte: akte.id })?.len(),
        })
    }

    fn akte_view(&self, akte: &Akte) -> Result<AkteView, Error> {
        let vorgaenge =
            self.catalog.vorgaenge_of(&akte.id)?.iter().map(|v| self.vorgang_summary(v)).collect::<Result<_, _>>()?;
        let documents = self.catalog.docs_in(&Location::Akte { akte: akte.id })?.iter().map(doc_summary).collect();
        Ok(AkteView { akte: self.akte_summary(akte)?, vorgaenge, documents })
    }

    fn vorgang_summary(&self, v: &Vorgang) -> Result<VorgangSummary, Error> {
        let akte = self.akte_of(v)?;
        Ok(VorgangSummary {
            id: v.id,
            vorgangszeichen: v.vorgangszeichen.clone(),
            title: v.title.clone(),
            akte: akte.aktenzeichen,
            opened_on: self.calendar.date_of(v.opened_at),
            retention: v.retention,
            zda: v.zda.clone(),
            documents: self.catalog.docs_in(&Location::Vorgang { akte: v.akte, vorgang: v.id })?.len(),
        })
    }

    fn vorgang_view(&self, v: &Vorgang) -> Result<VorgangView, Error> {
        let akte = self.akte_of(v)?;
        let documents =
            self.catalog.docs_in(&Location::Vorgang { akte: v.akte, vorgang: v.id })?.iter().map(doc_summary).collect();
        Ok(VorgangView { vorgang: self.vorgang_summary(v)?, akte_title: akte.title, documents })
    }

    fn doc_view(&self, doc: &Dokument) -> Result<DocView, Error> {
        let mut same_content = Vec::new();
        for (other, _) in self.catalog.blob_users(&doc.current().blob)? {
            if other != doc.id && !same_content.iter().any(|(d, _)| *d == other) {
                same_content.push((other, self.place_of_doc(&other)?));
            }
        }
        Ok(DocView {
            place: self.place(&doc.location)?,
            same_content,
            created_local: self.calendar.display(doc.created_at),
            doc: doc.clone(),
        })
    }
}

/// Audit changes that say how a document came to its place, where akten
/// decided it and where the sender's reference was found.
fn filing_changes(doc: &Dokument) -> Vec<Change> {
    let mut out = Vec::new();
    if let Some(f) = &doc.filing
        && f.by != crate::model::FiledBy::Person
    {
        out.push(Change::new("abgelegt_durch", None::<String>, f.by.as_str()));
        if !f.reasons.is_empty() {
            out.push(Change::new("begruendung", None::<String>, f.reasons.join("; ")));
        }
    }
    if let Some(r) = &doc.external_reference {
        out.push(Change::new("fremdes_zeichen", None::<String>, r));
    }
    out
}

fn doc_summary(doc: &Dokument) -> DocSummary {
    let v = doc.current();
    DocSummary {
        id: doc.id,
        title: doc.title.clone(),
        kind: doc.kind,
        received: doc.received,
        versions: v.number,
        file_name: v.file_name.clone(),
        media_type: v.media_type.clone(),
        size: v.size,
        blob: v.blob,
        text: v.text.clone(),
    }
}

fn plan_ref(plan: &Plan) -> ObjectRef {
    ObjectRef { kind: ObjectKind::Plan, id: plan.version.clone(), label: Some(plan.name.clone()) }
}

fn akte_ref(akte: &Akte) -> ObjectRef {
    ObjectRef { kind: ObjectKind::Akte, id: akte.id.to_string(), label: Some(akte.aktenzeichen.to_string()) }
}

fn vorgang_ref(v: &Vorgang) -> ObjectRef {
    ObjectRef { kind: ObjectKind::Vorgang, id: v.id.to_string(), label: Some(v.vorgangszeichen.to_string()) }
}

fn doc_ref(doc: &Dokument) -> ObjectRef {
    ObjectRef { kind: ObjectKind::Dokument, id: doc.id.to_string(), label: Some(doc.title.clone()) }
}

fn zda_event(
    at: Timestamp,
    actor: &Actor,
    action: &str,
    object: ObjectRef,
    before: &Option<Zda>,
    after: &Option<Zda>,
    parent: Option<ObjectRef>,
) -> NewEvent {
    let date = |z: &Option<Zda>| z.as_ref().map(|z| z.date.to_string());
    let end = |z: &Option<Zda>| z.as_ref().and_then(|z| z.retention_end.map(|d| d.to_string()));
    NewEvent {
        at,
        actor: actor.clone(),
        action: action.to_string(),
        object,
        related: parent.into_iter().collect(),
        changes: vec![
            Change::new("zda", date(before), date(after)),
            Change::new("aufbewahrungsende", end(before), end(after)),
        ],
    }
}

#[cfg(test)]
mod crash_tests;
