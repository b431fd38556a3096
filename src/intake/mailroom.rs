//! The mailroom loop: watches the station folders, waits until a file is
//! stable and complete, and hands it to the engine, one file at a time.
//!
//! Sources of file names, all feeding one table of tracked files:
//! native events (notify/inotify) for local folders, a full listing at
//! start and every `rescan_secs` (events are lost while nothing runs, and
//! inotify is not a complete record), and a listing every `poll_secs` for
//! folders in polling mode (network shares). A file is only ever looked at
//! by this one thread, so it is never queued twice.
//!
//! A tracked file is ready once its size and modification time stayed the
//! same for `stable_secs` and it looks complete (end markers); a file that
//! stays incomplete for `incomplete_secs` more goes to failed/.
//! What happens to the file afterwards is decided by the engine's
//! [`IntakeOutcome`]; this loop only moves or removes it, after the commit.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use notify::Watcher;

use super::{MailroomConfig, StationConfig, error_text, ignored, looks_complete};
use crate::engine::{Engine, IntakeOutcome, Prepare};

/// How often the loop wakes up to look at tracked files.
const TICK: Duration = Duration::from_millis(250);
/// Wait before a file the text reader crashed on is tried again.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// Wait before a file is tried again after a store error (disk full...).
const ERROR_DELAY: Duration = Duration::from_secs(30);

/// A file seen in a station folder.
struct Tracked {
    station: usize,
    size: u64,
    modified: Option<SystemTime>,
    /// Last time size or modification time changed (or first seen).
    changed_at: Instant,
    /// Not before this time (after a retryable failure).
    not_before: Option<Instant>,
}

/// Counters for the summary line.
#[derive(Default)]
struct Counts {
    files: u64,
    documents: u64,
    already: u64,
    failed: u64,
}

/// What the reader threads share.
struct Shared {
    engine: Arc<Mutex<Engine>>,
    config: MailroomConfig,
    stations: Vec<StationConfig>,
    failed_dir: PathBuf,
    log: Box<dyn Fn(&str) + Send + Sync>,
}

/// What became of a file, for the counters and the table of tracked files.
enum Effect {
    Taken {
        documents: u64,
    },
    Already,
    Failed,
    /// Look at it again after this long (crash retry, store error, busy).
    Again(Duration),
    Gone,
}

/// The mailroom of one store.
pub struct Mailroom {
    shared: Shared,
    polling: Vec<bool>,
    tracked: HashMap<PathBuf, Tracked>,
    /// One text reader (worker process) per file read at the same time.
    readers: Vec<crate::extract::Extractor>,
    counts: Counts,
    since_summary: Counts,
}

impl Mailroom {
    /// A mailroom over the engine's store; `log` receives one line per
    /// event worth telling (outcomes, summaries, problems). Files are read
    /// `[mailroom] readers` at a time (0: one per core), each by its own
    /// worker; the engine's lock is held only to stage and to commit.
    pub fn new(engine: Arc<Mutex<Engine>>, log: Box<dyn Fn(&str) + Send + Sync>) -> Mailroom {
        let (config, root, failed_dir, readers) = {
            let e = engine.lock().unwrap_or_else(|p| p.into_inner());
            let config = e.mailroom_config().clone();
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            let n = if config.readers == 0 { cores } else { config.readers };
            // The OCR processes of all readers together use every core once.
            let ocr_jobs = e.config().extract.jobs().div_ceil(n);
            let readers = (0..n).map(|_| e.intake_extractor(ocr_jobs)).collect::<Vec<_>>();
            (config, e.root().to_path_buf(), e.failed_dir(), readers)
        };
        let stations = config.stations(&root);
        let polling = stations.iter().map(|s| s.poll.unwrap_or(config.poll)).collect();
        Mailroom {
            shared: Shared { engine, config, stations, failed_dir, log },
            polling,
            tracked: HashMap::new(),
            readers,
            counts: Counts::default(),
            since_summary: Counts::default(),
        }
    }

