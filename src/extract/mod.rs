//! Text extraction: what akten reads out of a stored original, and the
//! isolation that keeps a hostile file from taking the store down with it.
//!
//! The parent side ([`Extractor`]) never parses a PDF or an image itself. It
//! hands the path of a durable blob to a worker subprocess (the same binary,
//! `akten __extract-worker`, see [`worker`]) that runs under resource limits
//! ([`ExtractConfig`]): address space (rlimit), a wall-clock timeout per
//! file, pages, pixels per image and decompressed bytes per stream. The
//! worker reads born-digital text with lopdf ([`pdf`]) and sends scanned
//! pages and images to OCR ([`ocr`]).
//!
//! Invariants:
//! - [`Extractor::extract`] never fails: every way a file can go wrong (a
//!   parse error, a crash, out of memory, a timeout) becomes a
//!   [`TextStatus`] with a reason, and the original is stored regardless.
//! - A worker that died or timed out is replaced; the next file starts in a
//!   fresh process.
//! - Text is extracted from the durable blob, never from the user's file,
//!   so the text belongs to exactly the bytes the catalog records.

pub mod ocr;
pub mod pdf;
pub mod qr;
pub mod worker;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{TextInfo, TextStatus};

/// `[extract]` in akten.toml: OCR and the limits of the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractConfig {
    /// Run OCR on scanned pages and images. Off, scans wait for
    /// `akten ocr --pending`.
    pub ocr: bool,
    /// Tesseract language(s), e.g. `deu` or `deu+eng`.
    pub ocr_language: String,
    /// The tesseract program (a name on PATH or a path).
    pub tesseract: String,
    /// Parallel OCR processes; 0 means one per core.
    pub ocr_jobs: usize,
    /// Seconds one page may take in OCR.
    pub page_timeout_secs: u64,
    /// Seconds one file may take in all.
    pub file_timeout_secs: u64,
    /// Address-space limit of the worker (and its OCR processes), MiB.
    pub memory_mib: u64,
    /// Pages read per file; the rest is left out and the text marked partial.
    pub max_pages: u32,
    /// Pixels per image; larger images are not decoded or OCR'd.
    pub max_pixels: u64,
    /// Bytes one PDF stream may decompress to, MiB.
    pub max_decompressed_mib: u64,
    /// Text kept per version, MiB (the rest is cut off, marked partial).
    pub max_text_mib: u64,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            ocr: true,
            ocr_language: "deu".into(),
            tesseract: "tesseract".into(),
            ocr_jobs: 0,
            page_timeout_secs: 120,
            file_timeout_secs: 900,
            memory_mib: 2048,
            max_pages: 2000,
            max_pixels: 100_000_000,
            max_decompressed_mib: 256,
            max_text_mib: 16,
        }
    }
}

impl ExtractConfig {
    pub fn jobs(&self) -> usize {
        match self.ocr_jobs {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }
}

/// What the worker is asked to do with one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub path: PathBuf,
    pub media_type: String,
    pub config: ExtractConfig,
}

/// What came out of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extraction {
    pub status: TextStatus,
    pub text: String,
    pub pages: Option<u32>,
    pub ocr_pages: u32,
    pub ocr_language: Option<String>,
    /// Peak resident memory of the worker and its OCR processes so far, KiB.
    #[serde(default)]
    pub worker_max_rss_kib: u64,
}

impl Extraction {
    pub fn status_only(status: TextStatus) -> Extraction {
        Extraction { status, text: String::new(), pages: None, ocr_pages: 0, ocr_language: None, worker_max_rss_kib: 0 }
    }

    /// The summary kept in the version record.
    pub fn info(&self, at: Timestamp) -> TextInfo {
        TextInfo {
            status: self.status.clone(),
            chars: self.text.chars().count() as u64,
            pages: self.pages,
            ocr_pages: self.ocr_pages,
            ocr_language: self.ocr_language.clone(),
            extracted_at: at,
        }
    }
}

