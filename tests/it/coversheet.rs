//! Cover sheets end to end: `akten::coversheet::render_pdf` rasterised by
//! poppler's `pdftoppm` like a scanner would deliver it (200 and 300 dpi,
//! turned, skewed, JPEG-compressed with ImageMagick), then read back with
//! `akten::extract::qr::find_cover`; pages without a QR code or with a
//! foreign one must give nothing.
//!
//! Tests that need `pdftoppm`, `pdftotext` or `convert` say so and skip
//! where they are missing (.ci/run installs them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use akten::coversheet::{CoverSheetPrint, CoverTarget, render_pdf};
use akten::extract::qr::find_cover;
use akten::model::{Aktenzeichen, DocKind, Vorgangszeichen};

fn need(tool: &str, test: &str) -> bool {
    let package = match tool {
        "pdftoppm" | "pdftotext" => "poppler-utils",
        "convert" => "imagemagick fonts-dejavu-core",
        other => other,
    };
    crate::util::need(tool, test, package)
}

fn full_target() -> CoverTarget {
    CoverTarget::Target {
        akte: Aktenzeichen::new("61.26.01-0003/2026"),
        vorgang: Some(Vorgangszeichen::new("61.26.01-0003/2026-12")),
        kind: Some(DocKind::Eingang),
        received: Some(jiff::civil::date(2026, 12, 4)),
    }
}

fn write_sheet(dir: &Path, name: &str, target: CoverTarget) -> PathBuf {
    let sheet = CoverSheetPrint {
        target,
        akte_title: Some("Baumfällung Birkenweg 8 (Flurstück 212), Anträge und Bescheide".into()),
        vorgang_title: Some("Widerspruch der Anlieger gegen die Fällgenehmigung".into()),
        position: Some("61.26.01 Baumschutz".into()),
    };
    let path = dir.join(name);
    std::fs::write(&path, render_pdf(&sheet).expect("render cover sheet")).unwrap();
    path
}

/// `pdftoppm -gray -r DPI` of the PDF's first page, as PNG.
pub(crate) fn raster(pdf: &Path, dpi: u32) -> PathBuf {
    let base = pdf.with_file_name(format!("{}-{dpi}", pdf.file_stem().unwrap().to_string_lossy()));
    let status = Command::new("pdftoppm")
        .args(["-gray", "-r", &dpi.to_string(), "-png", "-singlefile"])
        .arg(pdf)
        .arg(&base)
        .status()
        .expect("run pdftoppm");
    assert!(status.success(), "pdftoppm failed on {}", pdf.display());
    base.with_extension("png")
}

/// `convert IN ARGS OUT`.
fn magick(input: &Path, args: &[&str], out: &Path) {
    let status = Command::new("convert").arg(input).args(args).arg(out).status().expect("run convert");
    assert!(status.success(), "convert {args:?} failed");
}

fn decode(path: &Path) -> (Option<Result<CoverTarget, akten::coversheet::PayloadError>>, u128) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_luma8();
    let start = Instant::now();
    let found = find_cover(&img);
    (found, start.elapsed().as_millis())
}

