//! Cover sheets (Deckblätter) and separator sheets (Trennblätter) for the
//! mailroom: the QR payload that names where a scanned document belongs,
//! and the one-page A4 PDF that carries it. Pure: values in, bytes out, no
//! file I/O. The reader for scanned pages is [`crate::extract::qr`].
//!
//! The payload (QR byte mode, UTF-8) is versioned and line-free:
//!
//! ```text
//! AKTEN1|akte=<Aktenzeichen>[|vorgang=<Vorgangszeichen>][|kind=<eingang|ausgang|intern|vermerk>][|received=<YYYY-MM-DD>]
//! AKTEN1|separator
//! ```
//!
//! Invariants:
//! - `parse(&encode(t)) == Ok(t)` for every target whose strings are not
//!   empty and whose date lies in the years 0001..=9999 (proptest below).
//! - Values are written as they are except `%` and `|`, which become `%25`
//!   and `%7C`, so a reference that contains the separator still
//!   round-trips; ordinary Aktenzeichen are unchanged.
//! - Unknown `key=value` fields are ignored (a later akten may add some);
//!   a different version number is refused with a message, a text that does
//!   not start with `AKTEN` is [`PayloadError::NotACoverSheet`], so callers
//!   can skip foreign QR codes on letters.
//! - [`render_pdf`] is deterministic (no dates, no random ids): the same
//!   sheet gives the same bytes.

use std::fmt::Write as _;

use jiff::civil::Date;
use lopdf::{Dictionary, Document, Object, Stream, dictionary};
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use crate::model::{Aktenzeichen, DocKind, Vorgangszeichen};

/// The payload version this akten writes and reads.
pub const PAYLOAD_VERSION: u32 = 1;
/// The text every cover sheet carries, so a born-digital copy of a sheet
/// (printed to PDF and filed instead of scanned) can be recognised.
pub const MARKER: &str = "AKTEN-DECKBLATT";

/// What a sheet says about the pages behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverTarget {
    /// Only separates two documents in a scan stack.
    Separator,
    /// The document behind the sheet belongs here.
    Target { akte: Aktenzeichen, vorgang: Option<Vorgangszeichen>, kind: Option<DocKind>, received: Option<Date> },
}

/// Why a QR text is not a usable cover sheet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// A foreign QR code (a bank transfer code, a parcel label, ...).
    #[error("the QR code is not an akten cover sheet")]
    NotACoverSheet,
    #[error("cover sheet of a newer akten (version {0}): update akten")]
    NewerVersion(u32),
    #[error("cover sheet of an unknown version ({0:?}): print the sheet again from this akten")]
    BadVersion(String),
    #[error("the cover sheet names no Aktenzeichen (`akte=`): print the sheet again")]
    MissingAkte,
    #[error("the cover sheet is both a separator and names an Akte: print the sheet again")]
    SeparatorWithTarget,
    #[error("the cover sheet repeats the field `{0}`: print the sheet again")]
    Duplicate(String),
    #[error("the cover sheet's field `{key}` has an invalid value {value:?} ({reason}): print the sheet again")]
    Invalid { key: String, value: String, reason: String },
}

/// Why a sheet cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum CoverSheetError {
    #[error("the cover sheet's QR payload is {0} bytes, more than a QR code holds: shorten the Aktenzeichen")]
    PayloadTooLong(usize),
    #[error("the cover sheet PDF could not be written ({0})")]
    Pdf(String),
}

/// The QR text of `target`.
pub fn encode(target: &CoverTarget) -> String {
    let mut out = format!("AKTEN{PAYLOAD_VERSION}");
    match target {
        CoverTarget::Separator => out.push_str("|separator"),
        CoverTarget::Target { akte, vorgang, kind, received } => {
            push_field(&mut out, "akte", akte.as_str());
            if let Some(v) = vorgang {
                push_field(&mut out, "vorgang", v.as_str());
            }
            if let Some(k) = kind {
                push_field(&mut out, "kind", k.as_str());
            }
            if let Some(d) = received {
                push_field(&mut out, "received", &format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()));
            }
        }
    }
    out
}