/// How a media type is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Plain text, read in-process (it cannot hurt the parser).
    PlainText,
    /// PDF or image: in the worker.
    Worker,
    Unsupported,
}

pub fn method_for(media_type: &str) -> Method {
    match media_type {
        "text/plain" => Method::PlainText,
        "application/pdf" | "image/png" | "image/jpeg" | "image/tiff" => Method::Worker,
        _ => Method::Unsupported,
    }
}

/// Counters over one [`Extractor`]'s life, for reports and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractStats {
    pub files: u64,
    pub worker_starts: u64,
    pub worker_failures: u64,
    pub worker_max_rss_kib: u64,
}

/// The parent side: owns the worker process and restarts it when needed.
pub struct Extractor {
    config: ExtractConfig,
    program: PathBuf,
    worker: Option<WorkerProcess>,
    stats: ExtractStats,
}

struct WorkerProcess {
    child: Child,
    /// `None` once closed: end of input tells the worker to finish.
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<String>,
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // A worker between jobs ends by itself at end of input (and removes
        // its scratch directory); one that does not is killed.
        drop(self.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        kill_group(&mut self.child);
        let _ = std::fs::remove_dir_all(worker::scratch_dir_of(self.child.id()));
    }
}

/// Kills the worker and every OCR process it started (they share its
/// process group), and reaps it.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals a process group; the
        // group id is the worker's pid (process_group(0) at spawn).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The program to start as worker: this executable, unless `AKTEN_WORKER`
/// names another (test harnesses that are not the akten binary).
pub fn worker_program() -> PathBuf {
    std::env::var_os("AKTEN_WORKER")
        .map(PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("akten"))
}

impl Extractor {
    pub fn new(config: ExtractConfig) -> Extractor {
        Extractor { config, program: worker_program(), worker: None, stats: ExtractStats::default() }
    }

    pub fn config(&self) -> &ExtractConfig {
        &self.config
    }

    pub fn stats(&self) -> &ExtractStats {
        &self.stats
    }

    /// Reads the text of the file at `path` (a durable blob) of `media_type`.
    pub fn extract(&mut self, path: &Path, media_type: &str) -> Extraction {
        self.stats.files += 1;
        let extraction = match method_for(media_type) {
            Method::Unsupported => Extraction::status_only(TextStatus::Unsupported),
            Method::PlainText => read_plain_text(path, self.config.max_text_mib * 1024 * 1024),
            Method::Worker => self.in_worker(path, media_type),
        };
        self.stats.worker_max_rss_kib = self.stats.worker_max_rss_kib.max(extraction.worker_max_rss_kib);
        extraction
    }

