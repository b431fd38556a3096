//! The store directory: layout, configuration, format version, process lock.
//!
//! ```text
//! <store>/
//!   akten.toml   configuration and format version (checked on open)
//!   lock         flock'd by the one process that owns the store
//!   blobs/       originals (see blobs.rs)
//!   catalog/     sled database (see catalog.rs)
//!   index/       search index (derived state; later issues)
//!   inbox/       mailroom drop folder
//!   failed/      files the mailroom could not take, with reasons
//! ```
//!
//! Invariants:
//! - One process owns a store at a time, through an exclusive `flock` on
//!   `lock`; the file records the holder's pid, user and command so a second
//!   process can say who holds it. The kernel drops the lock when the holder
//!   dies, however it dies.
//! - A store whose format version is not exactly [`FORMAT_VERSION`] is not
//!   opened.
//! - akten.toml is written last when a store is created ([`Store::seal`]):
//!   a directory without it never opens.
//! - A store on a network file system is refused unless akten.toml allows
//!   it: flock and fsync are not reliable there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::catalog::CatalogEngine;
use crate::model::AzTemplate;

/// The store format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

pub const CONFIG_FILE: &str = "akten.toml";
pub const LOCK_FILE: &str = "lock";
const CONFIG_TEMP: &str = "akten.toml.tmp";
const STORE_DIRS: [&str; 6] = ["blobs", "blobs/tmp", "catalog", "index", "inbox", "failed"];

/// What can go wrong opening or creating a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no akten store at {}: create one with `akten init {}`", path.display(), path.display())]
    NotFound { path: PathBuf },
    #[error("{} is not an akten store (it has no akten.toml): point --store at a store, or create one with `akten init DIR`", path.display())]
    NotAStore { path: PathBuf },
    #[error("{} already exists and is not empty: choose a new directory for the store", path.display())]
    NotEmpty { path: PathBuf },
    #[error("the store at {} is in use by {holder}: wait for it to finish, or stop it", path.display())]
    Locked { path: PathBuf, holder: String },
    #[error(
        "store format {found} at {} is newer than this akten understands (format {FORMAT_VERSION}): use a newer akten",
        path.display()
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error(
        "store format {found} at {} is not one this akten can read (format {FORMAT_VERSION}): check that the store is intact",
        path.display()
    )]
    UnknownFormat { path: PathBuf, found: u32 },
    #[error("{}: {message}: fix the file and try again", path.display())]
    BadConfig { path: PathBuf, message: String },
    #[error(
        "the store at {} is on a network file system ({fs}), where locking and fsync are unreliable: move it to a local disk, or set allow_network_filesystem = true under [storage] in akten.toml if you accept the risk",
        path.display()
    )]
    NetworkFilesystem { path: PathBuf, fs: String },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// akten.toml.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub store: StoreSection,
    #[serde(default)]
    pub calendar: CalendarSection,
    #[serde(default)]
    pub aktenzeichen: AktenzeichenSection,
    #[serde(default)]
    pub catalog: CatalogSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub gc: GcSection,
    #[serde(default)]
    pub extract: crate::extract::ExtractConfig,
    #[serde(default)]
    pub mailroom: crate::intake::MailroomConfig,
    #[serde(default)]
    pub serve: ServeSection,
    #[serde(default)]
    pub classify: ClassifySection,
}

/// `[classify]`: what akten may file on its own, and the Posteingang's
/// discard list (see [`crate::classify::Policy`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifySection {
    pub file_on_citation: bool,
    pub threshold: f32,
    pub suggestions: usize,
    /// Days a discarded item is kept before its disposal.
    pub discard_keep_days: u32,
    /// `[[classify.auto]]`: positions where rules or the model may file.
    pub auto: Vec<crate::classify::AutoFiling>,
}

impl Default for ClassifySection {
    fn default() -> Self {
        let policy = crate::classify::Policy::default();
        ClassifySection {
            file_on_citation: policy.file_on_citation,
            threshold: policy.threshold,
            suggestions: policy.suggestions,
            discard_keep_days: 90,
            auto: Vec::new(),
        }
    }
}

