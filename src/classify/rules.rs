//! The file plan's own hints for the Posteingang: keywords (`stichworte`),
//! regular expressions (`muster`) and senders (`absender`) per position.
//!
//! Pure. A hint fires at most once per document; each firing hint adds its
//! weight to the position's confidence as independent evidence.

use regex::Regex;

use crate::model::Kennzeichen;
use crate::plan::Plan;

/// Confidence one hint of each kind gives; hints combine as independent
/// evidence (1 - Π(1 - w)), so two keywords give 0.75, a sender and a
/// pattern 0.94.
pub const KEYWORD_WEIGHT: f32 = 0.5;
pub const PATTERN_WEIGHT: f32 = 0.7;
pub const SENDER_WEIGHT: f32 = 0.8;

/// The letterhead: senders are looked for in the first lines of the text.
const LETTERHEAD_LINES: usize = 15;

/// The hints of one position, compiled.
#[derive(Clone, Debug)]
struct PositionRules {
    position: Kennzeichen,
    keywords: Vec<(String, String)>,
    patterns: Vec<(Regex, String)>,
    senders: Vec<(String, String)>,
}

/// All rules of a plan.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    positions: Vec<PositionRules>,
}

/// A position whose rules fired.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleHit {
    pub position: Kennzeichen,
    pub confidence: f32,
    pub reasons: Vec<String>,
}

impl Rules {
    /// Compiles the hints of every open Betreffseinheit. Patterns were
    /// checked when the plan was loaded; one that still fails is skipped.
    pub fn new(plan: &Plan) -> Rules {
        let mut positions = Vec::new();
        for p in plan.betreffseinheiten().filter(|p| !p.retired) {
            if p.keywords.is_empty() && p.patterns.is_empty() && p.senders.is_empty() {
                continue;
            }
            positions.push(PositionRules {
                position: p.kennzeichen.clone(),
                keywords: p.keywords.iter().map(|k| (k.to_lowercase(), k.clone())).collect(),
                patterns: p.patterns.iter().filter_map(|s| Regex::new(s).ok().map(|r| (r, s.clone()))).collect(),
                senders: p.senders.iter().map(|k| (k.to_lowercase(), k.clone())).collect(),
            });
        }
        Rules { positions }
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The positions whose hints fire on this document, best first.
    pub fn hits(&self, title: &str, text: &str, sender: Option<&str>) -> Vec<RuleHit> {
        let full = format!("{title}\n{text}");
        let lower = full.to_lowercase();
        let head: String = text.lines().take(LETTERHEAD_LINES).collect::<Vec<_>>().join("\n").to_lowercase();
        let sender = sender.map(str::to_lowercase);
        let mut hits = Vec::new();
        for rules in &self.positions {
            let mut miss = 1.0f32;
            let mut reasons = Vec::new();
            for (needle, shown) in &rules.keywords {
                if contains_word(&lower, needle) {
                    miss *= 1.0 - KEYWORD_WEIGHT;
                    reasons.push(format!("keyword \"{shown}\""));
                }
            }
            for (pattern, shown) in &rules.patterns {
                if pattern.is_match(&full) {
                    miss *= 1.0 - PATTERN_WEIGHT;
                    reasons.push(format!("pattern /{shown}/"));
                }
            }
            for (needle, shown) in &rules.senders {
                let named = sender.as_deref().is_some_and(|s| s.contains(needle.as_str()));
                if named || contains_word(&head, needle) {
                    miss *= 1.0 - SENDER_WEIGHT;
                    reasons.push(format!("sender \"{shown}\""));
                }
            }
            if !reasons.is_empty() {
                hits.push(RuleHit { position: rules.position.clone(), confidence: 1.0 - miss, reasons });
            }
        }
        hits.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then_with(|| a.position.cmp(&b.position)));
        hits
    }
}

/// `needle` in `haystack` with no letter or digit right before or after it.
fn contains_word(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = haystack[from..].find(needle) {
        let start = from + i;
        let end = start + needle.len();
        let before = haystack[..start].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        let after = haystack[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return true;
        }
        from = start + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
[aktenplan]
name = "Test"
version = "1"

[[organisationseinheit]]
kuerzel = "20"
name = "Kämmerei"

[[einheit]]
kennzeichen = "2"
titel = "Finanzen"
aufbewahrung = 10
aussonderung = "V"
oe = "20"

[[einheit]]
kennzeichen = "22"
titel = "Steuern"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "221"
titel = "Gemeindesteuern"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "221.01"
titel = "Hundesteuer"
aufbewahrung = 6
aussonderung = "V"
stichworte = ["Hundesteuer", "Hundemarke"]
muster = ['(?i)steuer-?nr\.?\s*\d+']
absender = ["Tierheim Musterstadt"]

[[einheit]]
kennzeichen = "221.02"
titel = "Gewerbesteuer"
aufbewahrung = 6
aussonderung = "V"
stichworte = ["Gewerbesteuer"]
"#;

    fn rules() -> Rules {
        Rules::new(&Plan::from_toml(PLAN, "test.toml").unwrap())
    }

    #[test]
    fn keywords_patterns_and_senders_fire_and_combine() {
        let hits =
            rules().hits("Anmeldung", "Tierheim Musterstadt\nWir melden die Hundesteuer an, Steuer-Nr. 4711.", None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].position.as_str(), "221.01");
        assert_eq!(hits[0].reasons.len(), 3, "{:?}", hits[0].reasons);
        let expected = 1.0 - (1.0 - KEYWORD_WEIGHT) * (1.0 - PATTERN_WEIGHT) * (1.0 - SENDER_WEIGHT);
        assert!((hits[0].confidence - expected).abs() < 1e-6);
    }

    #[test]
    fn keywords_need_word_boundaries_and_rank_by_confidence() {
        let r = rules();
        assert!(r.hits("", "Hundesteuerbescheid", None).is_empty());
        let hits = r.hits("", "Gewerbesteuer und Hundesteuer, Hundemarke verloren", None);
        assert_eq!(hits.iter().map(|h| h.position.as_str()).collect::<Vec<_>>(), vec!["221.01", "221.02"]);
        // The sender field counts as well as the letterhead.
        let hits = r.hits("", "Sehr geehrte Damen und Herren", Some("tierheim musterstadt e.V."));
        assert_eq!(hits[0].reasons, vec!["sender \"Tierheim Musterstadt\"".to_string()]);
    }
}