    fn in_worker(&mut self, path: &Path, media_type: &str) -> Extraction {
        let job = Job { path: path.to_path_buf(), media_type: media_type.to_string(), config: self.config.clone() };
        let line = serde_json::to_string(&job).expect("jobs serialise");
        if self.worker.is_none() {
            match self.start_worker() {
                Ok(w) => self.worker = Some(w),
                Err(e) => {
                    return Extraction::status_only(TextStatus::Failed(format!(
                        "the text reader could not start ({}: {e}); the original is stored; run `akten ocr --pending --failed` once this is fixed",
                        self.program.display()
                    )));
                }
            }
        }
        let worker = self.worker.as_mut().expect("started above");
        let stdin = worker.stdin.as_mut().expect("open while the worker is in use");
        let sent = writeln!(stdin, "{line}").and_then(|_| stdin.flush());
        let timeout = Duration::from_secs(self.config.file_timeout_secs.max(1));
        let reply = match sent {
            Ok(()) => worker.replies.recv_timeout(timeout),
            Err(_) => Err(mpsc::RecvTimeoutError::Disconnected),
        };
        match reply {
            Ok(reply) => match serde_json::from_str::<Extraction>(&reply) {
                Ok(mut extraction) => {
                    cap_text(&mut extraction, self.config.max_text_mib * 1024 * 1024);
                    extraction
                }
                Err(e) => {
                    self.discard_worker();
                    Extraction::status_only(TextStatus::Failed(format!("the text reader answered nonsense: {e}")))
                }
            },
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.discard_worker();
                Extraction::status_only(TextStatus::Failed(format!(
                    "reading the text took longer than {} s and was stopped; raise [extract] file_timeout_secs in akten.toml and run `akten ocr --pending --failed`",
                    timeout.as_secs()
                )))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let how = self.discard_worker();
                Extraction::status_only(TextStatus::Failed(format!(
                    "the text reader crashed on this file ({how}); the original is stored unchanged"
                )))
            }
        }
    }

    /// Stops the current worker; says how it ended.
    fn discard_worker(&mut self) -> String {
        self.stats.worker_failures += 1;
        let Some(mut worker) = self.worker.take() else { return "not running".into() };
        // Give a dying worker a moment to be reaped with its real status.
        let mut status = None;
        for _ in 0..50 {
            if let Ok(Some(s)) = worker.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let how = match status {
            Some(s) => describe_exit(s, self.config.memory_mib),
            None => "stopped".into(),
        };
        drop(worker);
        how
    }

    fn start_worker(&mut self) -> std::io::Result<WorkerProcess> {
        self.stats.worker_starts += 1;
        let memory = self.config.memory_mib.saturating_mul(1024 * 1024);
        let mut command = Command::new(&self.program);
        command
            .arg(worker::WORKER_ARG)
            // libgomp reads this at load time only: tesseract is 6-9x slower
            // on 2 cores without it (rust-stack.md §7).
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit { rlim_cur: memory as libc::rlim_t, rlim_max: memory as libc::rlim_t };
                if memory > 0 && libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(line) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Ok(WorkerProcess { child, stdin: Some(stdin), replies: rx })
    }
}

/// Why a helper program (tesseract, poppler) gave no output.
#[derive(Debug)]
pub(crate) enum RunError {
    Spawn(std::io::Error),
    TimedOut,
    Failed { status: std::process::ExitStatus, stderr: String },
}

/// Runs a helper program of the worker with a time limit, draining both of
/// its output pipes while it runs (a full pipe would stall it); its
/// standard output on success. On timeout it is killed.
pub(crate) fn run_limited(mut command: Command, timeout: Duration) -> Result<Vec<u8>, RunError> {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(RunError::Spawn)?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(RunError::Spawn(e)),
        }
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(RunError::Failed { status, stderr: String::from_utf8_lossy(&err).into_owned() })
    }
}

fn describe_exit(status: std::process::ExitStatus, memory_mib: u64) -> String {
    match status.signal() {
        Some(libc::SIGSEGV) => "segmentation fault or stack overflow (signal 11)".into(),
        Some(libc::SIGABRT) => {
            format!("aborted (signal 6), usually out of memory at the {memory_mib} MiB limit of [extract] memory_mib")
        }
        Some(libc::SIGKILL) => "killed (signal 9)".into(),
        Some(n) => format!("killed by signal {n}"),
        None => match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => "ended".into(),
        },
    }
}

fn cap_text(extraction: &mut Extraction, max_bytes: u64) {
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    if extraction.text.len() > max {
        let mut cut = max;
        while !extraction.text.is_char_boundary(cut) {
            cut -= 1;
        }
        extraction.text.truncate(cut);
        if extraction.status == TextStatus::Ok {
            extraction.status =
                TextStatus::Partial(format!("text cut off at {} MiB ([extract] max_text_mib)", max_bytes >> 20));
        }
    }
}

