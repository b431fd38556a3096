//! PDFs made by the tests: born-digital text pages, scanned (image) pages,
//! and mixtures of both, built with lopdf.

use std::io::Write;

use lopdf::{Document, Object, Stream, dictionary};

/// One page of a generated PDF.
pub enum Page {
    /// Lines of text in Helvetica (Windows-1252, so umlauts print).
    Text(String),
    /// A scanned page: an 8-bit grey image filling the A4 page.
    Scan(image::GrayImage),
    /// A JPEG page image claiming `width`×`height` grey pixels (a small
    /// file that asks for a big picture once decoded).
    Jpeg { width: u32, height: u32 },
}

fn win1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            'ä' => 0xE4,
            'ö' => 0xF6,
            'ü' => 0xFC,
            'Ä' => 0xC4,
            'Ö' => 0xD6,
            'Ü' => 0xDC,
            'ß' => 0xDF,
            '–' => 0x96,
            c if (c as u32) < 0x80 => c as u8,
            _ => b'?',
        })
        .collect()
}

fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        if matches!(b, b'(' | b')' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A PDF of `pages`, A4.
pub fn pdf(pages: &[Page]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let mut kids: Vec<Object> = Vec::new();
    for page in pages {
        let (content, resources) = match page {
            Page::Text(text) => {
                let mut c = b"BT /F1 11 Tf 14 TL 60 780 Td\n".to_vec();
                for line in text.lines() {
                    c.push(b'(');
                    c.extend(escape(&win1252(line)));
                    c.extend_from_slice(b") Tj T*\n");
                }
                c.extend_from_slice(b"ET");
                (c, dictionary! { "Font" => dictionary! { "F1" => font_id } })
            }
            Page::Scan(img) => {
                let stream = Stream::new(
                    dictionary! {
                        "Type" => "XObject", "Subtype" => "Image",
                        "Width" => img.width() as i64, "Height" => img.height() as i64,
                        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "FlateDecode",
                    },
                    deflate(img.as_raw()),
                );
                let id = doc.add_object(stream);
                (b"q 595 0 0 842 0 0 cm /Im1 Do Q".to_vec(), dictionary! { "XObject" => dictionary! { "Im1" => id } })
            }
            Page::Jpeg { width, height } => {
                // A small JPEG whose frame header is changed to claim the
                // full size: decoders allocate the whole picture first, and
                // the test process never holds it (a big test process
                // would inflate the peak RSS of every process it forks).
                let img = image::GrayImage::from_pixel(16, 16, image::Luma([255]));
                let mut jpeg = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 30).encode_image(&img).unwrap();
                let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline frame header");
                jpeg[sof + 5..sof + 7].copy_from_slice(&(*height as u16).to_be_bytes());
                jpeg[sof + 7..sof + 9].copy_from_slice(&(*width as u16).to_be_bytes());
                let stream = Stream::new(
                    dictionary! {
                        "Type" => "XObject", "Subtype" => "Image",
                        "Width" => *width as i64, "Height" => *height as i64,
                        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
                    },
                    jpeg,
                );
                let id = doc.add_object(stream);
                (b"q 595 0 0 842 0 0 cm /Im1 Do Q".to_vec(), dictionary! { "XObject" => dictionary! { "Im1" => id } })
            }
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            "Contents" => content_id,
            "Resources" => resources,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A born-digital letter of `pages` pages; `seed` makes its bytes unique.
pub fn letter(seed: usize, pages: usize) -> Vec<u8> {
    let pages: Vec<Page> = (0..pages)
        .map(|p| {
            Page::Text(format!(
                "Stadtverwaltung Beispielstadt\nSchreiben Nummer {seed}, Seite {}\nBetreff: Antrag auf Sondernutzung Nummer {seed}\nSehr geehrte Damen und Herren,\nhiermit beantrage ich die Genehmigung für die Straße Nummer {seed}.\nMit freundlichen Grüßen",
                p + 1
            ))
        })
        .collect();
    pdf(&pages)
}