impl ClassifySection {
    pub fn policy(&self) -> crate::classify::Policy {
        crate::classify::Policy {
            file_on_citation: self.file_on_citation,
            threshold: self.threshold,
            suggestions: self.suggestions,
            auto: self.auto.clone(),
        }
    }
}

/// `[serve]`: the engine daemon (`akten serve`, src/server.rs). It listens
/// on 127.0.0.1 only; the address is deliberately not configurable.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// TCP port on 127.0.0.1; 0 = any free port (clients read the real one
    /// from `<store>/serve.json`).
    #[serde(default)]
    pub port: u16,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// The store format version; never edit it by hand.
    pub format: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSection {
    /// IANA time zone for calendar dates.
    pub time_zone: String,
}

impl Default for CalendarSection {
    fn default() -> Self {
        Self { time_zone: Calendar::DEFAULT_TIME_ZONE.to_string() }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AktenzeichenSection {
    pub akte: String,
    pub vorgang: String,
}

impl Default for AktenzeichenSection {
    fn default() -> Self {
        Self { akte: AzTemplate::DEFAULT_AKTE.to_string(), vorgang: AzTemplate::DEFAULT_VORGANG.to_string() }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSection {
    /// The key-value engine the catalog was created on; fixed for the store.
    #[serde(default)]
    pub engine: CatalogEngine,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    #[serde(default)]
    pub allow_network_filesystem: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcSection {
    /// Orphan blobs younger than this are left alone: they may belong to an
    /// operation that is still running.
    pub grace_hours: u64,
}

impl Default for GcSection {
    fn default() -> Self {
        Self { grace_hours: 24 }
    }
}

impl Config {
    pub fn new() -> Self {
        Self {
            store: StoreSection { format: FORMAT_VERSION },
            calendar: CalendarSection::default(),
            aktenzeichen: AktenzeichenSection::default(),
            catalog: CatalogSection::default(),
            storage: StorageSection::default(),
            gc: GcSection::default(),
            extract: crate::extract::ExtractConfig::default(),
            mailroom: crate::intake::MailroomConfig::default(),
            serve: ServeSection::default(),
            classify: ClassifySection::default(),
        }
    }

    /// The file as written by `akten init`, with comments for the admin.
    pub fn to_toml(&self) -> String {
        format!(
            "# akten store configuration. See docs/format.md.\n\
             \n\
             [store]\n\
             # Format version of this store. Never edit it: akten checks it on every open.\n\
             format = {format}\n\
             \n\
             [calendar]\n\
             # Calendar dates (Aktenzeichen year, zdA, retention end) are computed in this zone.\n\
             time_zone = \"{tz}\"\n\
             \n\
             [aktenzeichen]\n\
             # Placeholders: {{kennzeichen}}, {{lfd}} or {{lfd:04}} (running number), {{jahr}}.\n\
             akte = \"{akte}\"\n\
             # Placeholders: {{aktenzeichen}}, {{nr}}.\n\
             vorgang = \"{vorgang}\"\n\
             \n\
             [catalog]\n\
             # Key-value engine of the catalog, fixed when the store was created (redb or sled).\n\
             engine = \"{engine}\"\n\
             \n\
             [storage]\n\
             # Network file systems (NFS, SMB) do not lock or sync reliably.\n\
             allow_network_filesystem = {netfs}\n\
             \n\
             [gc]\n\
             # `akten gc` leaves orphan blobs younger than this alone.\n\
             grace_hours = {grace}\n\
             \n\
             [extract]\n\
             # Text of PDFs and scans is read in a worker process under these limits.\n\
             # OCR needs the tesseract program (Debian: tesseract-ocr tesseract-ocr-deu);\n\
             # without it scans are stored and wait for `akten ocr --pending`.\n\
             ocr = {ocr}\n\
             ocr_language = \"{lang}\"\n\
             tesseract = \"{tesseract}\"\n\
             # Parallel OCR processes; 0 = one per core.\n\
             ocr_jobs = {jobs}\n\
             page_timeout_secs = {page_timeout}\n\
             file_timeout_secs = {file_timeout}\n\
             # Address-space limit of the worker and its OCR processes.\n\
             memory_mib = {memory}\n\
             max_pages = {pages}\n\
             max_pixels = {pixels}\n\
             max_decompressed_mib = {decompressed}\n\
             max_text_mib = {text}\n\
             \n\
             [serve]\n\
             # `akten serve` listens on 127.0.0.1 at this port; 0 = any free port\n\
             # (the CLI finds the real one in serve.json in the store).\n\
             port = {port}\n\
             \n\
             [classify]\n\
             # akten files on its own on a cover sheet and on a cited Aktenzeichen\n\
             # or Vorgangszeichen of one open Akte (\"Ihr Zeichen: ...\"):\n\
             file_on_citation = {citation}\n\
             # Confidence that rules or the model must reach where [[classify.auto]]\n\
             # switches them on (0..1):\n\
             threshold = {threshold}\n\
             # Suggestions kept for each Posteingang item:\n\
             suggestions = {suggestions}\n\
             # Days a discarded item (advert, misdelivered, personal) is kept:\n\
             discard_keep_days = {discard}\n\
             # [[classify.auto]]\n\
             # position = \"020.01\"   # this position and all below it\n\
             # rules = true\n\
             # model = true\n\
             # threshold = 0.95\n\
             \n\
             [mailroom]\n\
             # `akten serve` takes files from <store>/inbox and the station folders below.\n\
             # A file is taken once its size and time stayed unchanged this long:\n\
             stable_secs = {stable}\n\
             # A stable file that still looks cut off goes to failed/ after this long:\n\
             incomplete_secs = {incomplete}\n\
             # Full listing as a safety net for lost file system events:\n\
             rescan_secs = {rescan}\n\
             # Poll instead of events (network shares mounted here report no events):\n\
             poll = {poll}\n\
             poll_secs = {poll_secs}\n\
             # A file that crashes the text reader this often goes to failed/:\n\
             max_attempts = {attempts}\n\
             # Paper originals of scans may be destroyed this many months after filing:\n\
             paper_retention_months = {paper}\n\
             summary_secs = {summary}\n\
             # Files read at the same time, each by its own worker; 0 = one per core:\n\
             readers = {readers}\n\
             \n\
             # The store's inbox as a station (scan record defaults):\n\
             # [mailroom.inbox]\n\
             # name = \"inbox\"\n\
             # operator = \"Poststelle\"\n\
             # device = \"...\"\n\
             #\n\
             # One section per further scanner station:\n\
             # [[mailroom.station]]\n\
             # name = \"poststelle-1\"\n\
             # folder = \"/srv/scan/poststelle-1\"\n\
             # target = \"610.07-0001/2026\"   # Akte or Vorgang for sheets without a cover sheet\n\
             # kind = \"eingang\"\n\
             # unit = \"61\"\n\
             # operator = \"Frau Beispiel\"\n\
             # device = \"Scanner model, serial\"\n\
             # blank_pages_removed = false\n\
             # poll = true                     # for a network share\n",
            format = self.store.format,
            tz = self.calendar.time_zone,
            akte = self.aktenzeichen.akte,
            vorgang = self.aktenzeichen.vorgang,
            engine = self.catalog.engine,
            netfs = self.storage.allow_network_filesystem,
            grace = self.gc.grace_hours,
            ocr = self.extract.ocr,
            lang = self.extract.ocr_language,
            tesseract = self.extract.tesseract,
            jobs = self.extract.ocr_jobs,
            page_timeout = self.extract.page_timeout_secs,
            file_timeout = self.extract.file_timeout_secs,
            memory = self.extract.memory_mib,
            pages = self.extract.max_pages,
            pixels = self.extract.max_pixels,
            decompressed = self.extract.max_decompressed_mib,
            text = self.extract.max_text_mib,
            stable = self.mailroom.stable_secs,
            incomplete = self.mailroom.incomplete_secs,
            rescan = self.mailroom.rescan_secs,
            poll = self.mailroom.poll,
            poll_secs = self.mailroom.poll_secs,
            attempts = self.mailroom.max_attempts,
            paper = self.mailroom.paper_retention_months,
            summary = self.mailroom.summary_secs,
            readers = self.mailroom.readers,
            port = self.serve.port,
            citation = self.classify.file_on_citation,
            threshold = self.classify.threshold,
            suggestions = self.classify.suggestions,
            discard = self.classify.discard_keep_days,
        )
    }

    /// Parses and checks akten.toml; the format version is checked first so
    /// that a newer store is reported as such, not as a bad config.
    pub fn parse(text: &str, path: &Path) -> Result<Config, StoreError> {
        let bad = |message: String| StoreError::BadConfig { path: path.to_path_buf(), message };
        let value: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let format = value
            .get("store")
            .and_then(|s| s.get("format"))
            .and_then(|f| f.as_integer())
            .ok_or_else(|| bad("[store] format is missing".into()))?;
        let store_dir = path.parent().unwrap_or(path).to_path_buf();
        let found = u32::try_from(format).unwrap_or(0);
        if found > FORMAT_VERSION {
            return Err(StoreError::TooNew { path: store_dir, found });
        }
        if found != FORMAT_VERSION {
            return Err(StoreError::UnknownFormat { path: store_dir, found });
        }
        let config: Config = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        Calendar::new(&config.calendar.time_zone).map_err(|e| bad(e.to_string()))?;
        AzTemplate::for_akte(&config.aktenzeichen.akte).map_err(|e| bad(format!("[aktenzeichen] akte: {e}")))?;
        AzTemplate::for_vorgang(&config.aktenzeichen.vorgang)
            .map_err(|e| bad(format!("[aktenzeichen] vorgang: {e}")))?;
        let c = &config.classify;
        if !(0.0..=1.0).contains(&c.threshold)
            || c.auto.iter().any(|a| a.threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)))
        {
            return Err(bad("[classify] threshold must be between 0 and 1".into()));
        }
        if c.suggestions == 0 {
            return Err(bad("[classify] suggestions must be at least 1".into()));
        }
        Ok(config)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// An open store: its paths, its configuration and the lock that makes this
/// process its owner. Dropping it releases the lock.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    config: Config,
    _lock: File,
}

impl Store {
    /// Starts a new store at `root` (which must not exist, be empty, or hold
    /// the remains of an interrupted `init`) and takes its lock. The store
    /// is not a store until [`Store::seal`] writes akten.toml, after the
    /// caller has created its catalog and committed its plan: a directory
    /// without akten.toml never opens, so a crash in between leaves nothing
    /// half-made that could be used, and `init` can simply be run again.
    pub fn create(root: &Path, config: Config, command: &str) -> Result<Store, StoreError> {
        if root.exists() {
            clear_interrupted_init(root)?;
        }
        fs::create_dir_all(root).map_err(io_err(root))?;
        let root = root.canonicalize().map_err(io_err(root))?;
        check_filesystem(&root, &config)?;
        let lock = take_lock(&root, command)?;
        for dir in STORE_DIRS {
            let path = root.join(dir);
            fs::create_dir_all(&path).map_err(io_err(&path))?;
        }
        Ok(Store { root, config, _lock: lock })
    }

    /// Finishes [`Store::create`]: writes akten.toml (temp file, fsync,
    /// rename, fsync directory). Call it last.
    pub fn seal(&self) -> Result<(), StoreError> {
        let root = &self.root;
        let config_path = root.join(CONFIG_FILE);
        let temp = root.join(CONFIG_TEMP);
        let mut file = File::create(&temp).map_err(io_err(&temp))?;
        file.write_all(self.config.to_toml().as_bytes()).map_err(io_err(&temp))?;
        file.sync_all().map_err(io_err(&temp))?;
        fs::rename(&temp, &config_path).map_err(io_err(&config_path))?;
        crate::blobs::sync_dir(root).map_err(io_err(root))
    }

    /// Opens the existing store at `root` and takes its lock, recording
    /// `command` as what holds it.
    pub fn open(root: &Path, command: &str) -> Result<Store, StoreError> {
        if !root.exists() {
            return Err(StoreError::NotFound { path: root.to_path_buf() });
        }
        let config_path = root.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(StoreError::NotAStore { path: root.to_path_buf() });
        }
        let root = root.canonicalize().map_err(io_err(root))?;
        let config_path = root.join(CONFIG_FILE);
        let text = fs::read_to_string(&config_path).map_err(io_err(&config_path))?;
        let config = Config::parse(&text, &config_path)?;
        check_filesystem(&root, &config)?;
        let lock = take_lock(&root, command)?;
        Ok(Store { root, config, _lock: lock })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }
    pub fn catalog_dir(&self) -> PathBuf {
        self.root.join("catalog")
    }
    /// The search index: derived from the catalog, rebuildable any time.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }
}

/// Accepts an empty directory, and one that holds only what an interrupted
/// `init` leaves (akten's own entries, no akten.toml), which it removes:
/// without akten.toml no operation can have stored anything there.
fn clear_interrupted_init(root: &Path) -> Result<(), StoreError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(root).map_err(io_err(root))? {
        names.push(entry.map_err(io_err(root))?.file_name());
    }
    let ours = |name: &std::ffi::OsStr| {
        name == LOCK_FILE || name == CONFIG_TEMP || STORE_DIRS.iter().any(|d| !d.contains('/') && name == *d)
    };
    if names.is_empty() {
        return Ok(());
    }
    if root.join(CONFIG_FILE).exists() || !names.iter().all(|n| ours(n)) {
        return Err(StoreError::NotEmpty { path: root.to_path_buf() });
    }
    // Another `init` may still be running here: its lock says so.
    drop(take_lock(root, "akten init (clearing an interrupted init)")?);
    for name in names {
        let path = root.join(&name);
        if name == LOCK_FILE {
            continue;
        }
        let removed = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        removed.map_err(io_err(&path))?;
    }
    Ok(())
}

/// Takes the exclusive lock on `<root>/lock` without waiting, then records
/// who holds it.
fn take_lock(root: &Path, command: &str) -> Result<File, StoreError> {
    let path = root.join(LOCK_FILE);
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_err(&path))?;
    // SAFETY: flock on a file descriptor we own; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = describe_holder(&holder);
            return Err(StoreError::Locked { path: root.to_path_buf(), holder });
        }
        return Err(StoreError::Io { path, source: err });
    }
    let since = jiff::Timestamp::now().to_string();
    let record = format!(
        "pid={}\nuser={}\nsince={since}\ncommand={}\n",
        std::process::id(),
        current_os_user(),
        command.replace('\n', " ")
    );
    file.set_len(0).map_err(io_err(&path))?;
    file.rewind().map_err(io_err(&path))?;
    file.write_all(record.as_bytes()).map_err(io_err(&path))?;
    Ok(file)
}