/// Plain text: UTF-8, or else Windows-1252 as most German office text that
/// is not UTF-8 is.
fn read_plain_text(path: &Path, max_bytes: u64) -> Extraction {
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Extraction::status_only(TextStatus::Failed(format!("cannot read the stored text: {e}")));
    }
    let truncated = bytes.len() as u64 > max_bytes;
    bytes.truncate(max_bytes as usize);
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| windows_1252(b)).collect(),
    };
    let text = text.replace('\0', "");
    let status = if truncated {
        TextStatus::Partial(format!("text cut off at {} MiB ([extract] max_text_mib)", max_bytes >> 20))
    } else if text.trim().is_empty() {
        TextStatus::Empty
    } else {
        TextStatus::Ok
    };
    Extraction { status, text, pages: None, ocr_pages: 0, ocr_language: None, worker_max_rss_kib: 0 }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_in_utf8_and_windows_1252() {
        let dir = tempfile::tempdir().unwrap();
        let utf8 = dir.path().join("a.txt");
        std::fs::write(&utf8, "Straße über Änderung").unwrap();
        let e = read_plain_text(&utf8, 1 << 20);
        assert_eq!((e.status, e.text.as_str()), (TextStatus::Ok, "Straße über Änderung"));
        let latin = dir.path().join("b.txt");
        std::fs::write(&latin, b"Stra\xdfe \x80 10").unwrap();
        assert_eq!(read_plain_text(&latin, 1 << 20).text, "Straße € 10");
        let cut = read_plain_text(&utf8, 4);
        assert!(matches!(cut.status, TextStatus::Partial(_)), "{:?}", cut.status);
    }

    /// A stand-in worker: a shell script that reads one job and then does
    /// `action` (crash, hang, talk nonsense, answer properly).
    fn fake_worker(dir: &Path, name: &str, action: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\nwhile read -r line; do\n{action}\ndone\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_crashing_hanging_or_confused_worker_costs_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("a.pdf");
        std::fs::write(&pdf, b"%PDF-1.4\n").unwrap();
        let answer =
            r#"echo '{"status":{"status":"ok"},"text":"Bauantrag","pages":1,"ocr_pages":0,"ocr_language":null}'"#;
        let cases = [
            ("abort", "kill -ABRT $$", "aborted (signal 6)"),
            ("segv", "kill -SEGV $$", "segmentation fault or stack overflow"),
            ("oom", "kill -KILL $$", "killed (signal 9)"),
            ("exit", "exit 3", "exited with status 3"),
            ("garbage", "echo 'not json'", "answered nonsense"),
            ("hang", "sleep 30", "longer than 1 s"),
        ];
        for (name, action, expected) in cases {
            let config = ExtractConfig { file_timeout_secs: 1, ..ExtractConfig::default() };
            let mut x = Extractor::new(config);
            x.program = fake_worker(dir.path(), name, action);
            let e = x.extract(&pdf, "application/pdf");
            assert!(matches!(&e.status, TextStatus::Failed(r) if r.contains(expected)), "{name}: {:?}", e.status);
            // The next file starts a fresh worker, which answers.
            x.program = fake_worker(dir.path(), &format!("{name}-ok"), answer);
            let e = x.extract(&pdf, "application/pdf");
            assert_eq!((e.status, e.text.as_str()), (TextStatus::Ok, "Bauantrag"), "{name}: after the failure");
            assert_eq!(x.stats().worker_starts, 2, "{name}");
            assert_eq!(x.stats().worker_failures, 1, "{name}");
        }
    }

    #[test]
    fn worker_that_cannot_start_is_a_failed_status() {
        let mut x = Extractor::new(ExtractConfig::default());
        x.program = PathBuf::from("/nonexistent/akten-worker");
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("a.pdf");
        std::fs::write(&pdf, b"%PDF-1.4\n").unwrap();
        let e = x.extract(&pdf, "application/pdf");
        assert!(matches!(&e.status, TextStatus::Failed(r) if r.contains("could not start")), "{:?}", e.status);
    }
}
