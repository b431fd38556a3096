//! Text extraction and OCR through the real binary, on scans the tests
//! render themselves (ImageMagick `convert`, DejaVu fonts) and PDFs they
//! assemble with lopdf: every page-image encoding akten pulls out (DCT,
//! CCITT G4, Flate), multi-page G4 TIFF, turned pages, the "awaiting OCR"
//! path without tesseract, and hostile files that must cost only their text.
//!
//! Tests that need `tesseract` or `convert` say so and skip where they are
//! missing (.ci/run installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

use lopdf::dictionary;
use serde_json::Value;

use crate::util::TestStore;

const LINES: &str =
    "Antrag auf Fällung einer Kastanie\nGrundstück Birkenweg 8, Flurstück 212\nnach der Baumschutzsatzung der Stadt";

fn need(tool: &str, test: &str) -> bool {
    let package = match tool {
        "tesseract" => "tesseract-ocr tesseract-ocr-deu",
        "convert" => "imagemagick fonts-dejavu-core",
        other => other,
    };
    crate::util::need(tool, test, package)
}

/// A page of text as a 200 dpi grey scan, turned by `rotate` degrees.
pub(crate) fn render(dir: &Path, name: &str, text: &str, rotate: u32) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("convert")
        .args(["-size", "1654x2339", "xc:white", "-font", "DejaVu-Sans", "-pointsize", "42", "-fill", "black"])
        .args(["-annotate", "+160+320", text])
        .args(["-rotate", &rotate.to_string(), "-colorspace", "Gray", "-depth", "8"])
        .arg(&out)
        .status()
        .expect("run convert");
    assert!(status.success(), "convert failed for {name}");
    out
}

fn add_json(store: &TestStore, file: &Path) -> Value {
    let run = store.run([std::ffi::OsStr::new("--json"), "add".as_ref(), file.as_os_str()]);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    v["results"][0].clone()
}

/// An A4 PDF whose only page shows one image XObject.
fn pdf_with_image(out: &Path, width: u32, height: u32, dict: lopdf::Dictionary, data: Vec<u8>) {
    use lopdf::{Object, Stream};
    let mut doc = lopdf::Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let mut image_dict = dictionary! {
        "Type" => "XObject", "Subtype" => "Image",
        "Width" => width as i64, "Height" => height as i64,
    };
    for (k, v) in dict.iter() {
        image_dict.set(k.clone(), v.clone());
    }
    let image_id = doc.add_object(Stream::new(image_dict, data));
    let content = b"q 595 0 0 842 0 0 cm /Im1 Do Q".to_vec();
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "XObject" => dictionary! { "Im1" => image_id } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    doc.save(out).unwrap();
}

fn gray(path: &Path) -> image::GrayImage {
    image::open(path).unwrap().to_luma8()
}

