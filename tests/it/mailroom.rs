//! The mailroom with the real binary: `akten intake run` over a store's
//! inbox and a station folder, and `akten serve` killed with SIGKILL while
//! 200 files arrive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::pdfgen::{self, Page};
use crate::util::{TestStore, need};

/// Sets `[section] key = value` in the store's akten.toml (the key exists).
pub fn configure(s: &TestStore, edits: &[(&str, &str, &str)]) {
    let path = s.path.join("akten.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (section, key, value) in edits {
        let header = format!("[{section}]\n");
        let start = text.find(&header).unwrap_or_else(|| panic!("no [{section}] in akten.toml"));
        let line_start = text[start..]
            .find(&format!("\n{key} = "))
            .map(|i| start + i + 1)
            .unwrap_or_else(|| panic!("no {key} in [{section}]"));
        let line_end = line_start + text[line_start..].find('\n').unwrap();
        text.replace_range(line_start..line_end, &format!("{key} = {value}"));
    }
    std::fs::write(&path, text).unwrap();
}

/// Appends TOML (e.g. a station table) to akten.toml.
pub fn append_config(s: &TestStore, toml: &str) {
    let path = s.path.join("akten.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(toml);
    std::fs::write(&path, text).unwrap();
}

/// Quick settings for tests: a file is stable after 1 s.
pub fn quick_mailroom(s: &TestStore) {
    configure(
        s,
        &[
            ("mailroom", "stable_secs", "1"),
            ("mailroom", "incomplete_secs", "2"),
            ("mailroom", "rescan_secs", "2"),
            ("mailroom", "summary_secs", "5"),
        ],
    );
}

/// Every document of the store: file name → places (Posteingang, AZ, VZ).
pub fn documents(s: &TestStore, akten: &[&str], vorgaenge: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note = |docs: &Value, place: &str| {
        for d in docs.as_array().unwrap() {
            all.entry(d["file_name"].as_str().unwrap().to_string()).or_default().push(place.to_string());
        }
    };
    note(&s.json(["posteingang", "list"])["documents"], "Posteingang");
    for az in akten {
        note(&s.json(["akte", "show", az])["documents"], az);
    }
    for vz in vorgaenge {
        note(&s.json(["show", vz])["documents"], vz);
    }
    all
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(e) => e.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => vec![],
    };
    names.sort();
    names
}

