//! OCR behind a trait, with the `tesseract` program as the engine.
//!
//! Tesseract runs as a separate process per image: a crash or a hang costs
//! one page, and the worker's rlimits apply to it as well. It must start
//! with `OMP_THREAD_LIMIT=1` (set on the worker, inherited here): Debian's
//! OpenMP build is 6-9x slower on two cores otherwise. Page segmentation
//! mode 1 lets tesseract detect the orientation of each page (OSD), so
//! sideways and upside-down scans are turned before recognition.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{RunError, run_limited};

/// Why an image gave no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    #[error("OCR is not available: {0}")]
    Unavailable(String),
    #[error("OCR took longer than {0} s and was stopped")]
    Timeout(u64),
    #[error("OCR failed: {0}")]
    Failed(String),
}

/// Reads the text of an image file.
pub trait Ocr: Sync {
    /// The text of `image` (all its pages). `pages` scales the timeout for
    /// multi-page images.
    fn recognize(&self, image: &Path, pages: u32) -> Result<String, OcrError>;
    /// The language(s) it reads, as recorded with the text.
    fn language(&self) -> &str;
}

/// The `tesseract` command-line program.
pub struct Tesseract {
    program: PathBuf,
    language: String,
    page_timeout: Duration,
}

impl Tesseract {
    /// Checks that `program` runs and knows every language in `language`
    /// (`deu`, `deu+eng`).
    pub fn detect(program: &str, language: &str, page_timeout: Duration) -> Result<Tesseract, OcrError> {
        let out = Command::new(program).arg("--list-langs").stdin(Stdio::null()).output().map_err(|e| {
            OcrError::Unavailable(format!(
                "`{program}` cannot be run ({e}); install tesseract-ocr and tesseract-ocr-deu, or set [extract] tesseract in akten.toml"
            ))
        })?;
        let listing = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        let known: Vec<&str> = listing.lines().skip(1).map(str::trim).collect();
        for lang in language.split('+') {
            if !known.contains(&lang) {
                return Err(OcrError::Unavailable(format!(
                    "tesseract has no language '{lang}' (it has {}); install tesseract-ocr-{lang}",
                    known.join(", ")
                )));
            }
        }
        Ok(Tesseract { program: PathBuf::from(program), language: language.to_string(), page_timeout })
    }
}

impl Ocr for Tesseract {
    fn recognize(&self, image: &Path, pages: u32) -> Result<String, OcrError> {
        let mut command = Command::new(&self.program);
        command.arg(image).arg("stdout").args(["-l", &self.language, "--psm", "1"]).env("OMP_THREAD_LIMIT", "1");
        let timeout = self.page_timeout * pages.max(1);
        match run_limited(command, timeout) {
            Ok(text) => Ok(clean(&String::from_utf8_lossy(&text))),
            Err(RunError::Spawn(e)) => {
                Err(OcrError::Unavailable(format!("`{}` cannot be run: {e}", self.program.display())))
            }
            Err(RunError::TimedOut) => Err(OcrError::Timeout(timeout.as_secs())),
            Err(RunError::Failed { status, stderr }) => {
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
                Err(OcrError::Failed(format!("tesseract ended with {status}: {last}")))
            }
        }
    }

    fn language(&self) -> &str {
        &self.language
    }
}

/// Whether `program` is found on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Drops tesseract's trailing form feed and blank-line runs.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_matches(|c: char| c.is_whitespace() || c == '\u{c}').to_string()
}
