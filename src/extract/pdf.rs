//! PDFs and images, inside the worker: born-digital text with lopdf, page
//! images pulled out for OCR, images handed to OCR directly.
//!
//! lopdf, not pdf-extract: pdf-extract panics on damaged files where lopdf
//! returns errors (rust-stack.md §6; docs/extraction.md has the recall
//! table). A page whose text layer is missing or unreadable and that
//! carries a scanned image goes to OCR. Page images are taken out at their
//! real resolution: DCT (JPEG) as it is, CCITT G4 decoded with `fax`,
//! Flate/LZW/raw pixels through lopdf's bounded decoder; JBIG2, JPEG 2000
//! and everything else through poppler's `pdfimages` where it is installed.
//! A page with fonts but no readable text (fonts without a Unicode map) is
//! tried with poppler's `pdftotext`, then rendered (`pdftoppm`) for OCR.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use image::{GrayImage, ImageFormat, RgbImage};
use lopdf::{Document, Object, ObjectId};

use super::ocr::Ocr;
use super::{ExtractConfig, Extraction, run_limited};
use crate::model::TextStatus;

/// A page needs OCR when its text layer has fewer letters than this.
const MIN_PAGE_LETTERS: usize = 16;
/// Images smaller than this (pixels) are logos or stamps, not scans.
const MIN_SCAN_PIXELS: i64 = 250_000;

/// OCR as the worker has it: the engine, or why there is none.
pub enum OcrAvailability<'a> {
    Ready(&'a dyn Ocr),
    Off(String),
}

/// One page the text layer did not cover.
struct OcrTask {
    page: u32,
    source: PageSource,
}

/// What OCR reads for a page.
enum PageSource {
    /// The page's scan image, taken out as it is stored.
    Image(ObjectId),
    /// The page rendered by poppler's `pdftoppm` (text in fonts no tool
    /// could decode).
    Rendered,
}