fn describe_holder(record: &str) -> String {
    let field =
        |name: &str| record.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('='))).map(str::trim);
    // The record is written just after the lock is taken: one naming a
    // process that is gone is the last holder's, and the new one is
    // still writing its own.
    let alive = |pid: &str| {
        pid.parse::<i32>().is_ok_and(|pid| {
            // SAFETY: signal 0 only checks that the process exists.
            unsafe { libc::kill(pid, 0) == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
        })
    };
    match (field("pid"), field("command")) {
        (Some(pid), Some(command)) if alive(pid) => {
            let user = field("user").map(|u| format!(", user {u}")).unwrap_or_default();
            let since = field("since").map(|s| format!(", since {s}")).unwrap_or_default();
            format!("pid {pid} ({command}{user}{since})")
        }
        _ => UNKNOWN_HOLDER.to_string(),
    }
}

/// How a lock holder that has not (yet) written its record is described.
pub const UNKNOWN_HOLDER: &str = "another process";

/// The name of the OS user running this process, from the user database
/// (never from environment variables, which anyone can set).
pub fn current_os_user() -> String {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buf, pwd and result outlive the call; buf's length is passed.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: getpwuid_r succeeded, so pw_name points to a NUL-terminated
        // string inside buf.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        if let Ok(name) = name.to_str()
            && !name.is_empty()
        {
            return name.to_string();
        }
    }
    format!("uid:{uid}")
}