fn push_field(out: &mut String, key: &str, value: &str) {
    out.push('|');
    out.push_str(key);
    out.push('=');
    for c in value.chars() {
        match c {
            '%' => out.push_str("%25"),
            '|' => out.push_str("%7C"),
            c => out.push(c),
        }
    }
}

/// Reads a QR text; see the module docs for the format.
pub fn parse(text: &str) -> Result<CoverTarget, PayloadError> {
    let Some(rest) = text.strip_prefix("AKTEN") else {
        return Err(PayloadError::NotACoverSheet);
    };
    let mut fields = rest.split('|');
    let version_text = fields.next().unwrap_or_default();
    // A text like "AKTENZEICHEN 12" on someone else's label is not ours.
    if version_text.is_empty() || !version_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PayloadError::NotACoverSheet);
    }
    match version_text.parse::<u32>() {
        Ok(PAYLOAD_VERSION) => {}
        Ok(v) if v > PAYLOAD_VERSION => return Err(PayloadError::NewerVersion(v)),
        _ => return Err(PayloadError::BadVersion(version_text.to_string())),
    }

    let mut separator = false;
    let (mut akte, mut vorgang, mut kind, mut received) = (None, None, None, None);
    for field in fields {
        let Some((key, raw)) = field.split_once('=') else {
            match field {
                "separator" if separator => return Err(PayloadError::Duplicate("separator".into())),
                "separator" => separator = true,
                // A bare flag of a later version.
                _ => {}
            }
            continue;
        };
        let invalid = |reason: &str| PayloadError::Invalid {
            key: key.to_string(),
            value: raw.to_string(),
            reason: reason.to_string(),
        };
        let slot_taken = |taken: bool| if taken { Err(PayloadError::Duplicate(key.to_string())) } else { Ok(()) };
        match key {
            "akte" => {
                slot_taken(akte.is_some())?;
                akte = Some(Aktenzeichen::new(unescape(raw).ok_or_else(|| invalid("bad % escape or empty"))?));
            }
            "vorgang" => {
                slot_taken(vorgang.is_some())?;
                vorgang = Some(Vorgangszeichen::new(unescape(raw).ok_or_else(|| invalid("bad % escape or empty"))?));
            }
            "kind" => {
                slot_taken(kind.is_some())?;
                kind = Some(parse_kind(raw).ok_or_else(|| invalid("expected eingang, ausgang, intern or vermerk"))?);
            }
            "received" => {
                slot_taken(received.is_some())?;
                received = Some(parse_date(raw).ok_or_else(|| invalid("expected a date YYYY-MM-DD"))?);
            }
            _ => {}
        }
    }
    if separator {
        if akte.is_some() || vorgang.is_some() || kind.is_some() || received.is_some() {
            return Err(PayloadError::SeparatorWithTarget);
        }
        return Ok(CoverTarget::Separator);
    }
    let akte = akte.ok_or(PayloadError::MissingAkte)?;
    Ok(CoverTarget::Target { akte, vorgang, kind, received })
}

/// Undoes [`push_field`]'s escapes; `None` for an empty value or a broken
/// escape.
fn unescape(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3) {
            Some("25") => out.push('%'),
            Some(h) if h.eq_ignore_ascii_case("7C") => out.push('|'),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

fn parse_kind(s: &str) -> Option<DocKind> {
    Some(match s {
        "eingang" => DocKind::Eingang,
        "ausgang" => DocKind::Ausgang,
        "intern" => DocKind::Intern,
        "vermerk" => DocKind::Vermerk,
        _ => return None,
    })
}

/// Exactly `YYYY-MM-DD`; jiff's parser alone would also take datetimes.
fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let year: i16 = s[0..4].parse().ok()?;
    let month: i8 = s[5..7].parse().ok()?;
    let day: i8 = s[8..10].parse().ok()?;
    Date::new(year, month, day).ok()
}

