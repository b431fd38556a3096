//! The mailroom: scanner stations drop files into watched folders; each
//! file is taken in exactly once.
//!
//! This module owns the `[mailroom]` configuration and the pure rules of
//! intake: which names are ignored, when a file looks complete, how a
//! failed file is described. [`mailroom`] watches the folders and hands
//! stable files to the engine ([`crate::engine::Engine::intake_prepare`],
//! then [`crate::engine::Engine::intake_finish`]).
//!
//! Invariants:
//! - A file leaves its folder only after the catalog commit that holds it
//!   is durable, or into `<store>/failed/` with a `<name>.error.txt`.
//! - The intake is keyed by the blob of the file's bytes: a file whose
//!   bytes were taken in already (e.g. killed between commit and removal)
//!   is removed without being filed again.
//! - A file that crashes or hangs the text reader is tried again, at most
//!   `max_attempts` times across restarts, then put in failed/.

pub mod mailroom;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::DocKind;

/// `[mailroom]` in akten.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailroomConfig {
    /// A file is taken when its size and modification time have not changed
    /// for this long.
    pub stable_secs: u64,
    /// A stable file that still does not look complete (no PDF end marker,
    /// cut-off image) is waited for this long before it goes to failed/.
    pub incomplete_secs: u64,
    /// Full listing of every folder, as a safety net for lost events.
    pub rescan_secs: u64,
    /// Poll every folder instead of using file system events (network
    /// shares mounted on this host do not report other clients' writes).
    pub poll: bool,
    pub poll_secs: u64,
    /// Times the text reader may crash or hang on a file before it goes to
    /// failed/.
    pub max_attempts: u32,
    /// The paper original of a scan may be destroyed this many months
    /// after filing (TR-RESISCAN; set by the records office).
    pub paper_retention_months: u32,
    /// A summary line this often while the mailroom runs.
    pub summary_secs: u64,
    /// Files read at the same time, each by its own worker; 0 = one per
    /// core (single-page scans then keep every core busy with OCR).
    pub readers: usize,
    /// The store's own `inbox/`.
    pub inbox: StationConfig,
    /// Further folders, one per scanner station (`[[mailroom.station]]`).
    #[serde(rename = "station")]
    pub stations: Vec<StationConfig>,
}

impl Default for MailroomConfig {
    fn default() -> Self {
        MailroomConfig {
            stable_secs: 5,
            incomplete_secs: 60,
            rescan_secs: 300,
            poll: false,
            poll_secs: 5,
            max_attempts: 3,
            paper_retention_months: 6,
            summary_secs: 60,
            readers: 0,
            inbox: StationConfig { name: "inbox".into(), folder: PathBuf::from("inbox"), ..StationConfig::default() },
            stations: Vec::new(),
        }
    }
}

/// One scanner station: its folder and the defaults for what it scans.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StationConfig {
    pub name: String,
    /// Absolute, or relative to the store.
    pub folder: PathBuf,
    /// Akte or Vorgang (Aktenzeichen/Vorgangszeichen) for documents without
    /// a cover sheet; without it they go to the Posteingang.
    pub target: Option<String>,
    pub kind: Option<DocKind>,
    /// Organisational unit the station serves (recorded with the scan).
    pub unit: Option<String>,
    /// Who runs the station (scan record).
    pub operator: Option<String>,
    /// The scanner (scan record).
    pub device: Option<String>,
    /// The scanner drops blank pages (scan record).
    pub blank_pages_removed: bool,
    /// Overrides `[mailroom] poll` for this folder.
    pub poll: Option<bool>,
}

impl MailroomConfig {
    /// Every station with its folder resolved against the store root.
    pub fn stations(&self, root: &Path) -> Vec<StationConfig> {
        std::iter::once(&self.inbox)
            .chain(&self.stations)
            .map(|s| {
                let mut s = s.clone();
                if s.folder.is_relative() {
                    s.folder = root.join(&s.folder);
                }
                if s.name.trim().is_empty() {
                    s.name = s.folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                }
                s
            })
            .collect()
    }
}

