//! `extract::qr::find_cover` on A4 grey pages at 200 and 300 dpi: a letter
//! page without a code (what nearly every page is, so what the mailroom
//! pays per scanned page) and a cover sheet.
//!
//! Pages are drawn here: dark "text" runs on white, and for the cover sheet
//! the sheet's real QR code (`coversheet::qr_modules`) 5 cm wide, top right,
//! as `akten coversheet` prints it.

use akten::coversheet::{CoverTarget, encode, qr_modules};
use akten::extract::qr::find_cover;
use akten::model::Aktenzeichen;
use criterion::{Criterion, criterion_group, criterion_main};
use image::{GrayImage, Luma};

/// A4 at `dpi` with lines of word-like dark runs.
fn letter(dpi: u32) -> GrayImage {
    let (w, h) = (dpi * 827 / 100, dpi * 1169 / 100);
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    let line = dpi / 6;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for row in (dpi..h - dpi).step_by(line as usize) {
        let mut col = dpi;
        while col < w - dpi {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let word = dpi / 10 + (x % u64::from(dpi / 3)) as u32;
            for yy in row..row + line / 2 {
                for xx in col..(col + word).min(w - dpi) {
                    if (xx + yy) % 3 != 0 {
                        img.put_pixel(xx, yy, Luma([30]));
                    }
                }
            }
            col += word + dpi / 12;
        }
    }
    img
}

/// The cover sheet of an Akte: its QR code drawn 5 cm wide on a letter-like page.
fn cover(dpi: u32) -> GrayImage {
    let mut img = letter(dpi);
    let target =
        CoverTarget::Target { akte: Aktenzeichen::new("610.07-0001/2026"), vorgang: None, kind: None, received: None };
    let qr = qr_modules(&encode(&target)).unwrap();
    let size = dpi * 500 / 254;
    let module = size / qr.width as u32;
    let (x0, y0) = (img.width() - dpi - size - 8 * module, dpi);
    for y in 0..size + 8 * module {
        for x in 0..size + 8 * module {
            img.put_pixel(x0 + x, y0 + y, Luma([255]));
        }
    }
    for (i, dark) in qr.dark.iter().enumerate() {
        if *dark {
            let (mx, my) = ((i % qr.width) as u32, (i / qr.width) as u32);
            for y in 0..module {
                for x in 0..module {
                    img.put_pixel(x0 + (mx + 4) * module + x, y0 + (my + 4) * module + y, Luma([0]));
                }
            }
        }
    }
    img
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("find_cover");
    group.sample_size(20);
    for dpi in [200, 300] {
        let page = letter(dpi);
        assert!(find_cover(&page).is_none(), "a letter page has no cover sheet");
        group.bench_function(format!("letter_{dpi}dpi"), |b| b.iter(|| find_cover(&page)));
        let sheet = cover(dpi);
        let found = find_cover(&sheet);
        assert!(matches!(found, Some(Ok(_))), "the cover sheet is read at {dpi} dpi: {found:?}");
        group.bench_function(format!("cover_{dpi}dpi"), |b| b.iter(|| find_cover(&sheet)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
