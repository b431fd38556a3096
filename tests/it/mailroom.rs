//! The mailroom with the real binary: `akten intake run` over a store's
//! inbox and a station folder, and `akten serve` killed with SIGKILL while
//! 200 files arrive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::pdfgen::{self, Page};
use crate::util::{TestStore, need};

/// Sets `[section] key = value` in the store's akten.toml (the key exists).
fn configure(s: &TestStore, edits: &[(&str, &str, &str)]) {
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
fn append_config(s: &TestStore, toml: &str) {
    let path = s.path.join("akten.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(toml);
    std::fs::write(&path, text).unwrap();
}

/// Quick settings for tests: a file is stable after 1 s.
fn quick_mailroom(s: &TestStore) {
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
fn documents(s: &TestStore, akten: &[&str], vorgaenge: &[&str]) -> BTreeMap<String, Vec<String>> {
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
            "\n[[mailroom.station]]\nname = \"poststelle-2\"\nfolder = \"{}\"\ntarget = \"{az}\"\nunit = \"32\"\noperator = \"Frau Beispiel\"\ndevice = \"Flachbettscanner X1\"\nblank_pages_removed = true\n",
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
    std::fs::write(inbox.join("bombe.png"), crate::ocr::image_bomb()).unwrap();
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

/// A PDF whose one page is a JPEG of 9000×9000 grey pixels (small, and
/// under max_pixels): decoding it to look for a cover sheet needs more
/// memory than a 96 MiB worker may have, so the worker dies on it (the
/// decoder aborts on the failed allocation) every time.
fn worker_crasher() -> Vec<u8> {
    pdfgen::pdf(&[Page::Jpeg { width: 9000, height: 9000 }])
}

#[test]
fn a_file_that_crashes_the_reader_goes_to_failed_after_three_attempts() {
    let s = TestStore::new();
    quick_mailroom(&s);
    configure(&s, &[("extract", "ocr", "false"), ("extract", "memory_mib", "96")]);
    let inbox = s.path.join("inbox");
    std::fs::write(inbox.join("absturz.pdf"), worker_crasher()).unwrap();
    std::fs::write(inbox.join("gut.pdf"), pdfgen::letter(7, 1)).unwrap();
    let out = s.ok(["intake", "run"]);
    assert!(out.contains("attempt 1 of 3"), "{out}");
    assert!(out.contains("attempt 2 of 3"), "{out}");
    let error = std::fs::read_to_string(s.path.join("failed/absturz.pdf.error.txt")).unwrap();
    assert!(error.contains("crashed") && error.contains("after 3 attempts"), "{error}");
    assert!(!inbox.join("gut.pdf").exists(), "the good file is taken in regardless:\n{out}");
    assert_eq!(documents(&s, &[], &[]).len(), 1);
    s.verify_clean();
}

#[test]
fn attempts_are_counted_across_restarts() {
    let s = TestStore::new();
    quick_mailroom(&s);
    configure(&s, &[("extract", "ocr", "false"), ("extract", "memory_mib", "96"), ("mailroom", "max_attempts", "2")]);
    let inbox = s.path.join("inbox");
    std::fs::write(inbox.join("absturz.pdf"), worker_crasher()).unwrap();
    // One attempt, then the process is gone (as after a kill): the count stays.
    let mut child = s.cmd(["intake", "run"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let first = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("attempt 1 of 2"))).expect("a first attempt");
    assert!(first.is_ok());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(inbox.join("absturz.pdf").exists());
    let out = s.ok(["intake", "run"]);
    assert!(!out.contains("attempt 1 of 2"), "the first attempt was forgotten:\n{out}");
    assert!(s.path.join("failed/absturz.pdf").exists(), "{out}");
}

/// The cover sheet `akten coversheet ARGS` writes, as PDF bytes.
fn cover_sheet(s: &TestStore, args: &[&str]) -> Vec<u8> {
    let out = s.dir.path().join("files").join(format!("sheet-{}.pdf", args.join("_").replace('/', "_")));
    let mut all = vec!["coversheet", "-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    s.ok(&all);
    std::fs::read(out).unwrap()
}

/// A sheet printed and scanned: rendered grey at `dpi` by poppler.
fn scanned(s: &TestStore, pdf: &[u8], dpi: u32) -> image::GrayImage {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let src = s.dir.path().join("files").join(format!("render-{n}.pdf"));
    std::fs::write(&src, pdf).unwrap();
    image::open(crate::coversheet::raster(&src, dpi)).unwrap().to_luma8()
}

fn text_page(n: usize) -> Page {
    Page::Text(format!(
        "Schreiben {n}\nBetreff: Baumfällung im Park, Vorgang {n}\nSehr geehrte Damen und Herren,\nbitte genehmigen Sie die Fällung der Kastanie Nummer {n}."
    ))
}

#[test]
fn batches_are_split_at_cover_sheets_and_filed_to_their_targets() {
    if !need("pdftoppm", "batches_are_split_at_cover_sheets_and_filed_to_their_targets", "poppler-utils") {
        return;
    }
    let s = TestStore::new();
    quick_mailroom(&s);
    configure(&s, &[("extract", "ocr", "false")]);
    let az_a = s.open_akte("000.04", "Baumschutz");
    let az_b = s.open_akte("000.04", "Grünflächen");
    let vz = s.json(["vorgang", "open", &az_a, "--title", "Kastanie Parkstraße"])["vorgangszeichen"]
        .as_str()
        .unwrap()
        .to_string();
    let to_a = scanned(&s, &cover_sheet(&s, &["--akte", &az_a]), 150);
    let to_vz = scanned(&s, &cover_sheet(&s, &["--vorgang", &vz, "--kind", "intern"]), 150);
    let separator = scanned(&s, &cover_sheet(&s, &["--separator"]), 150);
    // Scanned batch: [cover A, 2 pages, separator, 1 page, cover VZ, 1 page, cover A]
    // (a trailing cover sheet with nothing behind it makes no document).
    let batch = pdfgen::pdf(&[
        Page::Scan(to_a.clone()),
        text_page(1),
        text_page(2),
        Page::Scan(separator),
        text_page(3),
        Page::Scan(to_vz),
        text_page(4),
        Page::Scan(to_a),
    ]);
    std::fs::write(s.path.join("inbox").join("stapel.pdf"), &batch).unwrap();
    // The PDF sheet itself in front of a letter (born-digital): found by its text.
    let sheet_b = cover_sheet(&s, &["--akte", &az_b]);
    let joined = s.dir.path().join("files").join("joined.pdf");
    let letter = s.file("brief.pdf", &pdfgen::letter(9, 2));
    std::fs::write(s.dir.path().join("files").join("sheet-b.pdf"), &sheet_b).unwrap();
    let status = std::process::Command::new("pdfunite")
        .arg(s.dir.path().join("files").join("sheet-b.pdf"))
        .arg(&letter)
        .arg(&joined)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::copy(&joined, s.path.join("inbox").join("mit-deckblatt.pdf")).unwrap();

    let out = s.ok(["intake", "run"]);
    assert!(out.contains("4 cover sheets removed"), "{out}");
    let docs = documents(&s, &[&az_a, &az_b], &[&vz]);
    assert_eq!(docs.get("stapel-s2-3.pdf"), Some(&vec![az_a.clone()]), "{docs:?}\n{out}");
    assert_eq!(docs.get("stapel-s5-5.pdf"), Some(&vec!["Posteingang".to_string()]), "after a separator: {docs:?}");
    assert_eq!(docs.get("stapel-s7-7.pdf"), Some(&vec![vz.clone()]), "{docs:?}");
    assert_eq!(docs.get("mit-deckblatt-s2-3.pdf"), Some(&vec![az_b.clone()]), "{docs:?}");
    assert_eq!(docs.len(), 4, "{docs:?}");

    // Each part is a PDF of its own pages, without the sheets; its scan
    // record names the batch and the pages.
    let vorgang = s.json(["show", &vz]);
    let part = &vorgang["documents"][0];
    assert_eq!(part["kind"], "intern");
    let id = part["id"].as_str().unwrap();
    let text = s.ok(["text", id]);
    assert!(text.contains("Kastanie Nummer 4") && !text.contains("Nummer 3"), "{text}");
    let shown = s.json(["show", id]);
    let scan = &shown["doc"]["versions"][0]["scan"];
    assert_eq!(scan["source_file"], "stapel.pdf");
    assert_eq!(scan["source_pages"], serde_json::json!([7, 7]));
    assert_eq!(scan["routed_by"], "cover sheet");
    assert_eq!(scan["pages"], 1);
    let got = s.dir.path().join("files").join("part.pdf");
    s.ok(["get", id, "-o", got.to_str().unwrap()]);
    let part_pdf = lopdf::Document::load(&got).unwrap();
    assert_eq!(part_pdf.get_pages().len(), 1);
    // The batch itself is kept as the scan product.
    let batch_blob = scan["source_blob"].as_str().unwrap();
    assert_eq!(std::fs::read(s.blob_path(batch_blob)).unwrap(), batch);
    s.verify_clean();
    // gc keeps the scan product.
    s.ok(["gc"]);
    assert!(s.blob_path(batch_blob).exists());
}

#[test]
fn a_scanned_batch_is_split_read_by_ocr_and_recorded() {
    let test = "a_scanned_batch_is_split_read_by_ocr_and_recorded";
    if !need("tesseract", test, "tesseract-ocr")
        || !need("pdftoppm", test, "poppler-utils")
        || !need("convert", test, "imagemagick")
    {
        return;
    }
    let s = TestStore::new();
    quick_mailroom(&s);
    let az = s.open_akte("000.04", "Baumschutz");
    let sheet = scanned(&s, &cover_sheet(&s, &["--akte", &az, "--received", "2026-11-30"]), 200);
    let files = s.dir.path().join("files");
    let gray = |png: PathBuf| image::open(png).unwrap().to_luma8();
    let first = gray(crate::ocr::render(&files, "l1.png", "Antrag auf Fällung\nder Kastanie im Stadtpark", 0));
    let second = gray(crate::ocr::render(&files, "l2.png", "Widerspruch gegen\nden Gebührenbescheid", 0));
    let batch = pdfgen::pdf(&[Page::Scan(first), Page::Scan(sheet), Page::Scan(second)]);
    std::fs::write(s.path.join("inbox").join("scan-0001.pdf"), &batch).unwrap();
    let out = s.ok(["intake", "run"]);
    assert!(out.contains("1 cover sheets removed"), "{out}");
    let docs = documents(&s, &[&az], &[]);
    assert_eq!(docs.get("scan-0001-s1-1.pdf"), Some(&vec!["Posteingang".to_string()]), "{docs:?}");
    assert_eq!(docs.get("scan-0001-s3-3.pdf"), Some(&vec![az.clone()]), "{docs:?}");
    let hits = s.json(["search", "gebührenbescheid"]);
    assert_eq!(hits["total"], 1, "{hits:#}");
    let id = hits["hits"][0]["doc"].as_str().unwrap();
    let shown = s.json(["show", id]);
    assert_eq!(shown["doc"]["received"], "2026-11-30", "the cover sheet's date of receipt");
    let version = &shown["doc"]["versions"][0];
    assert_eq!(version["scan"]["resolution_dpi"], 200, "{version:#}");
    assert_eq!(version["text"]["ocr_pages"], 1, "{version:#}");
    // The cover sheet was not read as text.
    let text = s.ok(["text", id]);
    assert!(!text.contains("Deckblatt") && !text.contains("Aktenzeichen"), "{text}");
    assert!(s.json(["search", "kastanie"])["total"] == 1);
}

/// A tiny deterministic random source (xorshift), seeded per run and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn millis(&mut self, lo: u64, hi: u64) -> std::time::Duration {
        std::time::Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

/// Writes `bytes` to `path` in `chunks` pieces with pauses, as a slow
/// scanner over SMB does (the final name from the first byte on).
fn write_slowly(path: &Path, bytes: &[u8], chunks: usize, pause: std::time::Duration) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let step = bytes.len().div_ceil(chunks);
    for (i, chunk) in bytes.chunks(step).enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
    }
}

/// `akten serve` on the test store, its output appended to a log file;
/// killed when dropped (a failing test leaves no server behind).
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_serve(s: &TestStore, log: &Path) -> Server {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    Server(s.cmd(["serve"]).stdout(out.try_clone().unwrap()).stderr(out).spawn().expect("start akten serve"))
}

/// Who holds locks and which akten processes run (for a failure message).
fn lock_diagnostics() -> String {
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let ps = std::process::Command::new("ps")
        .args(["-eo", "pid,ppid,stat,args"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    format!(
        "/proc/locks:\n{locks}\nprocesses:\n{}",
        ps.lines().filter(|l| l.contains("akten")).collect::<Vec<_>>().join("\n")
    )
}

#[test]
fn serve_takes_200_files_exactly_once_across_kills() {
    let test = "serve_takes_200_files_exactly_once_across_kills";
    if !need("pdftoppm", test, "poppler-utils") || !need("pdfunite", test, "poppler-utils") {
        return;
    }
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("{test}: seed {seed}");
    let mut rng = Rng(seed);
    let s = TestStore::new();
    quick_mailroom(&s);
    configure(&s, &[("extract", "ocr", "false"), ("extract", "memory_mib", "96")]);
    let az_a = s.open_akte("000.04", "Baumschutz");
    let az_b = s.open_akte("000.04", "Poststelle 2");
    let vz = s.json(["vorgang", "open", &az_a, "--title", "Kastanie"])["vorgangszeichen"].as_str().unwrap().to_string();
    let station = s.dir.path().join("station-2");
    std::fs::create_dir_all(&station).unwrap();
    append_config(
        &s,
        &format!(
            "\n[[mailroom.station]]\nname = \"poststelle-2\"\nfolder = \"{}\"\ntarget = \"{az_b}\"\n",
            station.display()
        ),
    );
    let inbox = s.path.join("inbox");

    // What is expected: file name of each document → its place.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut files: Vec<(PathBuf, Vec<u8>, bool)> = Vec::new(); // path, bytes, slow
    for i in 0..150 {
        let name = format!("brief-{i:03}.pdf");
        expected.insert(name.clone(), "Posteingang".into());
        files.push((inbox.join(&name), pdfgen::letter(1000 + i, 1 + i % 3), i % 5 == 0));
    }
    for i in 0..10 {
        let name = format!("station-{i:02}.pdf");
        expected.insert(name.clone(), az_b.clone());
        files.push((station.join(&name), pdfgen::letter(2000 + i, 1), false));
    }
    // Batches: born-digital (the sheet PDF joined in front) and scanned.
    let sheet_a = cover_sheet(&s, &["--akte", &az_a]);
    let sheet_v = cover_sheet(&s, &["--vorgang", &vz]);
    let sheet_sep = cover_sheet(&s, &["--separator"]);
    let (scan_a, scan_v, scan_sep) =
        (scanned(&s, &sheet_a, 150), scanned(&s, &sheet_v, 150), scanned(&s, &sheet_sep, 150));
    let work = s.dir.path().join("files");
    for (name, bytes) in [("a.pdf", &sheet_a), ("v.pdf", &sheet_v), ("sep.pdf", &sheet_sep)] {
        std::fs::write(work.join(name), bytes).unwrap();
    }
    for i in 0..15 {
        let letter = work.join(format!("l{i}.pdf"));
        std::fs::write(&letter, pdfgen::letter(3000 + i, 2)).unwrap();
        let other = work.join(format!("m{i}.pdf"));
        std::fs::write(&other, pdfgen::letter(3500 + i, 1)).unwrap();
        let joined = work.join(format!("stapel-{i:02}.pdf"));
        let st = std::process::Command::new("pdfunite")
            .args([work.join("a.pdf"), letter, work.join("sep.pdf"), other])
            .arg(&joined)
            .status()
            .unwrap();
        assert!(st.success());
        expected.insert(format!("stapel-{i:02}-s2-3.pdf"), az_a.clone());
        expected.insert(format!("stapel-{i:02}-s5-5.pdf"), "Posteingang".into());
        files.push((inbox.join(format!("stapel-{i:02}.pdf")), std::fs::read(&joined).unwrap(), i % 4 == 0));
    }
    for i in 0..10 {
        let batch = pdfgen::pdf(&[
            Page::Scan(scan_v.clone()),
            text_page(4000 + i),
            Page::Scan(scan_sep.clone()),
            text_page(4100 + i),
            text_page(4200 + i),
            Page::Scan(scan_a.clone()),
            text_page(4300 + i),
        ]);
        expected.insert(format!("scan-{i:02}-s2-2.pdf"), vz.clone());
        expected.insert(format!("scan-{i:02}-s4-5.pdf"), "Posteingang".into());
        expected.insert(format!("scan-{i:02}-s7-7.pdf"), az_a.clone());
        files.push((inbox.join(format!("scan-{i:02}.pdf")), batch, false));
    }
    // Exact duplicates of earlier letters, under other names.
    let mut duplicates = Vec::new();
    for i in 0..10 {
        let name = format!("kopie-{i:02}.pdf");
        duplicates.push((format!("brief-{:03}.pdf", i * 7), name.clone()));
        files.push((inbox.join(&name), pdfgen::letter(1000 + i * 7, 1 + (i * 7) % 3), false));
    }
    let whole = pdfgen::letter(9999, 1);
    let broken: Vec<(&str, Vec<u8>)> = vec![
        ("abgeschnitten.pdf", whole[..whole.len() / 2].to_vec()),
        ("leer.pdf", vec![]),
        ("zufall.pdf", (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect()),
        ("bombe.png", crate::ocr::image_bomb()),
        ("absturz.pdf", worker_crasher()),
    ];
    for (name, bytes) in &broken {
        files.push((inbox.join(name), bytes.clone(), false));
    }
    assert_eq!(files.len(), 200);
    // Shuffle the order of arrival.
    for i in (1..files.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        files.swap(i, j);
    }

    let log = s.dir.path().join("serve.log");
    let mut server = start_serve(&s, &log);
    // Writers: quick files in waves, slow ones in their own threads.
    let writer = std::thread::spawn({
        let mut rng = Rng(seed ^ 0x9E37_79B9_7F4A_7C15);
        move || {
            let mut slow = Vec::new();
            for (n, (path, bytes, is_slow)) in files.into_iter().enumerate() {
                if is_slow {
                    // 6 chunks, 0.5-0.9 s apart: written over 2.5-4.5 s.
                    let pause = rng.millis(500, 900);
                    slow.push(std::thread::spawn(move || write_slowly(&path, &bytes, 6, pause)));
                } else {
                    // Through a temp name, as well-behaved uploaders do.
                    let temp = path.with_extension("pdf.part");
                    std::fs::write(&temp, &bytes).unwrap();
                    std::fs::rename(&temp, &path).unwrap();
                }
                if n % 20 == 19 {
                    std::thread::sleep(rng.millis(300, 900));
                }
            }
            for t in slow {
                t.join().unwrap();
            }
        }
    });
    let mut kills = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while kills < 5 || !writer.is_finished() {
        std::thread::sleep(rng.millis(700, 2500));
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "akten serve ended by itself ({status}):\n{}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                lock_diagnostics()
            );
        }
        server.0.kill().unwrap(); // SIGKILL
        server.0.wait().unwrap();
        kills += 1;
        server = start_serve(&s, &log);
        assert!(std::time::Instant::now() < deadline, "writers did not finish");
    }
    writer.join().unwrap();
    // A CLI command while the server runs is answered by it.
    let during = s.run(["posteingang", "list"]);
    assert_eq!(during.code, 0, "{during:?}");
    // Then wait until the folders hold only ignored names and failed/ is complete.
    let settled = || {
        let left: Vec<String> =
            names_in(&inbox).into_iter().chain(names_in(&station)).filter(|n| !n.ends_with(".part")).collect();
        left.is_empty() && names_in(&s.path.join("failed")).len() == 2 * broken.len()
    };
    while !settled() {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "akten serve ended by itself ({status}) before the inbox was empty:\n{}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                lock_diagnostics()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not settled: inbox {:?}, failed {:?}\n{}\nserver: {:?}\n{}",
            names_in(&inbox),
            names_in(&s.path.join("failed")),
            std::fs::read_to_string(&log).unwrap_or_default(),
            server.0.try_wait(),
            lock_diagnostics()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    // SIGTERM: finishes the file in hand, then stops cleanly.
    unsafe {
        libc::kill(server.0.id() as i32, libc::SIGTERM);
    }
    let status = server.0.wait().unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "serve did not stop cleanly on SIGTERM: {status:?}\n{log_text}");
    eprintln!(
        "{test}: {kills} kills; log:\n{}",
        log_text.lines().filter(|l| l.contains("mailroom")).collect::<Vec<_>>().join("\n")
    );

    let docs = documents(&s, &[&az_a, &az_b], &[&vz]);
    for (name, dup) in &duplicates {
        let found: Vec<&Vec<String>> = [name, dup].iter().filter_map(|n| docs.get(*n)).collect();
        assert_eq!(found, vec![&vec!["Posteingang".to_string()]], "{name} / {dup} filed once: {docs:?}");
        expected.remove(name);
    }
    for (name, place) in &expected {
        assert_eq!(docs.get(name), Some(&vec![place.clone()]), "{name} should be in {place} exactly once\n{log_text}");
    }
    let dup_docs = duplicates.iter().filter(|(n, d)| docs.contains_key(n) || docs.contains_key(d)).count();
    assert_eq!(docs.len(), expected.len() + dup_docs, "no other documents: {docs:?}");
    for (name, _) in &broken {
        let error = std::fs::read_to_string(s.path.join("failed").join(format!("{name}.error.txt")))
            .unwrap_or_else(|_| panic!("{name} has no error file\n{log_text}"));
        assert!(error.contains("reason: "), "{error}");
    }
    let crash = std::fs::read_to_string(s.path.join("failed/absturz.pdf.error.txt")).unwrap();
    assert!(crash.contains("crashed"), "{crash}");
    assert!(kills >= 5);
    s.verify_clean();
}