/// Reads the PDF at `path`.
///
/// For the mailroom (`intake` names the directory for parts), pages are also
/// searched for cover sheets: scanned pages by their QR code, before OCR (a
/// cover sheet is not read), born-digital ones by the payload printed on
/// the sheet. The batch is then cut at the cover sheets into parts.
pub fn extract_pdf(
    path: &Path,
    config: &ExtractConfig,
    ocr: &OcrAvailability<'_>,
    scratch: &Path,
    intake: Option<&Path>,
) -> Extraction {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
            return failed(format!(
                "the file does not fit in the text reader's memory limit ([extract] memory_mib = {}); raise it and run `akten ocr --pending --failed`",
                config.memory_mib
            ));
        }
        Err(e) => return failed(format!("cannot read the stored file: {e}")),
    };
    let max_stream = usize::try_from(config.max_decompressed_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    let options = lopdf::LoadOptions { max_decompressed_size: Some(max_stream), ..Default::default() };
    let doc = match Document::load_mem_with_options(&bytes, options) {
        Ok(doc) => doc,
        Err(e) => {
            let message = e.to_string();
            let lower = message.to_lowercase();
            if lower.contains("password") || lower.contains("decrypt") || lower.contains("encrypt") {
                return Extraction::status_only(TextStatus::Encrypted);
            }
            return failed(format!("not a readable PDF ({message}); the original is stored unchanged"));
        }
    };
    drop(bytes);
    // lopdf's is_encrypted() misses an /Encrypt dictionary written inline
    // in the trailer; the trailer entry is what the format defines.
    let encrypted = doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok();
    if encrypted && doc.encryption_state.is_none() {
        return Extraction::status_only(TextStatus::Encrypted);
    }
    let pages = doc.get_pages();
    let total = pages.len() as u32;
    if total == 0 {
        return failed(
            "no page of the PDF could be read (damaged or cut off); the original is stored unchanged".into(),
        );
    }
    let mut problems: Vec<String> = Vec::new();
    if total > config.max_pages {
        problems.push(format!("only the first {} of {total} pages read ([extract] max_pages)", config.max_pages));
    }
    let mut texts: Vec<String> = vec![String::new(); pages.len().min(config.max_pages as usize)];
    let mut tasks = Vec::new();
    let mut covers: Vec<(u32, Result<String, String>)> = Vec::new();
    // poppler's text of the whole file, taken once, only if a page needs it.
    let mut poppler_text: Option<Vec<String>> = None;
    for (i, (&number, &page_id)) in pages.iter().take(texts.len()).enumerate() {
        let (text, unreadable) = match page_text(&doc, page_id, max_stream) {
            Ok(t) => (tidy(&t), false),
            Err(_) => (String::new(), true),
        };
        let readable = text.chars().filter(|c| c.is_alphanumeric()).count();
        let visible = text.chars().filter(|c| !c.is_whitespace()).count();
        // Fonts without a Unicode map give symbol soup: treat as no text.
        let garbled = visible > 0 && readable * 10 < visible * 4;
        if readable >= MIN_PAGE_LETTERS && !garbled && !has_unmapped_cid_font(&doc, page_id) {
            if intake.is_some()
                && let Some(cover) = printed_cover(&text)
            {
                covers.push((number, cover));
                continue;
            }
            texts[i] = text;
            continue;
        }
        match scan_image(&doc, page_id) {
            Some(source) => tasks.push(OcrTask { page: number, source }),
            None => {
                // Little or no text: fonts lopdf cannot map to Unicode, or
                // text inside form XObjects. poppler often reads those; where
                // it finds symbol soup too, the rendered page goes to OCR.
                let poppler = poppler_text.get_or_insert_with(|| pdftotext_pages(path, config));
                let distrusted = garbled || has_unmapped_cid_font(&doc, page_id);
                if let Some(page) = poppler.get(i).filter(|t| readable_text(t) && (distrusted || t.len() > text.len()))
                {
                    texts[i] = page.clone();
                    continue;
                }
                if garbled {
                    tasks.push(OcrTask { page: number, source: PageSource::Rendered });
                    continue;
                }
                let missing = doc.get_page_contents(page_id).iter().any(|id| doc.get_object(*id).is_err());
                if text.is_empty() && (unreadable || missing) {
                    problems.push(format!("page {number}: its content is missing or damaged (file cut off?)"));
                }
                if !garbled {
                    texts[i] = text;
                }
            }
        }
    }
    let mut ocr_pages = 0;
    let mut awaiting = 0;
    let mut language = None;
    let mut resolution_dpi = None;
    let engine = match ocr {
        OcrAvailability::Ready(engine) => Some(*engine),
        OcrAvailability::Off(_) => None,
    };
    if intake.is_some() {
        resolution_dpi = tasks.iter().find_map(|t| match t.source {
            PageSource::Image(id) => image_dpi(&doc, t.page, id),
            PageSource::Rendered => None,
        });
    }
    // Without OCR, scanned pages are still looked at for cover sheets.
    if !tasks.is_empty() && (engine.is_some() || intake.is_some()) {
        language = engine.map(|e| e.language().to_string());
        let results = run_ocr_tasks(&doc, path, &tasks, config, engine, intake.is_some(), scratch);
        for (task, result) in tasks.iter().zip(results) {
            match result {
                PageResult::Text(text) => {
                    texts[(task.page - 1) as usize] = text;
                    ocr_pages += 1;
                }
                PageResult::Cover(cover) => covers.push((task.page, cover)),
                PageResult::NoOcr => awaiting += 1,
                PageResult::Failed(problem) => problems.push(format!("page {}: {problem}", task.page)),
            }
        }
    } else {
        awaiting = tasks.len();
    }
    let intake = match intake {
        None => None,
        Some(dir) => match split_parts(&doc, &texts, total, &mut covers, dir) {
            Ok(parts) => {
                Some(super::IntakeScan { resolution_dpi, cover_pages: covers.iter().map(|(p, _)| *p).collect(), parts })
            }
            Err(e) => return failed(e),
        },
    };
    let text = texts.into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>().join("\n\n");
    let status = if awaiting > 0 {
        TextStatus::AwaitingOcr
    } else if text.trim().is_empty() {
        if problems.is_empty() { TextStatus::Empty } else { TextStatus::Failed(problems.join("; ")) }
    } else if problems.is_empty() {
        TextStatus::Ok
    } else {
        TextStatus::Partial(problems.join("; "))
    };
    Extraction {
        status,
        text,
        pages: Some(total),
        ocr_pages,
        ocr_language: language,
        worker_max_rss_kib: 0,
        intake,
        stopped: false,
    }
}