#[test]
fn scans_are_read_by_ocr_and_found() {
    if !need("tesseract", "scans_are_read_by_ocr_and_found") || !need("convert", "scans_are_read_by_ocr_and_found") {
        return;
    }
    let store = TestStore::new();
    let dir = store.dir.path().join("files");
    let page = render(&dir, "brief.png", LINES, 0);
    let mut inputs: Vec<PathBuf> = vec![page.clone()];
    for degrees in [90, 180, 270] {
        inputs.push(render(&dir, &format!("gedreht-{degrees}.png"), LINES, degrees));
    }

    // JPEG (DCTDecode) as scanners write it.
    let jpeg = dir.join("seite.jpg");
    assert!(Command::new("convert").arg(&page).args(["-quality", "75"]).arg(&jpeg).status().unwrap().success());
    let img = gray(&page);
    let (w, h) = img.dimensions();
    let dct = dir.join("scan-jpeg.pdf");
    pdf_with_image(
        &dct,
        w,
        h,
        dictionary! { "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "DCTDecode" },
        std::fs::read(&jpeg).unwrap(),
    );
    inputs.push(dct);

    // CCITT Group 4, 1 bit, as fax and document scanners write it.
    let mut encoder = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in img.rows() {
        let pels = row.map(|p| if p.0[0] < 128 { fax::Color::Black } else { fax::Color::White });
        encoder.encode_line(pels, w as u16).unwrap();
    }
    let g4 = encoder.finish().unwrap().finish();
    let ccitt = dir.join("scan-g4.pdf");
    pdf_with_image(
        &ccitt,
        w,
        h,
        dictionary! {
            "ColorSpace" => "DeviceGray", "BitsPerComponent" => 1, "Filter" => "CCITTFaxDecode",
            "DecodeParms" => dictionary! { "K" => -1, "Columns" => w as i64, "Rows" => h as i64 },
        },
        g4,
    );
    inputs.push(ccitt);

    // Flate-compressed raw grey pixels.
    let mut flate_stream = lopdf::Stream::new(dictionary! {}, img.as_raw().clone());
    flate_stream.compress().unwrap();
    let flate = dir.join("scan-flate.pdf");
    pdf_with_image(
        &flate,
        w,
        h,
        dictionary! { "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "FlateDecode" },
        flate_stream.content,
    );
    inputs.push(flate);

    // A two-page Group 4 TIFF, the second page different.
    let second = render(&dir, "seite2.png", "Anlage: Lageplan mit Standort der Kastanie\nGemarkung Musterstadt", 0);
    let tiff = dir.join("stapel.tif");
    assert!(
        Command::new("convert")
            .arg(&page)
            .arg(&second)
            .args(["-monochrome", "-compress", "Group4"])
            .arg(&tiff)
            .status()
            .unwrap()
            .success()
    );
    inputs.push(tiff.clone());

    for input in &inputs {
        let r = add_json(&store, input);
        assert_eq!(r["outcome"], "added", "{r:#}");
        let text = &r["doc"]["text"];
        assert_eq!(text["status"], "ok", "{}: {text:#}", input.display());
        assert_eq!(text["ocr_language"], "deu", "{text:#}");
        let id = r["doc"]["id"].as_str().unwrap();
        let stored = store.json(["text", id]);
        let body = stored["text"].as_str().unwrap();
        assert!(body.contains("Kastanie"), "{}: OCR text was {body:?}", input.display());
        assert!(body.contains("Grundstück"), "{}: umlauts read: {body:?}", input.display());
    }
    let tiff_id = add_json(&store, &tiff);
    assert_eq!(tiff_id["outcome"], "duplicate");
    let v = store.json(["search", "kastanie", "--limit", "50"]);
    assert_eq!(v["total"].as_u64().unwrap() as usize, inputs.len(), "{v:#}");
    assert_eq!(v["fuzzy"], false);
    let tiff_hit = store.json(["search", "lageplan"]);
    assert_eq!(tiff_hit["total"], 1, "the TIFF's second page was read: {tiff_hit:#}");
    let info = &store.json(["show", tiff_hit["hits"][0]["doc"].as_str().unwrap()])["doc"]["versions"][0]["text"];
    assert_eq!((info["pages"].as_u64(), info["ocr_pages"].as_u64()), (Some(2), Some(2)), "{info:#}");
    store.verify_clean();
}

#[test]
fn without_tesseract_scans_wait_for_ocr_pending() {
    if !need("convert", "without_tesseract_scans_wait_for_ocr_pending") {
        return;
    }
    let store = TestStore::new();
    let dir = store.dir.path().join("files");
    let scan = render(&dir, "scan.png", LINES, 0);
    let empty_path = store.dir.path().join("no-tools");
    std::fs::create_dir(&empty_path).unwrap();

    let run = store.cmd(["--json", "add"]).arg(&scan).env("PATH", &empty_path).output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    let r = &v["results"][0];
    assert_eq!(r["doc"]["text"]["status"], "awaiting_ocr", "{r:#}");
    let id = r["doc"]["id"].as_str().unwrap().to_string();
    let shown = store.ok(["show", &id]);
    assert!(shown.contains("awaiting OCR (run `akten ocr --pending`"), "{shown}");
    assert_eq!(store.json(["search", "kastanie"])["total"], 0);

    // Still no tesseract: nothing read, still waiting, nothing lost.
    let run = store.cmd(["--json", "ocr", "--pending"]).env("PATH", &empty_path).output().unwrap();
    let v: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["still_pending"], 1, "{v:#}");

    if !need("tesseract", "without_tesseract_scans_wait_for_ocr_pending (second half)") {
        return;
    }
    let v = store.json(["ocr", "--pending"]);
    assert_eq!(v["results"][0]["doc"], id.as_str(), "{v:#}");
    assert_eq!(v["results"][0]["text"]["status"], "ok", "{v:#}");
    assert_eq!(v["still_pending"], 0);
    assert_eq!(store.json(["search", "kastanie"])["hits"][0]["doc"], id.as_str());
    let log = store.ok(["log", &id]);
    assert!(log.contains("text.extract"), "{log}");
    // Nothing left to do.
    assert_eq!(store.json(["ocr", "--pending"])["results"].as_array().unwrap().len(), 0);
    store.verify_clean();
}

/// CRC-32 (IEEE), for a hand-made PNG header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG that claims 200,000 × 200,000 pixels (40 gigapixels).
/// A PNG header claiming 200000×200000 pixels (40 gigapixels).
pub(crate) fn image_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(200_000u32.to_be_bytes());
    ihdr.extend(200_000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01".to_vec();
    png.extend(((idat.len() - 4) as u32).to_be_bytes());
    png.extend(&idat);
    png.extend(crc32(&idat).to_be_bytes());
    png.extend(0u32.to_be_bytes());
    png.extend(b"IEND");
    png.extend(crc32(b"IEND").to_be_bytes());
    png
}

#[test]
fn hostile_files_cost_only_their_text() {
    let store = TestStore::new();
    // A worker memory limit small enough that a large file kills it.
    let config = store.path.join("akten.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("memory_mib = 2048", "memory_mib = 64");
    std::fs::write(&config, text).unwrap();

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/posteingang/bauantrag-flurstueck-17.pdf");
    let good = std::fs::read(&fixture).unwrap();
    let files = [
        ("abgeschnitten.pdf", good[..good.len() / 2].to_vec()),
        ("leer.pdf", Vec::new()),
        ("zufall.pdf", (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
        ("kopf.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog".to_vec()),
        ("bombe.png", image_bomb()),
        // Written sparse below: 96 MiB, more than the worker may hold. (Not
        // built in memory: this process's size would be inherited by the
        // children other tests measure.)
        ("riesig.pdf", b"%PDF-1.4\n".to_vec()),
        ("gut.pdf", good.clone()),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in &files {
        paths.push(store.file(name, bytes));
    }
    std::fs::OpenOptions::new().write(true).open(&paths[5]).unwrap().set_len(96 << 20).unwrap();
    let mut args: Vec<std::ffi::OsString> = vec!["--json".into(), "add".into()];
    args.extend(paths.iter().map(|p| p.clone().into_os_string()));
    let run = store.run(&args);
    assert_eq!(run.code, 0, "every file is stored: {run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    let status = |i: usize| {
        let t = &results[i]["doc"]["text"];
        (t["status"].as_str().unwrap_or("?").to_string(), t["reason"].as_str().unwrap_or("").to_string())
    };
    let (s, why) = status(0);
    assert!(s == "failed" || s == "partial" || s == "ok", "truncated: {s} {why}");
    for i in [1, 2, 3] {
        let (s, why) = status(i);
        assert_eq!(s, "failed", "{}", files[i].0);
        assert!(why.contains("not a readable PDF"), "{}: {why}", files[i].0);
    }
    let (s, why) = status(4);
    assert_eq!(s, "failed");
    assert!(why.contains("max_pixels"), "{why}");
    let (s, why) = status(5);
    assert_eq!(s, "failed", "{why}");
    assert!(why.contains("memory_mib = 64"), "the worker stopped at its limit: {why}");
    assert_eq!(status(6).0, "ok", "the next file gets a fresh worker");

    // Every original is kept byte for byte.
    let hash = |path: &Path| {
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(std::fs::File::open(path).unwrap()).unwrap();
        hasher.finalize()
    };
    for (i, (name, _)) in files.iter().enumerate() {
        let id = results[i]["doc"]["id"].as_str().unwrap();
        let out = store.dir.path().join(format!("out-{name}"));
        store.ok([std::ffi::OsStr::new("get"), id.as_ref(), "-o".as_ref(), out.as_os_str()]);
        assert_eq!(hash(&out), hash(&paths[i]), "{name} comes back unchanged");
    }
    store.verify_clean();
}

#[test]
fn a_scan_over_the_time_limit_is_stopped() {
    if !need("tesseract", "a_scan_over_the_time_limit_is_stopped")
        || !need("convert", "a_scan_over_the_time_limit_is_stopped")
    {
        return;
    }
    let store = TestStore::new();
    let config = store.path.join("akten.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace("file_timeout_secs = 900", "file_timeout_secs = 1");
    std::fs::write(&config, text).unwrap();
    let dir = store.dir.path().join("files");
    // A dense page takes tesseract well over a second.
    let dense =
        (0..40).map(|i| format!("Zeile {i}: Widerspruch gegen den Gebührenbescheid der Stadt")).collect::<Vec<_>>();
    let page = render(&dir, "dicht.png", &dense.join("\n"), 0);
    let r = add_json(&store, &page);
    assert_eq!(r["outcome"], "added");
    let t = &r["doc"]["text"];
    assert_eq!(t["status"], "failed", "{t:#}");
    assert!(t["reason"].as_str().unwrap().contains("longer than 1 s"), "{t:#}");
    // It waits for nothing: raising the limit and `ocr --pending` is the way
    // back, and the message says so.
    assert!(t["reason"].as_str().unwrap().contains("file_timeout_secs"), "{t:#}");
}
