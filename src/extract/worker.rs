//! The extraction worker: `akten __extract-worker`, started by
//! [`super::Extractor`] under resource limits.
//!
//! Protocol: one JSON [`Job`] per line on stdin, one JSON [`Extraction`]
//! per line on stdout, in order; the worker ends at end of input. A panic
//! while reading a file is caught and answered as a failed extraction; a
//! crash the worker cannot catch (stack overflow, abort, the memory limit)
//! ends the process, and the parent records it for that file.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use super::ocr::{Ocr, Tesseract};
use super::pdf::{self, OcrAvailability};
use super::{ExtractConfig, Extraction, Job};
use crate::model::TextStatus;

/// The hidden argument that makes the akten binary a worker.
pub const WORKER_ARG: &str = "__extract-worker";

/// Serves jobs from stdin until it closes.
pub fn run() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let scratch = scratch_dir()?;
    let mut ocr: Option<(ExtractConfig, Result<Tesseract, String>)> = None;
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut extraction = match serde_json::from_str::<Job>(&line) {
            Ok(job) => {
                let engine_matches = ocr.as_ref().is_some_and(|(c, _)| {
                    c.tesseract == job.config.tesseract && c.ocr_language == job.config.ocr_language
                });
                if !engine_matches {
                    let engine = Tesseract::detect(
                        &job.config.tesseract,
                        &job.config.ocr_language,
                        std::time::Duration::from_secs(job.config.page_timeout_secs.max(1)),
                    )
                    .map_err(|e| e.to_string());
                    ocr = Some((job.config.clone(), engine));
                }
                let availability = match (&ocr, job.config.ocr) {
                    (_, false) => OcrAvailability::Off("OCR is switched off ([extract] ocr)".into()),
                    (Some((_, Ok(engine))), true) => OcrAvailability::Ready(engine as &dyn Ocr),
                    (Some((_, Err(why))), true) => OcrAvailability::Off(why.clone()),
                    (None, true) => unreachable!("detected above"),
                };
                let per_job = scratch.join(format!("job-{}", std::process::id()));
                let _ = std::fs::create_dir_all(&per_job);
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job.media_type.as_str() {
                    "application/pdf" => {
                        pdf::extract_pdf(&job.path, &job.config, &availability, &per_job, job.intake.as_deref())
                    }
                    _ => pdf::extract_image(&job.path, &job.config, &availability),
                }));
                let _ = std::fs::remove_dir_all(&per_job);
                result.unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown".into());
                    Extraction::status_only(TextStatus::Failed(format!("the text reader gave up on this file: {what}")))
                })
            }
            Err(e) => Extraction::status_only(TextStatus::Failed(format!("bad job for the text reader: {e}"))),
        };
        extraction.worker_max_rss_kib = max_rss_kib();
        serde_json::to_writer(&mut stdout, &extraction)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn scratch_dir() -> std::io::Result<PathBuf> {
    let dir = scratch_dir_of(std::process::id());
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Where the worker with process id `pid` keeps its page images: the
/// parent removes it when a worker had to be killed.
pub(super) fn scratch_dir_of(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("akten-extract-{pid}"))
}

/// Peak resident memory of this process and of its finished children
/// (tesseract), KiB.
fn max_rss_kib() -> u64 {
    let mut own = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    let mut children = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let (own, children) = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, own.as_mut_ptr());
        libc::getrusage(libc::RUSAGE_CHILDREN, children.as_mut_ptr());
        (own.assume_init(), children.assume_init())
    };
    (own.ru_maxrss.max(children.ru_maxrss)).max(0) as u64
}