/// The dark modules of the payload's QR code (row-major, `width` × `width`,
/// without quiet zone).
pub struct QrModules {
    pub width: usize,
    pub dark: Vec<bool>,
}

/// The QR code of `payload`: byte mode, error correction M, the smallest
/// version that holds it.
pub fn qr_modules(payload: &str) -> Result<QrModules, CoverSheetError> {
    let data = payload.as_bytes();
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_byte_data(data).is_err() || bits.push_terminator(EcLevel::M).is_err() {
            continue;
        }
        if let Ok(code) = QrCode::with_bits(bits, EcLevel::M) {
            let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
            return Ok(QrModules { width: code.width(), dark });
        }
    }
    Err(CoverSheetError::PayloadTooLong(data.len()))
}

/// What is printed on a sheet besides the QR code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverSheetPrint {
    pub target: CoverTarget,
    pub akte_title: Option<String>,
    pub vorgang_title: Option<String>,
    /// Plan code and title, e.g. `000.01 Organisation`.
    pub position: Option<String>,
}

/// A4 in points.
const PAGE_W: f64 = 595.0;
const PAGE_H: f64 = 842.0;
const MARGIN: f64 = 50.0;
/// The QR symbol (without quiet zone) is 50 mm wide: 1.2 mm modules for a
/// typical payload of 41 modules, about 9 px per module at 200 dpi.
const QR_SYMBOL: f64 = 50.0 / 25.4 * 72.0;
const QUIET_MODULES: usize = 4;

/// The sheet as a one-page A4 PDF (Helvetica, WinAnsiEncoding, the QR code
/// as filled vector squares top right).
pub fn render_pdf(sheet: &CoverSheetPrint) -> Result<Vec<u8>, CoverSheetError> {
    let qr = qr_modules(&encode(&sheet.target))?;
    let mut c = String::new();

    // The QR code: one path of run-length rectangles in module units, filled
    // once, so no anti-aliasing seams appear between neighbouring modules.
    let module = QR_SYMBOL / qr.width as f64;
    let box_w = module * (qr.width + 2 * QUIET_MODULES) as f64;
    let box_x = PAGE_W - MARGIN + module * QUIET_MODULES as f64 - box_w;
    let box_top = PAGE_H - MARGIN + module * QUIET_MODULES as f64;
    let sym_x = box_x + module * QUIET_MODULES as f64;
    let sym_top = box_top - module * QUIET_MODULES as f64;
    let _ = writeln!(c, "q 0 g {module:.4} 0 0 {:.4} {sym_x:.3} {sym_top:.3} cm", -module);
    for y in 0..qr.width {
        let row = &qr.dark[y * qr.width..(y + 1) * qr.width];
        let mut x = 0;
        while x < qr.width {
            if row[x] {
                let start = x;
                while x < qr.width && row[x] {
                    x += 1;
                }
                let _ = writeln!(c, "{start} {y} {} 1 re", x - start);
            } else {
                x += 1;
            }
        }
    }
    c.push_str("f Q\n");

    let (heading, instruction) = match sheet.target {
        CoverTarget::Separator => {
            ("Trennblatt", "Zwischen zwei Schriftstücke legen; das Blatt wird beim Scannen erkannt und entfernt.")
        }
        CoverTarget::Target { .. } => (
            "Deckblatt",
            "Vor die erste Seite des Schriftstücks legen; das Blatt wird beim Scannen erkannt und entfernt.",
        ),
    };
    text(&mut c, "F2", 40.0, MARGIN, PAGE_H - MARGIN - 34.0, heading);
    text(&mut c, "F1", 9.0, MARGIN, PAGE_H - MARGIN - 54.0, MARKER);

    // Text below the QR code, full width.
    let mut y = box_top - box_w - 30.0;
    let full = PAGE_W - 2.0 * MARGIN;
    match &sheet.target {
        CoverTarget::Separator => {
            text(&mut c, "F1", 14.0, MARGIN, y, "Trennt zwei Schriftstücke im Scanstapel.");
        }
        CoverTarget::Target { akte, vorgang, kind, received } => {
            let mut labelled = |label: &str, value: &str, size: f64, font: &str| {
                text(&mut c, "F1", 10.0, MARGIN, y, label);
                y -= size + 4.0;
                for line in wrap(value, size, full, 3) {
                    text(&mut c, font, size, MARGIN, y, &line);
                    y -= size * 1.2;
                }
                y -= 14.0;
            };
            labelled("Aktenzeichen", akte.as_str(), 26.0, "F2");
            if let Some(t) = &sheet.akte_title {
                labelled("Akte", t, 16.0, "F1");
            }
            if let Some(v) = vorgang {
                labelled("Vorgangszeichen", v.as_str(), 20.0, "F2");
            }
            if let Some(t) = &sheet.vorgang_title {
                labelled("Vorgang", t, 16.0, "F1");
            }
            if let Some(p) = &sheet.position {
                labelled("Aktenplan", p, 14.0, "F1");
            }
            if let Some(k) = kind {
                let name = match k {
                    DocKind::Eingang => "Eingang",
                    DocKind::Ausgang => "Ausgang",
                    DocKind::Intern => "Intern",
                    DocKind::Vermerk => "Vermerk",
                };
                labelled("Art", name, 16.0, "F1");
            }
            if let Some(d) = received {
                labelled("Eingegangen am", &format!("{:02}.{:02}.{:04}", d.day(), d.month(), d.year()), 16.0, "F1");
            }
        }
    }
    for (i, line) in wrap(instruction, 10.0, full, 2).iter().enumerate() {
        text(&mut c, "F1", 10.0, MARGIN, MARGIN + 20.0 - 14.0 * i as f64, line);
    }
    // The payload as text too: a sheet that arrives born-digital (the PDF
    // itself, not a scan of it) is recognised by its text.
    text(&mut c, "F1", 7.0, MARGIN, MARGIN - 16.0, &encode(&sheet.target));

    pdf(c.into_bytes())
}