/// Reads a PNG, JPEG or TIFF (all its pages) with OCR.
pub fn extract_image(path: &Path, config: &ExtractConfig, ocr: &OcrAvailability<'_>) -> Extraction {
    let sizes = match image_page_sizes(path) {
        Ok(s) => s,
        Err(e) => return failed(format!("not a readable image ({e}); the original is stored unchanged")),
    };
    let pages = sizes.len() as u32;
    for (i, (w, h)) in sizes.iter().enumerate() {
        if u64::from(*w) * u64::from(*h) > config.max_pixels {
            return Extraction {
                pages: Some(pages),
                ..failed(format!(
                    "page {}: {w}×{h} pixels is more than [extract] max_pixels ({}); raise it in akten.toml and run `akten ocr --pending --failed` if the scan is genuine",
                    i + 1,
                    config.max_pixels
                ))
            };
        }
    }
    let engine = match ocr {
        OcrAvailability::Off(_) => {
            return Extraction { pages: Some(pages), ..Extraction::status_only(TextStatus::AwaitingOcr) };
        }
        OcrAvailability::Ready(engine) => *engine,
    };
    let language = Some(engine.language().to_string());
    match engine.recognize(path, pages) {
        Ok(text) => {
            let status = if text.trim().is_empty() { TextStatus::Empty } else { TextStatus::Ok };
            Extraction {
                text,
                pages: Some(pages),
                ocr_pages: pages,
                ocr_language: language,
                ..Extraction::status_only(status)
            }
        }
        Err(e) => Extraction { pages: Some(pages), ocr_language: language, ..failed(e.to_string()) },
    }
}

fn failed(reason: String) -> Extraction {
    Extraction::status_only(TextStatus::Failed(reason))
}

/// Width and height of every page of an image file, read from its headers
/// only (nothing is decoded).
fn image_page_sizes(path: &Path) -> Result<Vec<(u32, u32)>, String> {
    let reader =
        image::ImageReader::open(path).map_err(|e| e.to_string())?.with_guessed_format().map_err(|e| e.to_string())?;
    if reader.format() == Some(ImageFormat::Tiff) {
        let file = std::io::BufReader::new(std::fs::File::open(path).map_err(|e| e.to_string())?);
        let mut decoder = tiff::decoder::Decoder::new(file).map_err(|e| e.to_string())?;
        let mut sizes = vec![decoder.dimensions().map_err(|e| e.to_string())?];
        while decoder.more_images() {
            decoder.next_image().map_err(|e| e.to_string())?;
            sizes.push(decoder.dimensions().map_err(|e| e.to_string())?);
        }
        return Ok(sizes);
    }
    Ok(vec![reader.into_dimensions().map_err(|e| e.to_string())?])
}

/// Collapses the runs of spaces lopdf leaves between text objects.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut words = line.split_whitespace().peekable();
        if words.peek().is_none() {
            continue;
        }
        for (i, w) in words.enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(w);
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// What OCR should read on a page without text: its biggest image if it is
/// big enough to be a scan; the rendered page where the images cannot even
/// be listed (e.g. a size given as a reference); nothing otherwise.
fn scan_image(doc: &Document, page: ObjectId) -> Option<PageSource> {
    match doc.get_page_images(page) {
        Ok(images) => images
            .iter()
            .filter(|i| i.width * i.height >= MIN_SCAN_PIXELS)
            .max_by_key(|i| i.width * i.height)
            .map(|i| PageSource::Image(i.id)),
        Err(_) => Some(PageSource::Rendered),
    }
}