    /// Runs until `stop()` says so (checked between files: the file in
    /// hand is finished and committed first). With `once`, returns as soon
    /// as every file present at the start (and since) is dealt with.
    pub fn run(&mut self, stop: &dyn Fn() -> bool, once: bool) {
        for (i, station) in self.shared.stations.iter().enumerate() {
            if i == 0 {
                let _ = std::fs::create_dir_all(&station.folder);
            }
            if !station.folder.is_dir() {
                (self.shared.log)(&format!(
                    "station {}: folder {} does not exist (yet); it is looked for at every rescan",
                    station.name,
                    station.folder.display()
                ));
            }
        }
        let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watchers = Vec::new();
        for i in 0..self.shared.stations.len() {
            if self.polling[i] {
                continue;
            }
            let tx = tx.clone();
            let folder = self.shared.stations[i].folder.clone();
            let watcher = notify::recommended_watcher(move |event| {
                let _ = tx.send(event);
            })
            .and_then(|mut w| w.watch(&folder, notify::RecursiveMode::NonRecursive).map(|()| w));
            match watcher {
                Ok(w) => watchers.push(w),
                Err(e) => {
                    (self.shared.log)(&format!(
                        "station {}: no file system events for {} ({e}); polling it every {} s instead",
                        self.shared.stations[i].name,
                        folder.display(),
                        self.shared.config.poll_secs
                    ));
                    self.polling[i] = true;
                }
            }
        }
        let stations: Vec<String> = self
            .shared
            .stations
            .iter()
            .zip(&self.polling)
            .map(|(s, p)| format!("{} ({}{})", s.name, s.folder.display(), if *p { ", polled" } else { "" }))
            .collect();
        (self.shared.log)(&format!("mailroom: watching {}", stations.join(", ")));

        let rescan_every = Duration::from_secs(self.shared.config.rescan_secs.max(1));
        let poll_every = Duration::from_secs(self.shared.config.poll_secs.max(1));
        let summary_every = Duration::from_secs(self.shared.config.summary_secs.max(1));
        self.rescan(false);
        let mut next_rescan = Instant::now() + rescan_every;
        let mut next_poll = Instant::now() + poll_every;
        let mut next_summary = Instant::now() + summary_every;
        while !stop() {
            match rx.recv_timeout(TICK) {
                Ok(event) => {
                    self.on_event(event);
                    while let Ok(event) = rx.try_recv() {
                        self.on_event(event);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
            }
            let now = Instant::now();
            if now >= next_rescan {
                self.rescan(false);
                next_rescan = now + rescan_every;
            } else if now >= next_poll {
                self.rescan(true);
                next_poll = now + poll_every;
            }
            let ready = self.ready();
            let total = ready.len();
            if total > 1 {
                (self.shared.log)(&format!("mailroom: taking {total} files"));
            }
            self.take_all(ready, stop);
            if total > 0 {
                let mut engine = self.shared.engine.lock().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = engine.catch_up_index() {
                    (self.shared.log)(&format!("search index: {e} (it catches up with the next request)"));
                }
            }
            if Instant::now() >= next_summary {
                self.summary();
                next_summary = Instant::now() + summary_every;
            }
            // Tracked files include those waiting for a retry.
            if once && self.tracked.is_empty() {
                break;
            }
        }
        drop(watchers);
        if self.counts.files + self.counts.failed > 0 {
            (self.shared.log)(&format!(
                "mailroom: stopped; {} files taken in ({} documents), {} already known, {} failed",
                self.counts.files, self.counts.documents, self.counts.already, self.counts.failed
            ));
        }
    }

    fn on_event(&mut self, event: notify::Result<notify::Event>) {
        match event {
            Ok(event) => {
                for path in event.paths {
                    self.see(&path);
                }
            }
            // Overflow or a watch error: a listing finds what was missed.
            Err(_) => self.rescan(false),
        }
    }

    /// Lists every folder (only the polled ones with `polled_only`).
    fn rescan(&mut self, polled_only: bool) {
        let mut present = Vec::new();
        for i in 0..self.shared.stations.len() {
            if polled_only && !self.polling[i] {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&self.shared.stations[i].folder) else { continue };
            for entry in entries.flatten() {
                present.push(entry.path());
            }
        }
        for path in present {
            self.see(&path);
        }
        // Forget files that went away (taken by hand, renamed).
        self.tracked.retain(|p, _| p.exists());
    }

    /// Notes a file in a station folder, or a change to one.
    fn see(&mut self, path: &Path) {
        let Some(station) = self.station_of(path) else { return };
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
        if ignored(&name) {
            return;
        }
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => m,
            _ => {
                self.tracked.remove(path);
                return;
            }
        };
        let (size, modified) = (meta.len(), meta.modified().ok());
        let now = Instant::now();
        let entry = self.tracked.entry(path.to_path_buf()).or_insert(Tracked {
            station,
            size,
            modified,
            changed_at: now,
            not_before: None,
        });
        if entry.size != size || entry.modified != modified {
            entry.size = size;
            entry.modified = modified;
            entry.changed_at = now;
        }
    }

    fn station_of(&self, path: &Path) -> Option<usize> {
        let parent = path.parent()?;
        self.shared.stations.iter().position(|s| s.folder == parent)
    }

    /// Files that are stable and complete now, oldest first; files that
    /// stayed incomplete too long are put in failed/ on the way.
    fn ready(&mut self) -> Vec<PathBuf> {
        let stable = Duration::from_secs(self.shared.config.stable_secs);
        let incomplete = Duration::from_secs(self.shared.config.incomplete_secs);
        let now = Instant::now();
        let paths: Vec<PathBuf> = self.tracked.keys().cloned().collect();
        let mut ready = Vec::new();
        let mut give_up = Vec::new();
        for path in paths {
            // Look again: a writer may have added bytes without an event (polling).
            self.see(&path);
            let Some(t) = self.tracked.get_mut(&path) else { continue };
            if t.not_before.is_some_and(|nb| now < nb) || now.duration_since(t.changed_at) < stable {
                continue;
            }
            match complete(&path, t.size) {
                Ok(()) => ready.push((t.changed_at, path)),
                Err(reason) if now.duration_since(t.changed_at) >= stable + incomplete => {
                    give_up.push((path, reason.to_string()));
                }
                Err(_) => {}
            }
        }
        for (path, reason) in give_up {
            let station = self.tracked.remove(&path).map(|t| t.station).unwrap_or(0);
            let reason = format!(
                "{reason}; it did not change for {} s",
                self.shared.config.stable_secs + self.shared.config.incomplete_secs
            );
            if self.shared.fail(&path, station, &reason) {
                self.counted(&Effect::Failed);
            }
        }
        ready.sort();
        ready.into_iter().map(|(_, p)| p).collect()
    }

    /// Takes the ready files in, up to one per reader at a time, in order
    /// of arrival; stops starting new ones once `stop()` says so.
    fn take_all(&mut self, ready: Vec<PathBuf>, stop: &dyn Fn() -> bool) {
        let total = ready.len();
        let items: Vec<(PathBuf, Tracked)> =
            ready.into_iter().filter_map(|p| self.tracked.remove(&p).map(|t| (p, t))).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let effects: Mutex<Vec<(usize, Effect)>> = Mutex::new(Vec::new());
        let shared = &self.shared;
        let stop_flag = std::sync::atomic::AtomicBool::new(false);
        // `stop` need not be Sync: it is asked on this thread only, between
        // files, and passed on through a flag.
        std::thread::scope(|scope| {
            let jobs = self.readers.len().min(items.len()).max(1);
            for reader in self.readers.iter_mut().take(jobs) {
                let (items, next, effects, stop_flag) = (&items, &next, &effects, &stop_flag);
                scope.spawn(move || {
                    loop {
                        if stop_flag.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((path, tracked)) = items.get(i) else { break };
                        let progress = if total > 1 { format!("[{}/{total}] ", i + 1) } else { String::new() };
                        let effect = shared.take(reader, path, tracked.station, &progress);
                        effects.lock().unwrap_or_else(|p| p.into_inner()).push((i, effect));
                    }
                });
            }
            while next.load(std::sync::atomic::Ordering::Relaxed) < items.len() {
                if stop() {
                    stop_flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let effects = effects.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut done = vec![false; items.len()];
        for (i, effect) in effects {
            done[i] = true;
            self.counted(&effect);
            if let Effect::Again(after) = effect {
                let (path, tracked) = &items[i];
                self.tracked.insert(path.clone(), Tracked { not_before: Some(Instant::now() + after), ..*tracked });
            }
        }
        // Files not started (stopping): tracked again, as they were.
        for (i, (path, tracked)) in items.into_iter().enumerate() {
            if !done[i] {
                self.tracked.insert(path, tracked);
            }
        }
    }

    fn counted(&mut self, effect: &Effect) {
        for c in [&mut self.counts, &mut self.since_summary] {
            match effect {
                Effect::Taken { documents } => {
                    c.files += 1;
                    c.documents += documents;
                }
                Effect::Already => c.already += 1,
                Effect::Failed => c.failed += 1,
                Effect::Again(_) | Effect::Gone => {}
            }
        }
    }

    fn summary(&mut self) {
        let s = std::mem::take(&mut self.since_summary);
        let waiting = self.tracked.len();
        if s.files + s.already + s.failed == 0 && waiting == 0 {
            return;
        }
        (self.shared.log)(&format!(
            "mailroom: {} files taken in ({} documents), {} already known, {} failed in the last {} s; {waiting} waiting (being written or not yet stable)",
            s.files, s.documents, s.already, s.failed, self.shared.config.summary_secs
        ));
    }
}

impl Shared {
    /// Takes one file in: stage under the lock, read with `reader` without
    /// it, commit under it; then removes the file or moves it to failed/.
    fn take(&self, reader: &mut crate::extract::Extractor, path: &Path, station: usize, progress: &str) -> Effect {
        let st = &self.stations[station];
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let lock = || self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let prepared = lock().intake_prepare(path);
        let outcome = match prepared {
            Ok(Prepare::Done(outcome)) => Ok(outcome),
            Ok(Prepare::Ready(prepared)) => {
                let extraction = prepared.read(reader);
                lock().intake_finish(prepared, st, extraction)
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(IntakeOutcome::Taken { docs, cover_sheets, .. }) => {
                if let Err(e) = remove_synced(path) {
                    (self.log)(&format!(
                        "{progress}{name}: taken in, but it cannot be removed from the folder ({e}); it will be recognised and removed later"
                    ));
                }
                let places: Vec<String> = docs
                    .iter()
                    .map(|d| {
                        let pages =
                            if docs.len() > 1 { format!(" (p. {}-{})", d.pages.0, d.pages.1) } else { String::new() };
                        let note = d.note.as_deref().map(|n| format!(" [{n}]")).unwrap_or_default();
                        format!("{} {}{pages}{note}", d.doc.short(), d.place.label())
                    })
                    .collect();
                let covers =
                    if cover_sheets > 0 { format!(", {cover_sheets} cover sheets removed") } else { String::new() };
                (self.log)(&format!("{progress}{name} ({}): {}{covers}", st.name, places.join("; ")));
                Effect::Taken { documents: docs.len() as u64 }
            }
            Ok(IntakeOutcome::AlreadyTaken { docs, .. }) => {
                let _ = remove_synced(path);
                let ids: Vec<String> = docs.iter().map(|d| d.short()).collect();
                (self.log)(&format!(
                    "{progress}{name} ({}): already taken in as {}; removed from the folder",
                    st.name,
                    ids.join(", ")
                ));
                Effect::Already
            }
            Ok(IntakeOutcome::Retry { reason, attempt }) => {
                (self.log)(&format!(
                    "{progress}{name} ({}): attempt {attempt} of {} failed ({reason}); trying again",
                    st.name, self.config.max_attempts
                ));
                Effect::Again(RETRY_DELAY)
            }
            Ok(IntakeOutcome::Busy) => Effect::Again(RETRY_DELAY),
            Ok(IntakeOutcome::Failed { reason }) => {
                if self.fail(path, station, &reason) {
                    Effect::Failed
                } else {
                    Effect::Again(ERROR_DELAY)
                }
            }
            Ok(IntakeOutcome::Gone) => Effect::Gone,
            Err(e) => {
                (self.log)(&format!(
                    "{progress}{name} ({}): not taken in: {e}; left in the folder, tried again in {} s",
                    st.name,
                    ERROR_DELAY.as_secs()
                ));
                Effect::Again(ERROR_DELAY)
            }
        }
    }

    /// Moves the file to failed/ and writes why beside it; false where it
    /// could not (it stays in its folder and is tried again later).
    fn fail(&self, path: &Path, station: usize, reason: &str) -> bool {
        let station = &self.stations[station];
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Err(e) = std::fs::create_dir_all(&self.failed_dir) {
            (self.log)(&format!("{name}: cannot create {} ({e}); left in the folder", self.failed_dir.display()));
            return false;
        }
        let dest = free_name(&self.failed_dir, &name);
        let dest_name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let at = self.engine.lock().unwrap_or_else(|p| p.into_inner()).calendar().display(jiff::Timestamp::now());
        // The reason first, then the file: a file in failed/ without its
        // reason would be a puzzle, a reason without its file is harmless.
        let error_file = self.failed_dir.join(format!("{dest_name}.error.txt"));
        let text = error_text(&dest_name, station, reason, &at);
        if let Err(e) = std::fs::write(&error_file, text) {
            (self.log)(&format!("{name}: cannot write {} ({e}); left in the folder", error_file.display()));
            return false;
        }
        if let Err(e) = move_file(path, &dest) {
            let _ = std::fs::remove_file(&error_file);
            (self.log)(&format!("{name}: cannot be moved to failed/ ({e}); left in the folder"));
            return false;
        }
        let _ = crate::blobs::sync_dir(&self.failed_dir);
        (self.log)(&format!("{name} ({}): failed: {reason}; moved to failed/{dest_name}", station.name));
        true
    }
}

/// Reads the first and last bytes and judges completeness.
fn complete(path: &Path, len: u64) -> Result<(), &'static str> {
    let mut file = std::fs::File::open(path).map_err(|_| "it cannot be opened")?;
    let mut head = [0u8; 16];
    let n = file.read(&mut head).map_err(|_| "it cannot be read")?;
    let tail_len = len.min(2048);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len)).map_err(|_| "it cannot be read")?;
    file.read_exact(&mut tail).map_err(|_| "it cannot be read")?;
    looks_complete(len, &head[..n], &tail)
}

/// Removes the file and syncs its folder, so the removal survives a crash
/// (a file that comes back is recognised by its hash anyway).
fn remove_synced(path: &Path) -> std::io::Result<()> {
    std::fs::remove_file(path)?;
    if let Some(dir) = path.parent() {
        let _ = crate::blobs::sync_dir(dir);
    }
    Ok(())
}

/// `dir/name`, or `dir/stem (2).ext` etc. where that is taken.
pub(crate) fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let path = Path::new(name);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (2..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| {
            !p.exists()
                && !p
                    .with_file_name(format!("{}.error.txt", p.file_name().unwrap_or_default().to_string_lossy()))
                    .exists()
        })
        .expect("some free name")
}

/// Renames, or copies and removes across file systems (a station folder on
/// another disk); the copy is synced before the original goes.
pub(crate) fn move_file(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            std::fs::copy(from, to)?;
            std::fs::File::open(to)?.sync_all()?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(e),
    }
}