/// Appends one line of text at (x, y) in the given font and size.
fn text(c: &mut String, font: &str, size: f64, x: f64, y: f64, s: &str) {
    let _ = write!(c, "BT /{font} {size} Tf {x:.2} {y:.2} Td (");
    for b in win_ansi(s) {
        match b {
            b'(' | b')' | b'\\' => {
                c.push('\\');
                c.push(b as char);
            }
            0x20..=0x7e => c.push(b as char),
            // Octal escapes keep the content stream ASCII.
            b => {
                let _ = write!(c, "\\{b:03o}");
            }
        }
    }
    c.push_str(") Tj ET\n");
}

/// Greedy word wrap by an upper estimate of Helvetica's widths (0.6 em per
/// character: exact metrics are not worth a table here); at most
/// `max_lines`, the last one cut with "…".
fn wrap(s: &str, size: f64, width: f64, max_lines: usize) -> Vec<String> {
    let per_line = ((width / (size * 0.6)) as usize).max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        let mut word: String = word.to_string();
        // A word longer than a line is broken hard.
        while word.chars().count() > per_line {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let head: String = word.chars().take(per_line).collect();
            word = word.chars().skip(per_line).collect();
            lines.push(head);
        }
        let needed = cur.chars().count() + usize::from(!cur.is_empty()) + word.chars().count();
        if needed > per_line && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let keep = per_line.saturating_sub(1);
            *last = last.chars().take(keep).collect::<String>() + "…";
        }
    }
    lines
}

/// Windows-1252 bytes of `s`; characters it lacks become `?`, control
/// characters a space.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => c as u8,
            c if c.is_control() => b' ',
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8a,
            '‹' => 0x8b,
            'Œ' => 0x8c,
            'Ž' => 0x8e,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9a,
            '›' => 0x9b,
            'œ' => 0x9c,
            'ž' => 0x9e,
            'Ÿ' => 0x9f,
            _ => b'?',
        })
        .collect()
}

