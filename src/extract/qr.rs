//! Finding the akten cover sheet on a scanned page: the QR code printed by
//! [`crate::coversheet::render_pdf`], read with rqrr.
//!
//! Owns: the passes over one decoded page image and their budget. It does
//! not load files or decide what happens to the page (the mailroom does).
//!
//! Invariants:
//! - [`find_cover`] never panics, whatever the image (empty, tiny, huge,
//!   blank); rqrr has open panics on odd images (rqrr issue 54: an
//!   assertion in its perspective fit), so every rqrr call runs under
//!   `catch_unwind` and a panic counts as "grid not decoded" in that pass
//!   (the panic hook still prints it to stderr).
//! - Foreign QR codes (bank transfer codes, parcel labels) are ignored: only
//!   a payload that starts with `AKTEN` is an answer.
//! - A page without anything QR-like costs one cheap pass.
//!
//! Passes, in order, each only when the previous ones found nothing:
//! 1. a box-filtered copy at about 100 dpi (long side ≤ 1400 px), rqrr's own
//!    adaptive threshold. It is all a plain letter page costs, and in the
//!    measurements below it read the printed sheet in every quarter turn;
//!    rqrr is known to miss some 90°-turned codes (rust-stack.md §8), which
//!    pass 2 is for.
//!
//! The later passes run only if pass 1 saw a QR grid it could not decode
//! (rqrr finds the grid of a 90°-turned code but fails its error correction)
//! or a finder pattern of its own (`finder_hits`), and stop at the first
//! answer or when [`BUDGET`] is spent:
//! 2. the same copy turned by 90°;
//! 3. the same copy with a global Otsu threshold;
//! 4. the same copy blurred by one pixel (3×3 box);
//! 5. a copy at 75 % of pass 1's size;
//! 6. the full-resolution image (then turned by 90°), if pass 1 was reduced.
//!
//! Measured (dev profile with akten and every dependency at opt-level 2,
//! `--config 'profile.dev.package.akten.opt-level=2'`, debug assertions
//! on; 2 shared cores; image decoding not included):
//!
//! | page (A4, grey) | 200 dpi | 300 dpi |
//! |---|---|---|
//! | letter text, no QR (also skewed JPEG q60) | 18–19 ms | 26–29 ms |
//! | cover sheet, upright/90°/180°/270°/15°/93°, q30–q75, noise | 23–32 ms | 31–46 ms |
//! | cover sheet needing harder passes (2 px blur, 45°) | – | 43–63 ms |
//! | worst case: code seen, nothing decodes (8 px blur, all passes) | 18 ms | 300 ms |
//!
//! 100 and 150 dpi sheets read in 16 ms, 600 dpi in 78 ms (most of it the
//! box filter over 35 Mpx). A debug build (akten at opt-level 0) is about
//! 4× slower. `cargo bench --bench qr` (release) measures drawn pages: a
//! letter 18.0 ms at 200 dpi and 25.8 ms at 300 dpi, an upright cover
//! sheet 21.5 ms and 29.8 ms.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use image::GrayImage;

use crate::coversheet::{CoverTarget, PayloadError, parse};

/// Harder passes stop starting once this much time is spent on a page.
pub const BUDGET: Duration = Duration::from_millis(1500);
/// Pass 1 works on a copy whose long side is at most this (about 100 dpi
/// for A4 at 300 dpi: a 1.2 mm module is about 5 px there).
const FAST_LONG_SIDE: u32 = 1400;
/// Images with more pixels than this are not QR-scanned at full size
/// (about 600 dpi A4); the reduced passes still run.
const MAX_FULL_PIXELS: u64 = 36_000_000;

/// What one rqrr pass saw.
#[derive(Default)]
struct PassResult {
    /// An akten payload (or a broken akten payload).
    answer: Option<Result<CoverTarget, PayloadError>>,
    /// A grid was found but did not decode, or rqrr panicked.
    undecoded: bool,
}

/// Looks for an akten cover-sheet QR code on one page.
///
/// `None`: no akten QR code was found (foreign codes are ignored).
/// `Some(Err(_))`: an akten code was read but is not usable here (newer
/// version, broken field): the caller should stop and tell the user.
///
/// Expects a scan of 100–600 dpi (the sheet's modules are 1.2 mm); costs
/// are in the module docs (about 20–30 ms for a page without a QR code).
pub fn find_cover(img: &GrayImage) -> Option<Result<CoverTarget, PayloadError>> {
    let start = Instant::now();
    let (w, h) = img.dimensions();
    if w < 21 || h < 21 {
        return None;
    }
    let factor = w.max(h).div_ceil(FAST_LONG_SIDE).max(1);
    let small = if factor > 1 { box_down(img, factor) } else { img.clone() };

    let first = pass(&small);
    if first.answer.is_some() {
        return first.answer;
    }
    if !first.undecoded && !finder_hits(&small) {
        return None;
    }

    let full_ok = factor > 1 && u64::from(w) * u64::from(h) <= MAX_FULL_PIXELS;
    let passes: [&dyn Fn() -> Option<GrayImage>; 6] = [
        &|| Some(image::imageops::rotate90(&small)),
        &|| Some(otsu(&small)),
        &|| Some(blur(&small)),
        &|| {
            let (sw, sh) = small.dimensions();
            let (nw, nh) = ((sw * 3 / 4).max(1), (sh * 3 / 4).max(1));
            Some(image::imageops::resize(&small, nw, nh, image::imageops::FilterType::Triangle))
        },
        &|| full_ok.then(|| img.clone()),
        &|| full_ok.then(|| image::imageops::rotate90(img)),
    ];
    for make in passes {
        if start.elapsed() > BUDGET {
            break;
        }
        let Some(variant) = make() else { continue };
        if let Some(answer) = pass(&variant).answer {
            return Some(answer);
        }
    }
    None
}

