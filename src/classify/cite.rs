//! References in a letter's text: the city's own Aktenzeichen or
//! Vorgangszeichen that the sender cites, and the sender's own reference.
//!
//! In an incoming letter the city's reference stands after "Ihr Zeichen",
//! "Ihr Az.", "Az.:" and the like, while "Unser Zeichen" is the sender's
//! (Fremdes Geschäftszeichen). Both are found on the same line as their label
//! or, in a DIN 5008 reference line, in the line below a row of labels.
//! Invariant: a key after a sender label is never returned as a citation.

use regex::Regex;

/// Whose reference a label introduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The city's own ("Ihr Zeichen"): a citation that may be used for filing.
    Ours,
    /// The sender's ("Unser Zeichen"): kept as the external reference.
    Theirs,
}

/// Labels, lowercase. Where two overlap in a text, the one listed first
/// wins, so the sender's labels come first.
const LABELS: &[(&str, Side)] = &[
    ("unser zeichen", Side::Theirs),
    ("unsere zeichen", Side::Theirs),
    ("unser aktenzeichen", Side::Theirs),
    ("unser geschäftszeichen", Side::Theirs),
    ("unser az", Side::Theirs),
    ("unser gz", Side::Theirs),
    ("mein zeichen", Side::Theirs),
    ("mein aktenzeichen", Side::Theirs),
    ("mein az", Side::Theirs),
    ("ihr zeichen", Side::Ours),
    ("ihre zeichen", Side::Ours),
    ("ihr aktenzeichen", Side::Ours),
    ("ihr geschäftszeichen", Side::Ours),
    ("ihr az", Side::Ours),
    ("ihr gz", Side::Ours),
    ("ihr schreiben", Side::Ours),
    ("ihre nachricht", Side::Ours),
    ("geschäftszeichen", Side::Ours),
    ("aktenzeichen", Side::Ours),
    ("az.", Side::Ours),
    ("az:", Side::Ours),
    ("gz.", Side::Ours),
    ("betreff", Side::Ours),
    ("betr.", Side::Ours),
    ("bezug", Side::Ours),
];

/// One key-shaped string found in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// As written, whitespace removed.
    pub text: String,
    /// The label it stands under or after, as written; `None` when unlabelled.
    pub label: Option<String>,
    pub side: Option<Side>,
}

/// What [`scan`] finds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    /// Strings shaped like the city's keys, in text order.
    pub keys: Vec<Found>,
    /// The sender's own reference ("Unser Zeichen: ..."), first one found.
    pub external: Option<String>,
}

/// Finds key-shaped strings (by `keys`, built from the Aktenzeichen and
/// Vorgangszeichen templates) and the sender's reference in `text`.
pub fn scan(text: &str, keys: &Regex) -> References {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = References::default();
    for (n, line) in lines.iter().enumerate() {
        let lower = line.to_lowercase();
        let labels = labels_in(&lower);
        // A row of labels (reference line): the values stand in the next
        // non-empty line.
        let header = previous_header(&lines, n);
        for m in keys.find_iter(line) {
            if !bounded(line, m.start(), m.end()) {
                continue;
            }
            let found_label = label_before(&labels, &lower, byte_to_lower(line, &lower, m.start()))
                .or_else(|| header.as_ref().and_then(|h| column_label(h, line, m.start())));
            let (label, side) = match found_label {
                Some((l, s)) => (Some(l), Some(s)),
                None => (None, None),
            };
            out.keys.push(Found { text: m.as_str().split_whitespace().collect(), label, side });
        }
        if out.external.is_none() && !is_header(&lower, &labels) {
            out.external = external_on_line(line, &lower, &labels)
                .or_else(|| header.as_ref().and_then(|h| external_below(h, line)));
        }
    }
    out
}

/// A label found in a lowercased line: (start, end, side).
type LabelAt = (usize, usize, Side);