/// Wraps a content stream into a one-page A4 document.
fn pdf(content: Vec<u8>) -> Result<Vec<u8>, CoverSheetError> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font = |base: &str| -> Dictionary {
        dictionary! {
            "Type" => "Font", "Subtype" => "Type1",
            "BaseFont" => Object::Name(base.as_bytes().to_vec()),
            "Encoding" => "WinAnsiEncoding",
        }
    };
    let f1 = doc.add_object(font("Helvetica"));
    let f2 = doc.add_object(font("Helvetica-Bold"));
    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id,
        "MediaBox" => vec![0.into(), 0.into(), (PAGE_W as i64).into(), (PAGE_H as i64).into()],
        "Contents" => content_id,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => f1, "F2" => f2 } },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| CoverSheetError::Pdf(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target(akte: &str) -> CoverTarget {
        CoverTarget::Target { akte: Aktenzeichen::new(akte), vorgang: None, kind: None, received: None }
    }

    #[test]
    fn formats_are_exact() {
        assert_eq!(encode(&CoverTarget::Separator), "AKTEN1|separator");
        assert_eq!(encode(&target("000.01-0012/2026")), "AKTEN1|akte=000.01-0012/2026");
        let full = CoverTarget::Target {
            akte: Aktenzeichen::new("61.26.01-0003/2026"),
            vorgang: Some(Vorgangszeichen::new("61.26.01-0003/2026-2")),
            kind: Some(DocKind::Eingang),
            received: Some(Date::new(2026, 12, 5).unwrap()),
        };
        let text = "AKTEN1|akte=61.26.01-0003/2026|vorgang=61.26.01-0003/2026-2|kind=eingang|received=2026-12-05";
        assert_eq!(encode(&full), text);
        assert_eq!(parse(text), Ok(full));
    }

    #[test]
    fn foreign_newer_and_broken_payloads() {
        assert_eq!(parse("BCD\n002\n1\nSCT"), Err(PayloadError::NotACoverSheet));
        assert_eq!(parse("https://example.org"), Err(PayloadError::NotACoverSheet));
        assert_eq!(parse("AKTENZEICHEN 1"), Err(PayloadError::NotACoverSheet));
        assert_eq!(parse(""), Err(PayloadError::NotACoverSheet));
        let newer = parse("AKTEN2|akte=x|whatever").unwrap_err();
        assert_eq!(newer, PayloadError::NewerVersion(2));
        assert_eq!(newer.to_string(), "cover sheet of a newer akten (version 2): update akten");
        assert_eq!(parse("AKTEN0|akte=x"), Err(PayloadError::BadVersion("0".into())));
        assert_eq!(parse("AKTEN99999999999|akte=x"), Err(PayloadError::BadVersion("99999999999".into())));
        assert_eq!(parse("AKTEN1"), Err(PayloadError::MissingAkte));
        assert_eq!(parse("AKTEN1|vorgang=a-1"), Err(PayloadError::MissingAkte));
        assert_eq!(
            parse("AKTEN1|akte="),
            Err(PayloadError::Invalid { key: "akte".into(), value: "".into(), reason: "bad % escape or empty".into() })
        );
        assert!(matches!(parse("AKTEN1|akte=a%2"), Err(PayloadError::Invalid { .. })));
        assert!(matches!(parse("AKTEN1|akte=a|kind=post"), Err(PayloadError::Invalid { .. })));
        assert!(matches!(parse("AKTEN1|akte=a|received=2026-02-30"), Err(PayloadError::Invalid { .. })));
        assert!(matches!(parse("AKTEN1|akte=a|received=2026-02-03T10:00"), Err(PayloadError::Invalid { .. })));
        assert_eq!(parse("AKTEN1|akte=a|akte=b"), Err(PayloadError::Duplicate("akte".into())));
        assert_eq!(parse("AKTEN1|separator|akte=a"), Err(PayloadError::SeparatorWithTarget));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert_eq!(
            parse("AKTEN1|akte=a|color=blue|urgent|kind=intern"),
            Ok(CoverTarget::Target {
                akte: Aktenzeichen::new("a"),
                vorgang: None,
                kind: Some(DocKind::Intern),
                received: None
            })
        );
        assert_eq!(parse("AKTEN1|separator|copies=2"), Ok(CoverTarget::Separator));
    }

    #[test]
    fn separators_in_values_round_trip() {
        let t = target("A|B%7C=C");
        assert_eq!(encode(&t), "AKTEN1|akte=A%7CB%257C=C");
        assert_eq!(parse(&encode(&t)), Ok(t));
    }

    #[test]
    fn pdf_is_deterministic_and_names_the_target() {
        let sheet = CoverSheetPrint {
            target: target("000.01-0012/2026"),
            akte_title: Some("Straßenbau Großmarkt (Änderung)".into()),
            vorgang_title: None,
            position: Some("000.01 Organisation".into()),
        };
        let a = render_pdf(&sheet).unwrap();
        assert_eq!(a, render_pdf(&sheet).unwrap());
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("(000.01-0012/2026) Tj"), "{text}");
        assert!(text.contains("(AKTEN-DECKBLATT) Tj"));
        // ß and Ä as Windows-1252 octal escapes; parentheses escaped.
        assert!(text.contains("Stra\\337enbau Gro\\337markt \\(\\304nderung\\)"), "{text}");
        assert!(text.contains("/WinAnsiEncoding"));
        assert!(a.starts_with(b"%PDF-"));
    }

    #[test]
    fn too_long_payload_is_an_error() {
        let sheet = CoverSheetPrint {
            target: target(&"x".repeat(3000)),
            akte_title: None,
            vorgang_title: None,
            position: None,
        };
        assert!(matches!(render_pdf(&sheet), Err(CoverSheetError::PayloadTooLong(_))));
    }

    #[test]
    fn wrap_cuts_long_text() {
        let lines = wrap(&"Wort ".repeat(200), 16.0, 495.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with('…'));
        assert_eq!(wrap("", 16.0, 495.0, 3), Vec::<String>::new());
        let hard = wrap(&"x".repeat(120), 16.0, 495.0, 5);
        assert!(hard.iter().all(|l| l.chars().count() <= 51), "{hard:?}");
    }

    fn value() -> impl Strategy<Value = String> {
        // Any non-empty text, with the separator and escape characters often.
        proptest::collection::vec(prop_oneof![Just('|'), Just('%'), Just('='), any::<char>()], 1..30)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn round_trip(
            akte in value(),
            vorgang in proptest::option::of(value()),
            kind in proptest::option::of(0usize..4),
            date in proptest::option::of((1i16..=9999, 1i8..=12, 1i8..=28)),
        ) {
            let t = CoverTarget::Target {
                akte: Aktenzeichen::new(akte),
                vorgang: vorgang.map(Vorgangszeichen::new),
                kind: kind.map(|k| [DocKind::Eingang, DocKind::Ausgang, DocKind::Intern, DocKind::Vermerk][k]),
                received: date.map(|(y, m, d)| Date::new(y, m, d).unwrap()),
            };
            prop_assert_eq!(parse(&encode(&t)), Ok(t));
        }

        #[test]
        fn any_titles_render_a_loadable_page(akte in value(), title in "\\PC{0,300}", position in "\\PC{0,80}") {
            let sheet = CoverSheetPrint {
                target: CoverTarget::Target { akte: Aktenzeichen::new(akte), vorgang: None, kind: None, received: None },
                akte_title: Some(title.clone()),
                vorgang_title: Some(title),
                position: Some(position),
            };
            let bytes = render_pdf(&sheet).unwrap();
            let doc = Document::load_mem(&bytes).unwrap();
            prop_assert_eq!(doc.get_pages().len(), 1);
        }

        #[test]
        fn parse_never_panics(s in "AKTEN1\\PC*") {
            let _ = parse(&s);
        }
    }
}