/// Names scanners, file servers and desktops leave behind, and names of
/// files still being written: never taken in.
pub fn ignored(name: &str) -> bool {
    const SYSTEM: &[&str] = &["thumbs.db", "desktop.ini", "@eadir", "__macosx", ".ds_store", "icon\r"];
    const TEMP_SUFFIXES: &[&str] = &[".part", ".tmp", ".temp", ".crdownload", ".partial", ".filepart", "~", ".swp"];
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || SYSTEM.contains(&lower.as_str())
        || TEMP_SUFFIXES.iter().any(|s| lower.ends_with(s))
        || lower.ends_with(".error.txt")
}

/// Whether a file of `len` bytes starting with `head` and ending with
/// `tail` looks completely written; the reason where not. Only formats
/// with an end marker can be judged; others pass (the worker then tells).
pub fn looks_complete(len: u64, head: &[u8], tail: &[u8]) -> Result<(), &'static str> {
    if len == 0 {
        return Err("it is empty (0 bytes)");
    }
    if head.starts_with(b"%PDF-") && !contains(tail, b"%%EOF") {
        return Err("the PDF has no end marker (%%EOF): it is cut off or still being written");
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) && !tail.ends_with(&[0xFF, 0xD9]) && !contains(tail, &[0xFF, 0xD9]) {
        return Err("the JPEG has no end marker: it is cut off or still being written");
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") && !contains(tail, b"IEND") {
        return Err("the PNG has no end chunk: it is cut off or still being written");
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The text of `<name>.error.txt` beside a file put in failed/.
pub fn error_text(file: &str, station: &StationConfig, reason: &str, at: &str) -> String {
    format!(
        "file: {file}\n\
         station: {}\n\
         folder: {}\n\
         failed at: {at}\n\
         reason: {reason}\n\
         \n\
         The file is unchanged. Once the cause is fixed (or to try again as it is):\n\
         \x20 akten intake retry {file}\n\
         puts it back into the folder it came from. To give up on it, delete both files.\n",
        station.name,
        station.folder.display()
    )
}

/// The folder a failed file came from, as its error text records it.
pub fn error_origin(text: &str) -> Option<PathBuf> {
    text.lines().find_map(|l| l.strip_prefix("folder: ")).map(|f| PathBuf::from(f.trim_end()))
}

/// The reason an error text records.
pub fn error_reason(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("reason: "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_and_system_names_are_ignored() {
        for name in [
            "scan.pdf.part",
            "x.tmp",
            "~$brief.docx",
            ".hidden.pdf",
            "Thumbs.db",
            "desktop.ini",
            "@eaDir",
            "a.pdf.error.txt",
        ] {
            assert!(ignored(name), "{name}");
        }
        for name in ["scan.pdf", "Brief an Müller.pdf", "IMG_0001.JPG", "part.pdf"] {
            assert!(!ignored(name), "{name}");
        }
    }

    #[test]
    fn completeness_by_end_markers() {
        assert!(looks_complete(0, b"", b"").is_err());
        assert!(looks_complete(100, b"%PDF-1.7\n", b"endobj\n").is_err());
        assert!(looks_complete(100, b"%PDF-1.7\n", b"startxref\n123\n%%EOF\n").is_ok());
        assert!(looks_complete(100, &[0xFF, 0xD8, 0xFF, 0xE0], &[1, 2, 3]).is_err());
        assert!(looks_complete(100, &[0xFF, 0xD8, 0xFF, 0xE0], &[1, 0xFF, 0xD9]).is_ok());
        assert!(looks_complete(100, b"random bytes", b"random").is_ok());
    }

    #[test]
    fn error_text_round_trips_origin_and_reason() {
        let station = StationConfig { name: "poststelle".into(), folder: "/srv/scan/a b".into(), ..Default::default() };
        let text = error_text("x.pdf", &station, "not a PDF", "2026-12-05 10:00");
        assert_eq!(error_origin(&text), Some(PathBuf::from("/srv/scan/a b")));
        assert_eq!(error_reason(&text), Some("not a PDF"));
    }
}