fn labels_in(lower: &str) -> Vec<LabelAt> {
    let mut found: Vec<LabelAt> = Vec::new();
    for &(label, side) in LABELS {
        let mut from = 0;
        while let Some(i) = lower[from..].find(label) {
            let start = from + i;
            let end = start + label.len();
            from = end;
            let before_ok = lower[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
            // Labels listed earlier win where two overlap ("unser az" over "az.").
            if !before_ok || found.iter().any(|&(s, e, _)| s < end && start < e) {
                continue;
            }
            found.push((start, end, side));
        }
    }
    found.sort();
    found
}

/// The label closest before `at` on the line, with the side it gives.
fn label_before(labels: &[LabelAt], lower: &str, at: usize) -> Option<(String, Side)> {
    labels
        .iter()
        .filter(|&&(_, end, _)| end <= at)
        .max_by_key(|&&(start, _, _)| start)
        .map(|&(start, end, side)| (lower[start..end].to_string(), side))
}

/// The labels of the nearest non-empty line above `n`, if it is a row of
/// labels with no key-shaped value of its own (a reference line header).
fn previous_header(lines: &[&str], n: usize) -> Option<(String, Vec<LabelAt>)> {
    let above = lines[..n].iter().rev().take(2).find(|l| !l.trim().is_empty())?;
    let lower = above.to_lowercase();
    let labels = labels_in(&lower);
    is_header(&lower, &labels).then_some((lower, labels))
}

/// Whether a line is a row of labels ("Ihr Zeichen   Ihre Nachricht vom
/// Unser Zeichen   Datum"): two or more, covering most of its letters.
fn is_header(lower: &str, labels: &[LabelAt]) -> bool {
    let covered: usize = labels.iter().map(|&(s, e, _)| e - s).sum();
    let letters = lower.chars().filter(|c| c.is_alphanumeric()).count();
    labels.len() >= 2 && covered * 2 >= letters.saturating_sub(10)
}

/// The header label above the value at byte `at` of `line`: by column where
/// the columns line up, else by order of the fields.
fn column_label(header: &(String, Vec<LabelAt>), line: &str, at: usize) -> Option<(String, Side)> {
    let (lower, labels) = header;
    let fields = fields(line);
    let index = fields.iter().position(|&(s, e)| s <= at && at < e)?;
    let label = if fields.len() == labels.len() {
        labels[index]
    } else {
        let column = line[..at].chars().count();
        *labels.iter().filter(|&&(s, _, _)| lower[..s].chars().count() <= column + 2).max_by_key(|&&(s, _, _)| s)?
    };
    Some((lower[label.0..label.1].to_string(), label.2))
}

/// The fields of a line, split at runs of two or more spaces or tabs.
fn fields(line: &str) -> Vec<(usize, usize)> {
    let gap = Regex::new(r"\t|\s{2,}").expect("static pattern");
    let mut out = Vec::new();
    let mut start = 0;
    for m in gap.find_iter(line) {
        if m.start() > start {
            out.push((start, m.start()));
        }
        start = m.end();
    }
    if start < line.len() {
        out.push((start, line.len()));
    }
    out
}

/// "Unser Zeichen: AB-12/3" on one line.
fn external_on_line(line: &str, lower: &str, labels: &[LabelAt]) -> Option<String> {
    let &(_, end, _) = labels.iter().find(|&&(_, _, side)| side == Side::Theirs)?;
    let end = lower_to_line(line, lower, end)?;
    let rest = line[end..].trim_start_matches(|c: char| c == '.' || c == ':' || c.is_whitespace());
    let value = rest.split("  ").next().unwrap_or("").split('\t').next().unwrap_or("").trim();
    reference_value(value)
}

/// The field under "Unser Zeichen" in a reference line.
fn external_below(header: &(String, Vec<LabelAt>), line: &str) -> Option<String> {
    let (lower, labels) = header;
    let i = labels.iter().position(|&(_, _, side)| side == Side::Theirs)?;
    let fields = fields(line);
    let (s, e) = if fields.len() == labels.len() {
        fields[i]
    } else {
        let column = lower[..labels[i].0].chars().count();
        *fields.iter().find(|&&(s, e)| {
            let (a, b) = (line[..s].chars().count(), line[..e].chars().count());
            a <= column + 2 && column < b + 2
        })?
    };
    reference_value(line[s..e].trim())
}

fn reference_value(value: &str) -> Option<String> {
    let value: String = value.chars().take(60).collect();
    (value.chars().any(|c| c.is_alphanumeric()) && value.chars().count() >= 2).then_some(value)
}

/// Whether the match is not part of a longer number (e.g. an IBAN).
fn bounded(line: &str, start: usize, end: usize) -> bool {
    let before = line[..start].chars().next_back();
    let after = line[end..].chars().next();
    before.is_none_or(|c| !c.is_alphanumeric() && c != '.' && c != '/')
        && after.is_none_or(|c| !c.is_alphanumeric() && c != '/' && c != '-')
}

/// Lowercasing can change byte lengths (rarely, e.g. 'İ'); positions are
/// mapped through char counts when it did.
fn byte_to_lower(line: &str, lower: &str, at: usize) -> usize {
    if line.len() == lower.len() {
        return at;
    }
    let chars = line[..at].chars().count();
    lower.char_indices().nth(chars).map_or(lower.len(), |(i, _)| i)
}

fn lower_to_line(line: &str, lower: &str, at: usize) -> Option<usize> {
    if line.len() == lower.len() {
        return Some(at);
    }
    let chars = lower[..at].chars().count();
    Some(line.char_indices().nth(chars).map_or(line.len(), |(i, _)| i))
}

/// The form used to compare keys: no whitespace, no leading zeros in digit
/// runs ("610.07-0012/2026" and "610.7 - 12/2026" compare equal).
pub fn normalize(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            let trimmed = digits.trim_start_matches('0');
            out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
            digits.clear();
        }
    };
    for c in key.chars().filter(|c| !c.is_whitespace()) {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AzTemplate;

    fn keys() -> Regex {
        let akte = AzTemplate::for_akte(AzTemplate::DEFAULT_AKTE).unwrap().pattern("");
        let vorgang = AzTemplate::for_vorgang(AzTemplate::DEFAULT_VORGANG).unwrap().pattern(&akte);
        Regex::new(&format!("(?:{vorgang})|(?:{akte})")).unwrap()
    }

    fn sides(text: &str) -> Vec<(String, Option<Side>)> {
        scan(text, &keys()).keys.into_iter().map(|f| (f.text, f.side)).collect()
    }

    #[test]
    fn labels_on_the_same_line() {
        let text = "Ihr Zeichen: 610.07-0012/2026\nUnser Zeichen: 610.07-0013/2026\nAz.: 610.07-12/2026-3";
        assert_eq!(
            sides(text),
            vec![
                ("610.07-0012/2026".into(), Some(Side::Ours)),
                ("610.07-0013/2026".into(), Some(Side::Theirs)),
                ("610.07-12/2026-3".into(), Some(Side::Ours)),
            ]
        );
        assert_eq!(scan(text, &keys()).external.as_deref(), Some("610.07-0013/2026"));
    }

    #[test]
    fn ihr_az_is_ours_and_unser_az_theirs() {
        assert_eq!(sides("Ihr Az. 610.07 - 0012/2026"), vec![("610.07-0012/2026".into(), Some(Side::Ours))]);
        assert_eq!(sides("Unser Az.: 610.07-0012/2026"), vec![("610.07-0012/2026".into(), Some(Side::Theirs))]);
    }

    #[test]
    fn reference_line_by_columns() {
        let text = "Ihr Zeichen        Ihre Nachricht vom   Unser Zeichen   Datum\n\
                    610.07-0012/2026   01.12.2026           B-77/ks         03.12.2026\n";
        let r = scan(text, &keys());
        assert_eq!(r.keys.len(), 1);
        assert_eq!(r.keys[0].side, Some(Side::Ours));
        assert_eq!(r.external.as_deref(), Some("B-77/ks"));
        let swapped = "Unser Zeichen      Ihr Zeichen\n610.07-0012/2026   xy 5\n";
        assert_eq!(sides(swapped), vec![("610.07-0012/2026".into(), Some(Side::Theirs))]);
    }

    #[test]
    fn unlabelled_and_embedded_numbers() {
        assert_eq!(sides("wegen 610.07-0012/2026 bitten wir"), vec![("610.07-0012/2026".into(), None)]);
        // Part of a longer number or path: not a key.
        assert!(sides("DE12610.07-0012/2026").is_empty());
        assert!(sides("x/610.07-0012/2026/y").is_empty());
    }

    #[test]
    fn normalized_keys_compare_without_padding_or_spaces() {
        assert_eq!(normalize("610.07-0012/2026"), normalize("610.7 - 12/2026"));
        assert_eq!(normalize("000.01-0001/2026"), "0.1-1/2026");
        assert_ne!(normalize("610.07-0012/2026"), normalize("610.07-0120/2026"));
    }
}