/// Known network file systems by their statfs magic number.
const NETWORK_FILESYSTEMS: &[(i64, &str)] = &[
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x0000_5346_414F, "AFS"),
    (0x0102_1997, "9P"),
    (0x00C3_6400, "Ceph"),
    (0x0BD0_0BD0, "Lustre"),
    (0x4741_5346_4D45, "GlusterFS"),
];

fn check_filesystem(root: &Path, config: &Config) -> Result<(), StoreError> {
    if config.storage.allow_network_filesystem {
        return Ok(());
    }
    match filesystem_type(root) {
        Ok(Some(fs)) => Err(StoreError::NetworkFilesystem { path: root.to_path_buf(), fs: fs.to_string() }),
        Ok(None) => Ok(()),
        Err(source) => Err(StoreError::Io { path: root.to_path_buf(), source }),
    }
}

/// The network file system `path` lies on, if any.
pub fn filesystem_type(path: &Path) -> io::Result<Option<&'static str>> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is NUL-terminated and stat is a valid out-pointer.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast, reason = "f_type's width differs between targets")]
    let magic = stat.f_type as i64;
    Ok(NETWORK_FILESYSTEMS.iter().find(|(m, _)| *m == magic).map(|(_, name)| *name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_open_and_lock() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = Store::create(&root, Config::new(), "akten init").unwrap();
        store.seal().unwrap();
        for sub in ["blobs", "catalog", "index", "inbox", "failed"] {
            assert!(root.join(sub).is_dir(), "{sub}");
        }
        // flock locks are per open file description, so a second open in the
        // same process conflicts just like another process would.
        let err = Store::open(&root, "akten verify").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
        assert!(msg.contains("akten init"), "{msg}");
        drop(store);
        Store::open(&root, "akten verify").unwrap();
    }

    #[test]
    fn format_version_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        Store::create(&root, Config::new(), "t").unwrap().seal().unwrap();
        let path = root.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("format = 1", "format = 2")).unwrap();
        assert!(matches!(Store::open(&root, "t"), Err(StoreError::TooNew { found: 2, .. })));
        fs::write(&path, text.replace("format = 1", "format = 0")).unwrap();
        assert!(matches!(Store::open(&root, "t"), Err(StoreError::UnknownFormat { found: 0, .. })));
        fs::write(&path, text.replace("Europe/Berlin", "Mars/Olympus")).unwrap();
        let err = Store::open(&root, "t").unwrap_err().to_string();
        assert!(err.contains("unknown time zone 'Mars/Olympus'"), "{err}");
        fs::write(&path, text.replace("{lfd:04}", "")).unwrap();
        let err = Store::open(&root, "t").unwrap_err().to_string();
        assert!(err.contains("{lfd}"), "{err}");
    }

    #[test]
    fn refuses_non_empty_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), b"").unwrap();
        assert!(matches!(Store::create(dir.path(), Config::new(), "t"), Err(StoreError::NotEmpty { .. })));
        assert!(matches!(Store::open(&dir.path().join("nope"), "t"), Err(StoreError::NotFound { .. })));
        assert!(matches!(Store::open(dir.path(), "t"), Err(StoreError::NotAStore { .. })));
    }

    #[test]
    fn interrupted_init_never_opens_and_can_be_redone() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("s");
        let store = Store::create(&root, Config::new(), "akten init").unwrap();
        fs::write(root.join("catalog").join("half-written"), b"x").unwrap();
        drop(store); // stopped before seal()
        assert!(matches!(Store::open(&root, "t"), Err(StoreError::NotAStore { .. })));
        let store = Store::create(&root, Config::new(), "akten init").unwrap();
        assert!(!root.join("catalog").join("half-written").exists());
        store.seal().unwrap();
        drop(store);
        Store::open(&root, "t").unwrap();
        // A finished store, or a directory with other files, is never cleared.
        assert!(matches!(Store::create(&root, Config::new(), "t"), Err(StoreError::NotEmpty { .. })));
        fs::write(dir.path().join("other"), b"").unwrap();
        fs::create_dir(dir.path().join("catalog")).unwrap();
        assert!(matches!(Store::create(dir.path(), Config::new(), "t"), Err(StoreError::NotEmpty { .. })));
        assert!(dir.path().join("other").exists());
    }

    #[test]
    fn local_tmp_is_not_a_network_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(filesystem_type(dir.path()).unwrap(), None);
    }
}