/// The text of one page: lopdf decodes the strings with each font's
/// encoding; unlike its `extract_text`, line moves (`Td`, `TD`, `Tm`, `T*`)
/// become line breaks and wide `TJ` gaps spaces, so words on separate lines
/// or set apart by positioning do not run together.
fn page_text(doc: &Document, page: ObjectId, limit: usize) -> Result<String, lopdf::Error> {
    use lopdf::Encoding;
    let encodings: std::collections::BTreeMap<Vec<u8>, Encoding<'_>> = doc
        .get_page_fonts(page)?
        .into_iter()
        .filter_map(|(name, font)| font.get_font_encoding_with_limit(doc, limit).ok().map(|e| (name, e)))
        .collect();
    let content = lopdf::content::Content::decode(&doc.get_page_content_with_limit(page, limit)?)?;
    let mut out = String::new();
    let mut encoding: Option<&Encoding<'_>> = None;
    let separate = |out: &mut String, c: char| {
        if !out.is_empty() && !out.ends_with(char::is_whitespace) {
            out.push(c);
        }
    };
    let show = |out: &mut String, encoding: Option<&Encoding<'_>>, operand: &Object| {
        let Some(encoding) = encoding else { return };
        match operand {
            Object::String(bytes, _) => {
                let _ = encoding.write_to_string(bytes, out);
            }
            Object::Array(items) => {
                for item in items {
                    match item {
                        Object::String(bytes, _) => {
                            let _ = encoding.write_to_string(bytes, out);
                        }
                        // A gap wider than a tenth of an em is a word break.
                        Object::Integer(n) if *n < -100 => separate(out, ' '),
                        Object::Real(n) if *n < -100.0 => separate(out, ' '),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    };
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => {
                encoding = op.operands.first().and_then(|o| o.as_name().ok()).and_then(|n| encodings.get(n));
            }
            "Td" | "TD" | "Tm" | "T*" | "ET" => separate(&mut out, '\n'),
            "Tj" | "TJ" => {
                if let Some(operand) = op.operands.first() {
                    show(&mut out, encoding, operand);
                }
            }
            "'" => {
                separate(&mut out, '\n');
                if let Some(operand) = op.operands.first() {
                    show(&mut out, encoding, operand);
                }
            }
            "\"" => {
                separate(&mut out, '\n');
                if let Some(operand) = op.operands.get(2) {
                    show(&mut out, encoding, operand);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Whether the page uses a composite (CID) font without a ToUnicode map:
/// lopdf then reads glyph ids as characters, which look like text but are
/// not (Japanese, Chinese, many Arabic PDFs); poppler maps them through the
/// font's character collection.
fn has_unmapped_cid_font(doc: &Document, page: ObjectId) -> bool {
    doc.get_page_fonts(page).is_ok_and(|fonts| {
        fonts.values().any(|font| {
            font.get(b"Subtype").and_then(Object::as_name).is_ok_and(|s| s == b"Type0")
                && font.get(b"ToUnicode").is_err()
        })
    })
}

/// Enough letters and digits, and mostly those, to be text.
fn readable_text(text: &str) -> bool {
    let readable = text.chars().filter(|c| c.is_alphanumeric()).count();
    let visible = text.chars().filter(|c| !c.is_whitespace()).count();
    readable >= 1 && readable * 10 >= visible * 4
}

/// A cover sheet's payload, or why it could not be read.
type Cover = Result<String, String>;

/// What became of one page without a text layer.
enum PageResult {
    Text(String),
    /// A cover sheet: its payload, or why it could not be read.
    Cover(Result<String, String>),
    /// No OCR engine: the page waits for `akten ocr --pending`.
    NoOcr,
    Failed(String),
}

/// OCRs the tasks with at most `config.jobs()` in parallel, in page order;
/// with `covers`, scanned pages are first looked at for a cover sheet.
fn run_ocr_tasks(
    doc: &Document,
    pdf: &Path,
    tasks: &[OcrTask],
    config: &ExtractConfig,
    engine: Option<&dyn Ocr>,
    covers: bool,
    scratch: &Path,
) -> Vec<PageResult> {
    let results: Vec<Mutex<Option<PageResult>>> = tasks.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let jobs = config.jobs().min(tasks.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let base = scratch.join(format!("p{}", task.page));
                    let result = match page_image(doc, pdf, task, config, &base) {
                        Err(e) => PageResult::Failed(e),
                        Ok((image, cleanup)) => {
                            let cover = if covers && matches!(task.source, PageSource::Image(_)) {
                                cover_on(&image, config.max_pixels)
                            } else {
                                None
                            };
                            let result = match (cover, engine) {
                                (Some(cover), _) => PageResult::Cover(cover),
                                (None, Some(engine)) => match engine.recognize(&image, 1) {
                                    Ok(text) => PageResult::Text(text),
                                    Err(e) => PageResult::Failed(e.to_string()),
                                },
                                (None, None) => PageResult::NoOcr,
                            };
                            for f in cleanup {
                                let _ = std::fs::remove_file(f);
                            }
                            result
                        }
                    };
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| PageResult::Failed("not processed".into()))
        })
        .collect()
}

/// The cover sheet whose QR code is on the page image in `file`, if any.
fn cover_on(file: &Path, max_pixels: u64) -> Option<Result<String, String>> {
    let mut reader = image::ImageReader::open(file).ok()?.with_guessed_format().ok()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4));
    reader.limits(limits);
    let gray = reader.decode().ok()?.to_luma8();
    cover_in(&gray)
}

fn cover_in(gray: &GrayImage) -> Option<Result<String, String>> {
    match super::qr::find_cover(gray)? {
        Ok(target) => Some(Ok(crate::coversheet::encode(&target))),
        Err(crate::coversheet::PayloadError::NotACoverSheet) => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

/// A born-digital cover sheet (the PDF `akten coversheet` writes) carries
/// its payload as text beside the QR code.
fn printed_cover(text: &str) -> Option<Result<String, String>> {
    if !text.contains(crate::coversheet::MARKER) {
        return None;
    }
    let payload = text.lines().map(str::trim).find(|l| l.starts_with("AKTEN") && l.contains('|'))?;
    match crate::coversheet::parse(payload) {
        Ok(target) => Some(Ok(crate::coversheet::encode(&target))),
        Err(crate::coversheet::PayloadError::NotACoverSheet) => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

/// The resolution of a page's scan image: its pixels across the page width.
fn image_dpi(doc: &Document, page: u32, image: ObjectId) -> Option<u32> {
    let (w_pt, h_pt) = page_size_points(doc, page)?;
    let dict = &doc.get_object(image).ok()?.as_stream().ok()?.dict;
    let int = |key: &[u8]| dict.get(key).ok().and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_i64().ok());
    let (w, h) = (int(b"Width")? as f64, int(b"Height")? as f64);
    if w_pt <= 0.0 || h_pt <= 0.0 {
        return None;
    }
    // The image may be placed turned: take the larger side against the larger side.
    let dpi = w.max(h) / (w_pt.max(h_pt) / 72.0);
    (dpi.is_finite() && dpi >= 1.0).then(|| dpi.round() as u32)
}

/// Cuts the batch at its cover sheets. Without any, one part is the whole
/// file. Parts are written to `dir` as `part-FIRST-LAST.pdf`; the same batch
/// always gives the same parts.
fn split_parts(
    doc: &Document,
    texts: &[String],
    total: u32,
    covers: &mut [(u32, Cover)],
    dir: &Path,
) -> Result<Vec<super::ScanPart>, String> {
    covers.sort_by_key(|(p, _)| *p);
    let text_of = |first: u32, last: u32| {
        (first..=last)
            .filter_map(|p| texts.get((p - 1) as usize))
            .filter(|t| !t.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    if covers.is_empty() {
        return Ok(vec![super::ScanPart { first: 1, last: total, cover: None, file: None, text: text_of(1, total) }]);
    }
    let mut parts = Vec::new();
    let mut start = 1;
    let mut cover: Option<Cover> = None;
    let mut bounds: Vec<(u32, u32, Option<Cover>)> = Vec::new();
    for (page, payload) in covers.iter() {
        if *page > start {
            bounds.push((start, page - 1, cover.take()));
        }
        cover = Some(payload.clone());
        start = page + 1;
    }
    if start <= total {
        bounds.push((start, total, cover.take()));
    }
    let all: Vec<u32> = doc.get_pages().keys().copied().collect();
    for (first, last, cover) in bounds {
        let mut part = doc.clone();
        let drop: Vec<u32> = all.iter().copied().filter(|p| *p < first || *p > last).collect();
        part.delete_pages(&drop);
        part.prune_objects();
        let file = dir.join(format!("part-{first}-{last}.pdf"));
        part.save(&file).map_err(|e| format!("pages {first}-{last} could not be written as a part: {e}"))?;
        parts.push(super::ScanPart { first, last, cover, file: Some(file), text: text_of(first, last) });
    }
    Ok(parts)
}

/// poppler's text of the whole file, one entry per page (empty where
/// `pdftotext` is not installed, fails or runs out of time).
fn pdftotext_pages(pdf: &Path, config: &ExtractConfig) -> Vec<String> {
    let mut command = Command::new("pdftotext");
    command.args(["-q", "-enc", "UTF-8"]).arg(pdf).arg("-");
    match run_limited(command, Duration::from_secs(config.page_timeout_secs)) {
        Ok(out) => String::from_utf8_lossy(&out).split('\u{c}').map(tidy).collect(),
        Err(_) => Vec::new(),
    }
}

/// Renders the page in grey with poppler's `pdftoppm`, at 300 dpi or less
/// so that it stays within `max_pixels`.
fn rendered_page(
    doc: &Document,
    pdf: &Path,
    page: u32,
    config: &ExtractConfig,
    base: &Path,
) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let (w_pt, h_pt) = page_size_points(doc, page).unwrap_or((595.0, 842.0));
    let pixels_at_300 = (w_pt * 300.0 / 72.0) * (h_pt * 300.0 / 72.0);
    let scale = (config.max_pixels as f64 / pixels_at_300).sqrt().min(1.0);
    let dpi = ((300.0 * scale) as u32).max(36).to_string();
    let page_arg = page.to_string();
    if !super::ocr::on_path("pdftoppm") {
        return Err("it has to be rendered for OCR, which needs `pdftoppm` (poppler-utils); install it and run `akten ocr --pending --failed`".into());
    }
    let mut command = Command::new("pdftoppm");
    command.args(["-r", &dpi, "-gray", "-png", "-singlefile", "-f", &page_arg, "-l", &page_arg]).arg(pdf).arg(base);
    let png = base.with_extension("png");
    match run_limited(command, Duration::from_secs(config.page_timeout_secs)) {
        Ok(_) if png.is_file() => Ok((png.clone(), vec![png])),
        _ => Err("pdftoppm could not render it for OCR (or ran out of time)".into()),
    }
}

/// Width and height of a page's MediaBox (inherited), in points.
fn page_size_points(doc: &Document, page: u32) -> Option<(f64, f64)> {
    let mut id = *doc.get_pages().get(&page)?;
    for _ in 0..32 {
        let dict = doc.get_dictionary(id).ok()?;
        if let Ok(Object::Array(b)) = dict.get(b"MediaBox").and_then(|o| doc.dereference(o)).map(|(_, o)| o) {
            let n: Vec<f64> = b.iter().filter_map(|o| o.as_float().ok().map(f64::from)).collect();
            if n.len() == 4 {
                return Some(((n[2] - n[0]).abs(), (n[3] - n[1]).abs()));
            }
        }
        id = dict.get(b"Parent").ok()?.as_reference().ok()?;
    }
    None
}

/// Writes the page's scan image to a file tesseract reads; returns it and
/// the files to remove afterwards.
fn page_image(
    doc: &Document,
    pdf: &Path,
    task: &OcrTask,
    config: &ExtractConfig,
    base: &Path,
) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let image = match task.source {
        PageSource::Image(id) => id,
        PageSource::Rendered => return rendered_page(doc, pdf, task.page, config, base),
    };
    let stream =
        doc.get_object(image).and_then(Object::as_stream).map_err(|e| format!("its image cannot be read ({e})"))?;
    let dict = &stream.dict;
    // Sizes may be given as references (/Height 8 0 R).
    let int = |key: &[u8]| dict.get(key).ok().and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_i64().ok());
    let width = int(b"Width").unwrap_or(0);
    let height = int(b"Height").unwrap_or(0);
    if width <= 0 || height <= 0 {
        return Err("its image has no size".into());
    }
    let pixels = (width as u64).saturating_mul(height as u64);
    if pixels > config.max_pixels {
        return Err(format!(
            "image of {width}×{height} pixels is more than [extract] max_pixels ({}); raise it in akten.toml and run `akten ocr --pending --failed` if the scan is genuine",
            config.max_pixels
        ));
    }
    let filters: Vec<String> = match dict.get(b"Filter") {
        Ok(Object::Name(n)) => vec![String::from_utf8_lossy(n).into_owned()],
        Ok(Object::Array(a)) => {
            a.iter().filter_map(|o| o.as_name().ok()).map(|n| String::from_utf8_lossy(n).into_owned()).collect()
        }
        _ => Vec::new(),
    };
    let decode_inverted = matches!(dict.get(b"Decode"), Ok(Object::Array(a))
        if a.first().and_then(|o| o.as_float().ok()) == Some(1.0));
    let bpc = int(b"BitsPerComponent").unwrap_or(8);
    let image_mask = matches!(dict.get(b"ImageMask"), Ok(Object::Boolean(true)));
    let max_bytes = usize::try_from(config.max_decompressed_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    match filters.as_slice() {
        [only] if only == "DCTDecode" => {
            let jpg = base.with_extension("jpg");
            std::fs::write(&jpg, &stream.content).map_err(|e| format!("cannot write a temporary image: {e}"))?;
            Ok((jpg.clone(), vec![jpg]))
        }
        [only] if only == "CCITTFaxDecode" => {
            let params = decode_params(doc, dict);
            let k = params.get(b"K").ok().and_then(|o| o.as_i64().ok()).unwrap_or(0);
            if k >= 0 {
                return via_pdfimages(pdf, task.page, base, config.page_timeout_secs, "a CCITT Group 3 image");
            }
            let columns = params.get(b"Columns").ok().and_then(|o| o.as_i64().ok()).unwrap_or(1728);
            let black_is_1 = matches!(params.get(b"BlackIs1"), Ok(Object::Boolean(true)));
            let (w, h) = (u16::try_from(columns).map_err(|_| "CCITT image too wide")?, u16::try_from(height).ok());
            let mut pixels: Vec<u8> = Vec::with_capacity((width * height) as usize);
            let mut rows = 0i64;
            fax::decoder::decode_g4(stream.content.iter().copied(), w, h, |line| {
                if rows < height {
                    pixels.extend(fax::decoder::pels(line, w).map(|c| {
                        let black = c == fax::Color::Black;
                        let sample_one = black == black_is_1;
                        if sample_one != decode_inverted { 255 } else { 0 }
                    }));
                    rows += 1;
                }
            });
            if rows == 0 {
                return Err("its CCITT G4 image could not be decoded".into());
            }
            let image = GrayImage::from_raw(u32::from(w), rows as u32, pixels)
                .ok_or("its CCITT G4 image has an inconsistent size")?;
            let file = write_uncompressed(&image::DynamicImage::ImageLuma8(image), base)?;
            Ok((file.clone(), vec![file]))
        }
        f if f.iter().any(|f| matches!(f.as_str(), "JBIG2Decode" | "JPXDecode" | "DCTDecode" | "CCITTFaxDecode")) => {
            via_pdfimages(pdf, task.page, base, config.page_timeout_secs, &format!("a {} image", f.join("+")))
        }
        _ => {
            let data = stream
                .decompressed_content_with_limit(max_bytes)
                .map_err(|e| format!("its image cannot be decompressed within [extract] max_decompressed_mib ({e})"))?;
            let components = if image_mask { Some(1) } else { color_components(doc, dict) };
            let (w, h) = (width as u32, height as u32);
            let image: Option<image::DynamicImage> = match (components, bpc) {
                (Some(1), 8) => GrayImage::from_raw(w, h, trim(data, pixels)).map(|i| {
                    let mut i = image::DynamicImage::ImageLuma8(i);
                    if decode_inverted {
                        i.invert();
                    }
                    i
                }),
                (Some(1), 1) => {
                    let row = (w as usize).div_ceil(8);
                    if data.len() < row * h as usize {
                        None
                    } else {
                        let mut out = Vec::with_capacity((w * h) as usize);
                        for y in 0..h as usize {
                            for x in 0..w as usize {
                                let bit = data[y * row + x / 8] >> (7 - x % 8) & 1 == 1;
                                // Sample 1 is white for DeviceGray, "paint" for an image mask.
                                let white = if image_mask { !bit } else { bit };
                                out.push(if white != decode_inverted { 255 } else { 0 });
                            }
                        }
                        GrayImage::from_raw(w, h, out).map(image::DynamicImage::ImageLuma8)
                    }
                }
                (Some(3), 8) => RgbImage::from_raw(w, h, trim(data, pixels * 3)).map(image::DynamicImage::ImageRgb8),
                (Some(4), 8) => {
                    let cmyk = trim(data, pixels * 4);
                    if cmyk.len() < (pixels * 4) as usize {
                        None
                    } else {
                        let rgb: Vec<u8> = cmyk
                            .chunks_exact(4)
                            .flat_map(|p| {
                                let k = 255 - u16::from(p[3]);
                                [0, 1, 2].map(|i| ((255 - u16::from(p[i])) * k / 255) as u8)
                            })
                            .collect();
                        RgbImage::from_raw(w, h, rgb).map(image::DynamicImage::ImageRgb8)
                    }
                }
                _ => {
                    return via_pdfimages(
                        pdf,
                        task.page,
                        base,
                        config.page_timeout_secs,
                        "an image in an uncommon colour format",
                    );
                }
            };
            let image = image.ok_or(
                "its image data is shorter than its size says (a damaged image, or decoding it hit [extract] memory_mib)",
            )?;
            let file = write_uncompressed(&image, base)?;
            Ok((file.clone(), vec![file]))
        }
    }
}

/// Writes decoded pixels for tesseract as an uncompressed TIFF: nothing to
/// compress (PNG encoding of a 300 dpi page cost about a tenth of its OCR
/// time) and, unlike PGM, read by leptonica as fast as PNG.
fn write_uncompressed(image: &image::DynamicImage, base: &Path) -> Result<PathBuf, String> {
    let path = base.with_extension("tif");
    let saved = match image {
        image::DynamicImage::ImageLuma8(_) | image::DynamicImage::ImageRgb8(_) => {
            image.save_with_format(&path, ImageFormat::Tiff)
        }
        other => image::DynamicImage::ImageLuma8(other.to_luma8()).save_with_format(&path, ImageFormat::Tiff),
    };
    saved.map_err(|e| format!("cannot write a temporary image: {e}"))?;
    Ok(path)
}

fn trim(mut data: Vec<u8>, len: u64) -> Vec<u8> {
    data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
    data
}

fn decode_params<'a>(doc: &'a Document, dict: &'a lopdf::Dictionary) -> lopdf::Dictionary {
    let resolve = |o: &Object| match o {
        Object::Reference(id) => doc.get_object(*id).ok().cloned(),
        other => Some(other.clone()),
    };
    match dict.get(b"DecodeParms").ok().and_then(resolve) {
        Some(Object::Dictionary(d)) => d,
        Some(Object::Array(a)) => match a.last().and_then(resolve) {
            Some(Object::Dictionary(d)) => d,
            _ => lopdf::Dictionary::new(),
        },
        _ => lopdf::Dictionary::new(),
    }
}

/// Colour components of an image's colour space, where akten decodes it.
fn color_components(doc: &Document, dict: &lopdf::Dictionary) -> Option<u32> {
    let space = match dict.get(b"ColorSpace").ok()? {
        Object::Reference(id) => doc.get_object(*id).ok()?,
        other => other,
    };
    match space {
        Object::Name(n) => match n.as_slice() {
            b"DeviceGray" | b"CalGray" | b"G" => Some(1),
            b"DeviceRGB" | b"CalRGB" | b"RGB" => Some(3),
            b"DeviceCMYK" | b"CMYK" => Some(4),
            _ => None,
        },
        Object::Array(a) => match a.first()?.as_name().ok()? {
            b"ICCBased" => {
                let stream = match a.get(1)? {
                    Object::Reference(id) => doc.get_object(*id).ok()?.as_stream().ok()?,
                    Object::Stream(s) => s,
                    _ => return None,
                };
                stream.dict.get(b"N").ok()?.as_i64().ok().and_then(|n| u32::try_from(n).ok())
            }
            b"CalGray" => Some(1),
            b"CalRGB" => Some(3),
            _ => None,
        },
        _ => None,
    }
}

/// Lets poppler's `pdfimages` write the page's images (it decodes JBIG2,
/// JPEG 2000 and the rest) and takes the largest.
fn via_pdfimages(
    pdf: &Path,
    page: u32,
    base: &Path,
    timeout_secs: u64,
    what: &str,
) -> Result<(PathBuf, Vec<PathBuf>), String> {
    if !super::ocr::on_path("pdfimages") {
        return Err(format!(
            "{what} needs `pdfimages` (poppler-utils), which is not installed; install it and run `akten ocr --pending --failed`"
        ));
    }
    let page_arg = page.to_string();
    let mut command = Command::new("pdfimages");
    command.args(["-f", &page_arg, "-l", &page_arg, "-png"]).arg(pdf).arg(base);
    let finished = run_limited(command, Duration::from_secs(timeout_secs)).is_ok();
    let prefix = base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = base.parent().unwrap_or(Path::new("."));
    let written: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.starts_with(&format!("{prefix}-")) && n.ends_with(".png")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    match written.is_empty() {
        true if finished => Err(format!("{what} could not be decoded by pdfimages")),
        true => Err(format!("{what} could not be decoded by pdfimages in time")),
        false => {
            let largest = written
                .iter()
                .max_by_key(|p| {
                    image::ImageReader::open(p)
                        .ok()
                        .and_then(|r| r.into_dimensions().ok())
                        .map_or(0, |(w, h)| u64::from(w) * u64::from(h))
                })
                .cloned()
                .expect("not empty");
            Ok((largest, written))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_spaces_and_blank_lines() {
        assert_eq!(tidy("  Sehr  geehrte\n\n\n Damen   und Herren \n"), "Sehr geehrte\nDamen und Herren");
    }

    #[test]
    fn broken_and_non_pdfs_fail_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let off = OcrAvailability::Off("test".into());
        for (name, bytes) in
            [("empty.pdf", &b""[..]), ("junk.pdf", b"%PDF-1.4\n1 0 obj <<"), ("rand.pdf", &[0xff; 300])]
        {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let e = extract_pdf(&path, &ExtractConfig::default(), &off, dir.path(), None);
            assert!(
                matches!(&e.status, TextStatus::Failed(r) if r.contains("not a readable PDF")),
                "{name}: {:?}",
                e.status
            );
        }
    }

    #[test]
    fn fixture_pdf_text_is_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/posteingang/bauantrag-flurstueck-17.pdf");
        let dir = tempfile::tempdir().unwrap();
        let e = extract_pdf(&path, &ExtractConfig::default(), &OcrAvailability::Off("test".into()), dir.path(), None);
        assert_eq!(e.status, TextStatus::Ok, "{e:?}");
        assert!(e.text.contains("Flurst"), "{}", e.text);
        assert_eq!(e.pages, Some(1));
    }
}