#[test]
fn coversheet_scans_decode_turned_skewed_and_compressed() {
    let test = "coversheet_scans_decode_turned_skewed_and_compressed";
    if !need("pdftoppm", test) || !need("convert", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = full_target();
    let pdf = write_sheet(dir.path(), "sheet.pdf", target.clone());
    // (name, ImageMagick arguments; empty = the raster as it is)
    let variants: &[(&str, &[&str])] = &[
        ("plain", &[]),
        ("rot90", &["-rotate", "90"]),
        ("rot180", &["-rotate", "180"]),
        ("rot270", &["-rotate", "270"]),
        ("skew3", &["-background", "white", "-rotate", "3"]),
        ("skew-2", &["-background", "white", "-rotate", "-2"]),
        ("q60", &["-quality", "60"]),
        ("skew3-q60", &["-background", "white", "-rotate", "3", "-quality", "60"]),
        ("rot90-q60", &["-rotate", "90", "-quality", "60"]),
        ("rot93-q60", &["-background", "white", "-rotate", "93", "-quality", "60"]),
        // These two need the harder passes at 300 dpi (turned copy, full size).
        ("blur2", &["-blur", "0x2"]),
        ("rot45", &["-background", "white", "-rotate", "45"]),
        // A black-and-white scanner mode (as CCITT G4 pages decode).
        ("bilevel", &["-threshold", "55%"]),
        ("noise-q75", &["-attenuate", "0.6", "+noise", "Gaussian", "-quality", "75"]),
    ];
    let mut failures = Vec::new();
    for dpi in [200, 300] {
        let png = raster(&pdf, dpi);
        for (name, args) in variants {
            let file = if args.is_empty() {
                png.clone()
            } else {
                let ext = if args.contains(&"-quality") { "jpg" } else { "png" };
                let out = dir.path().join(format!("{name}-{dpi}.{ext}"));
                magick(&png, args, &out);
                out
            };
            let (found, ms) = decode(&file);
            eprintln!("{dpi} dpi {name}: {ms} ms, {found:?}");
            if found != Some(Ok(target.clone())) {
                failures.push(format!("{dpi} dpi {name}: {found:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "not read:\n{}", failures.join("\n"));
}

#[test]
fn coversheet_separator_sheet_is_read() {
    let test = "coversheet_separator_sheet_is_read";
    if !need("pdftoppm", test) || !need("convert", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pdf = write_sheet(dir.path(), "separator.pdf", CoverTarget::Separator);
    let png = raster(&pdf, 200);
    assert_eq!(decode(&png).0, Some(Ok(CoverTarget::Separator)));
    let turned = dir.path().join("separator-270.jpg");
    magick(&png, &["-background", "white", "-rotate", "268", "-quality", "60"], &turned);
    assert_eq!(decode(&turned).0, Some(Ok(CoverTarget::Separator)));
}

/// An A4 page of letter text at `dpi`, as ImageMagick renders it.
fn text_page(dir: &Path, dpi: u32) -> PathBuf {
    let out = dir.join(format!("letter-{dpi}.png"));
    let (w, h) = (210 * dpi * 10 / 254, 297 * dpi * 10 / 254);
    let body = "Sehr geehrte Damen und Herren,\n\nhiermit beantrage ich die Fällung einer Kastanie\nauf dem Grundstück Birkenweg 8, Flurstück 212.\nDer Baum ist nach dem Gutachten vom 3. November\nnicht mehr standsicher (Anlage 1, Fotos 1-4).\n\nMit freundlichen Grüßen\n\nErika Mustermann\nBirkenweg 8 · 12345 Musterstadt · Tel. 0123 456789";
    let status = Command::new("convert")
        .args(["-size", &format!("{w}x{h}"), "xc:white", "-font", "DejaVu-Sans", "-fill", "black"])
        .args(["-pointsize", &(dpi * 12 / 72).to_string(), "-annotate", &format!("+{}+{}", dpi, dpi * 2), body])
        .args([
            "-pointsize",
            &(dpi * 8 / 72).to_string(),
            "-annotate",
            &format!("+{}+{}", dpi, h - dpi),
            "■ □ ▪ ◼ 0 O o ● ○ ▣ ◘ █",
        ])
        .args(["-colorspace", "Gray", "-depth", "8"])
        .arg(&out)
        .status()
        .expect("run convert");
    assert!(status.success(), "convert failed for the letter page");
    out
}

#[test]
fn coversheet_letter_pages_without_qr_give_nothing() {
    let test = "coversheet_letter_pages_without_qr_give_nothing";
    if !need("convert", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for dpi in [200, 300] {
        let page = text_page(dir.path(), dpi);
        let (found, ms) = decode(&page);
        eprintln!("letter {dpi} dpi: {ms} ms");
        assert_eq!(found, None, "{dpi} dpi");
        let jpg = dir.path().join(format!("letter-{dpi}.jpg"));
        magick(&page, &["-background", "white", "-rotate", "2", "-quality", "60"], &jpg);
        assert_eq!(decode(&jpg).0, None, "{dpi} dpi skewed JPEG");
    }
}

/// Draws a QR code's modules (`dark`, row by row, `width` wide) at
/// (1800, 200), `px` pixels each.
fn paint_modules(page: &mut image::GrayImage, width: usize, dark: &[bool], px: u32) {
    for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
        let (x, y) = ((i % width) as u32, (i / width) as u32);
        for dy in 0..px {
            for dx in 0..px {
                page.put_pixel(1800 + x * px + dx, 200 + y * px + dy, image::Luma([0]));
            }
        }
    }
}

/// A 300 dpi A4 page with a foreign QR code (a payment code) drawn on it.
#[test]
fn coversheet_foreign_qr_is_ignored() {
    let mut page = image::GrayImage::from_pixel(2480, 3508, image::Luma([255]));
    let code = qrcode::QrCode::with_error_correction_level(
        "BCD\n002\n1\nSCT\nBELADEBEXXX\nStadtkasse Musterstadt\nDE02100500000024290661\nEUR12.50\n\n\nKassenzeichen 4711",
        qrcode::EcLevel::M,
    )
    .unwrap();
    let px = 12;
    let dark: Vec<bool> = code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
    paint_modules(&mut page, code.width(), &dark, px);
    assert_eq!(find_cover(&page), None);
    // The same page turned: a foreign code must not be read as ours either.
    assert_eq!(find_cover(&image::imageops::rotate90(&page)), None);
    // The sheet's own code at the same place is read, so the test could fail.
    let ours = akten::coversheet::qr_modules(&akten::coversheet::encode(&full_target())).unwrap();
    let mut page = image::GrayImage::from_pixel(2480, 3508, image::Luma([255]));
    paint_modules(&mut page, ours.width, &ours.dark, px);
    assert_eq!(find_cover(&page), Some(Ok(full_target())));
}

#[test]
fn coversheet_text_layer_names_the_target() {
    let test = "coversheet_text_layer_names_the_target";
    if !need("pdftotext", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pdf = write_sheet(dir.path(), "sheet.pdf", full_target());
    let out = Command::new("pdftotext").arg(&pdf).arg("-").output().expect("run pdftotext");
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("pdftotext gives UTF-8");
    for needle in [
        "AKTEN-DECKBLATT",
        "Deckblatt",
        "61.26.01-0003/2026",
        "61.26.01-0003/2026-12",
        "Baumfällung Birkenweg 8",
        "Flurstück",
        "Eingang",
        "04.12.2026",
        "Schriftstücks",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
    let separator = write_sheet(dir.path(), "separator.pdf", CoverTarget::Separator);
    let out = Command::new("pdftotext").arg(&separator).arg("-").output().expect("run pdftotext");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Trennblatt") && text.contains("AKTEN-DECKBLATT"), "{text}");
}