/// One rqrr detection and decode over `img`.
fn pass(img: &GrayImage) -> PassResult {
    let run = || {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let raw = img.as_raw();
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| raw[y * w + x]);
        let mut result = PassResult::default();
        for grid in prepared.detect_grids() {
            match grid.decode() {
                Ok((_, text)) => match parse(&text) {
                    Err(PayloadError::NotACoverSheet) => {}
                    answer => {
                        result.answer = Some(answer);
                        return result;
                    }
                },
                Err(_) => result.undecoded = true,
            }
        }
        result
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or(PassResult { answer: None, undecoded: true })
}

/// Averages `factor` × `factor` blocks (the last row and column of blocks
/// may be partial), which keeps thin strokes grey instead of dropping them.
fn box_down(img: &GrayImage, factor: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = (w.div_ceil(factor), h.div_ceil(factor));
    let f = factor as usize;
    let raw = img.as_raw();
    let (w, h) = (w as usize, h as usize);
    let mut sums = vec![0u32; nw as usize];
    let mut counts = vec![0u32; nw as usize];
    let mut out = Vec::with_capacity(nw as usize * nh as usize);
    for by in 0..nh as usize {
        sums.fill(0);
        counts.fill(0);
        for y in by * f..((by + 1) * f).min(h) {
            let row = &raw[y * w..(y + 1) * w];
            for (x, &p) in row.iter().enumerate() {
                sums[x / f] += u32::from(p);
                counts[x / f] += 1;
            }
        }
        out.extend(sums.iter().zip(&counts).map(|(&s, &c)| (s / c.max(1)) as u8));
    }
    GrayImage::from_raw(nw, nh, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// A black-and-white copy at Otsu's global threshold: better than rqrr's
/// row-average threshold for a large code on a clean white page.
fn otsu(img: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for &p in img.as_raw() {
        hist[usize::from(p)] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &n)| i as f64 * n as f64).sum();
    let (mut best, mut best_t) = (0.0f64, 128u8);
    let (mut w0, mut sum0) = (0u64, 0.0f64);
    for (t, &n) in hist.iter().enumerate() {
        w0 += n;
        if w0 == 0 {
            continue;
        }
        let w1 = total - w0;
        if w1 == 0 {
            break;
        }
        sum0 += t as f64 * n as f64;
        let m0 = sum0 / w0 as f64;
        let m1 = (sum_all - sum0) / w1 as f64;
        let between = w0 as f64 * w1 as f64 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    let mut out = img.clone();
    for p in out.iter_mut() {
        *p = if *p <= best_t { 0 } else { 255 };
    }
    out
}

/// A 3×3 box blur: smooths JPEG blocks and the stair steps of a skewed code.
fn blur(img: &GrayImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let raw = img.as_raw();
    let (w, h) = (w as usize, h as usize);
    let mut out = vec![0u8; raw.len()];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0u32;
            let mut n = 0u32;
            for yy in y.saturating_sub(1)..(y + 2).min(h) {
                for xx in x.saturating_sub(1)..(x + 2).min(w) {
                    s += u32::from(raw[yy * w + xx]);
                    n += 1;
                }
            }
            out[y * w + x] = (s / n) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

/// Whether `img` shows three QR finder patterns: dark-light-dark-light-dark
/// runs in the ratio 1:1:3:1:1 across a row, confirmed down the column
/// through their centre. The cheap test that decides whether the harder
/// passes are worth their time when rqrr's first pass found no grid; a
/// single look-alike glyph (▣) on a letter does not pass it.
fn finder_hits(img: &GrayImage) -> bool {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let dark = |x: usize, y: usize| raw[y * w + x] < 128;
    let mut centres: Vec<(usize, usize, f64)> = Vec::new();
    let mut runs: Vec<usize> = Vec::with_capacity(256);
    // Every second row is enough: a finder pattern is 7 modules of at least
    // 2 px high here.
    for y in (0..h).step_by(2) {
        let row = &raw[y * w..(y + 1) * w];
        runs.clear();
        let first_dark = row.first().is_some_and(|&p| p < 128);
        let mut colour = first_dark;
        let mut len = 0;
        for &p in row {
            if (p < 128) == colour {
                len += 1;
            } else {
                runs.push(len);
                len = 1;
                colour = !colour;
            }
        }
        runs.push(len);
        // Runs alternate in colour; windows of five that start dark.
        let mut i = usize::from(!first_dark);
        let mut x0: usize = runs[..i].iter().sum();
        while i + 5 <= runs.len() {
            let r = &runs[i..i + 5];
            let unit = r.iter().sum::<usize>() as f64 / 7.0;
            if unit >= 2.0 && ratio_ok(r, unit) {
                let cx = x0 + r[0] + r[1] + r[2] / 2;
                let known = centres
                    .iter()
                    .any(|&(x, yy, u)| x.abs_diff(cx) as f64 <= 3.0 * u && yy.abs_diff(y) as f64 <= 7.0 * u);
                if !known && vertical_ok(&dark, h, cx, y, unit) {
                    centres.push((cx, y, unit));
                    if centres.len() >= 3 {
                        return true;
                    }
                }
            }
            x0 += r[0] + r[1];
            i += 2;
        }
    }
    false
}

/// Five runs against 1:1:3:1:1 of `unit`, each within half a unit (the
/// middle one within 1.5 units).
fn ratio_ok(r: &[usize], unit: f64) -> bool {
    [1.0, 1.0, 3.0, 1.0, 1.0].iter().zip(r).all(|(&e, &n)| (n as f64 - e * unit).abs() <= unit * 0.5 * e)
}

/// The same pattern down column `x` through `y`.
fn vertical_ok(dark: &dyn Fn(usize, usize) -> bool, h: usize, x: usize, y: usize, unit: f64) -> bool {
    if !dark(x, y) {
        return false;
    }
    let limit = (unit * 5.0) as usize + 2;
    // Runs away from the centre: the centre's own dark run, light, dark.
    let walk = |step_up: bool| -> [usize; 3] {
        let mut out = [0usize; 3];
        let mut yy = y;
        for (k, want_dark) in [true, false, true].into_iter().enumerate() {
            while out[k] <= limit && dark(x, yy) == want_dark {
                out[k] += 1;
                let next = if step_up { yy.checked_sub(1) } else { Some(yy + 1).filter(|&n| n < h) };
                match next {
                    Some(n) => yy = n,
                    None => return out,
                }
            }
        }
        out
    };
    let (up, down) = (walk(true), walk(false));
    let r = [up[2], up[1], up[0] + down[0] - 1, down[1], down[2]];
    r.iter().all(|&n| n > 0) && ratio_ok(&r, unit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coversheet::encode;
    use crate::model::Aktenzeichen;

    /// The sheet's code drawn straight into an image: `px` pixels per module.
    fn code_image(payload: &str, px: u32) -> GrayImage {
        let q = crate::coversheet::qr_modules(payload).unwrap();
        let side = (q.width as u32 + 8) * px;
        let mut img = GrayImage::from_pixel(side, side, image::Luma([255]));
        for y in 0..q.width {
            for x in 0..q.width {
                if q.dark[y * q.width + x] {
                    for dy in 0..px {
                        for dx in 0..px {
                            img.put_pixel((x as u32 + 4) * px + dx, (y as u32 + 4) * px + dy, image::Luma([0]));
                        }
                    }
                }
            }
        }
        img
    }

    #[test]
    fn reads_the_code_in_every_quarter_turn() {
        let t = CoverTarget::Target {
            akte: Aktenzeichen::new("000.01-0012/2026"),
            vorgang: None,
            kind: None,
            received: None,
        };
        let img = code_image(&encode(&t), 8);
        for turned in [
            img.clone(),
            image::imageops::rotate90(&img),
            image::imageops::rotate180(&img),
            image::imageops::rotate270(&img),
        ] {
            assert_eq!(find_cover(&turned), Some(Ok(t.clone())));
        }
    }

    #[test]
    fn foreign_and_newer_codes() {
        assert_eq!(find_cover(&code_image("https://example.org/x", 6)), None);
        assert_eq!(find_cover(&code_image("AKTEN2|akte=x", 6)), Some(Err(PayloadError::NewerVersion(2))));
    }

    #[test]
    fn odd_images_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (20, 5000), (21, 21), (5000, 3)] {
            assert_eq!(find_cover(&GrayImage::new(w, h)), None);
            assert_eq!(find_cover(&GrayImage::from_pixel(w, h, image::Luma([255]))), None);
        }
        let noise = GrayImage::from_fn(500, 400, |x, y| image::Luma([((x * 7919 + y * 104729) % 251) as u8]));
        assert_eq!(find_cover(&noise), None);
    }

    #[test]
    fn box_down_averages() {
        let img = GrayImage::from_fn(5, 3, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 200 }]));
        let small = box_down(&img, 2);
        assert_eq!(small.dimensions(), (3, 2));
        assert_eq!(small.get_pixel(0, 0).0[0], 100);
        assert_eq!(small.get_pixel(2, 1).0[0], 0);
    }
}