/// A PNG header claiming 200000×200000 pixels (40 gigapixels).
pub fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&200_000u32.to_be_bytes());
    ihdr.extend_from_slice(&200_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
    png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    png.extend_from_slice(&idat);
    png.extend_from_slice(&crc32(&idat).to_be_bytes());
    let mut iend = b"IEND".to_vec();
    png.extend_from_slice(&0u32.to_be_bytes());
    png.append(&mut iend);
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn intake_run_takes_each_file_once_and_explains_failures() {
    let s = TestStore::new();
    quick_mailroom(&s);
    configure(&s, &[("extract", "ocr", "false")]);
    let az = s.open_akte("000.04", "Sammelakte Poststelle");
    let station_dir = s.dir.path().join("scanner-2");
    std::fs::create_dir_all(&station_dir).unwrap();
    append_config(
        &s,
        &format!(
            "\n[[mailroom.station]]\nname = \"poststelle-2\"\nfolder = \"{}\"\ntarget = \"{az}\"\noperator = \"Frau Beispiel\"\ndevice = \"Flachbettscanner X1\"\nblank_pages_removed = true\n",
            station_dir.display()
        ),
    );
    let inbox = s.path.join("inbox");
    let letter1 = pdfgen::letter(1, 2);
    std::fs::write(inbox.join("brief-1.pdf"), &letter1).unwrap();
    std::fs::write(inbox.join("brief-2.pdf"), pdfgen::letter(2, 1)).unwrap();
    // The same bytes under another name: taken once.
    std::fs::write(inbox.join("brief-1-kopie.pdf"), &letter1).unwrap();
    std::fs::write(station_dir.join("station-3.pdf"), pdfgen::letter(3, 3)).unwrap();
    let letter4 = pdfgen::letter(4, 1);
    std::fs::write(inbox.join("abgeschnitten.pdf"), &letter4[..letter4.len() / 2]).unwrap();
    std::fs::write(inbox.join("leer.pdf"), b"").unwrap();
    std::fs::write(
        inbox.join("zufall.bin"),
        (0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(inbox.join("bombe.png"), png_bomb()).unwrap();
    // Names scanners and desktops leave behind, and a file still being written.
    for name in ["scan.pdf.part", "~$notiz.docx", ".versteckt.pdf", "Thumbs.db", "desktop.ini"] {
        std::fs::write(inbox.join(name), &letter4).unwrap();
    }

    let out = s.ok(["intake", "run"]);
    assert!(out.contains("brief-2.pdf (inbox): "), "{out}");
    assert_eq!(
        names_in(&inbox),
        vec![".versteckt.pdf", "Thumbs.db", "desktop.ini", "scan.pdf.part", "~$notiz.docx"],
        "only ignored names stay:\n{out}"
    );
    assert!(names_in(&station_dir).is_empty(), "{out}");
    let failed = names_in(&s.path.join("failed"));
    for name in ["abgeschnitten.pdf", "leer.pdf", "zufall.bin", "bombe.png"] {
        assert!(failed.contains(&name.to_string()), "{name} not in failed/: {failed:?}\n{out}");
        let reason = std::fs::read_to_string(s.path.join("failed").join(format!("{name}.error.txt"))).unwrap();
        assert!(reason.contains("reason: ") && reason.contains(&format!("akten intake retry {name}")), "{reason}");
    }
    let docs = documents(&s, &[&az], &[]);
    // Same bytes under two names: whichever came first is the document.
    let copies: Vec<_> = ["brief-1.pdf", "brief-1-kopie.pdf"].iter().filter_map(|n| docs.get(*n)).collect();
    assert_eq!(copies, vec![&vec!["Posteingang".to_string()]], "{docs:?}");
    assert_eq!(docs.get("brief-2.pdf"), Some(&vec!["Posteingang".to_string()]), "{docs:?}");
    assert_eq!(docs.get("station-3.pdf"), Some(&vec![az.clone()]), "station default target: {docs:?}");
    assert_eq!(docs.len(), 3, "{docs:?}");

    // The scan record and the reasons are shown.
    let akte = s.json(["akte", "show", &az]);
    let id = akte["documents"][0]["id"].as_str().unwrap().to_string();
    let show = s.ok(["show", &id]);
    for part in [
        "scan record",
        "poststelle-2",
        "Frau Beispiel",
        "Flachbettscanner X1",
        "blank pages removed",
        "paper original may be destroyed from",
        "station-3.pdf",
    ] {
        assert!(show.contains(part), "{part} missing:\n{show}");
    }
    let listed = s.ok(["intake", "failed"]);
    assert!(listed.contains("bombe.png") && listed.contains("max_pixels"), "{listed}");
    assert!(listed.contains("leer.pdf") && listed.contains("empty"), "{listed}");
    // Found by search, like any document.
    let hits = s.json(["search", "sondernutzung"]);
    assert_eq!(hits["total"].as_u64(), Some(3), "{hits:#}");

    // Retry puts a file back where it came from; the next run decides again.
    s.ok(["intake", "retry", "leer.pdf"]);
    assert!(inbox.join("leer.pdf").exists());
    assert!(!s.path.join("failed").join("leer.pdf.error.txt").exists());
    let refused = s.run(["intake", "retry", "../akten.toml"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    s.ok(["intake", "run"]);
    assert!(s.path.join("failed").join("leer.pdf").exists());
    // Dropping a file already taken in again: removed, not filed again.
    std::fs::write(inbox.join("brief-2-nochmal.pdf"), pdfgen::letter(2, 1)).unwrap();
    let again = s.ok(["intake", "run"]);
    assert!(again.contains("already taken in"), "{again}");
    assert!(!inbox.join("brief-2-nochmal.pdf").exists());
    assert_eq!(documents(&s, &[&az], &[]).len(), 3);
    s.verify_clean();
}

#[allow(dead_code)]
fn unused(_: PathBuf, _: Page) -> bool {
    need("pdftoppm", "x", "poppler-utils")
}
