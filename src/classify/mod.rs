//! Classification: where an incoming document belongs, and whether akten may
//! file it on its own.
//!
//! Pure: text and metadata in, ranked suggestions with confidence and reasons
//! out; no I/O. Evidence is weighed in this order: a cover sheet, an
//! Aktenzeichen or Vorgangszeichen of the city cited as the city's reference
//! ([`cite`]), then the file plan's rules ([`rules`]) and the model learned
//! from human-confirmed filings ([`model`]) together, by confidence (the
//! model's best guess always keeps a place among the suggestions).
//!
//! Invariants of [`Classifier::classify`]'s decision:
//! - it files only on a cover sheet or a citation of exactly one open Akte or
//!   Vorgang, unless the policy switches rules or the model on for the
//!   position and the confidence reaches its threshold;
//! - it opens a new Akte only at a position the plan marks as a yearly
//!   collective file (Jahressammelakte), and only on rules or the model;
//! - a key after "Unser Zeichen" is never used for filing.

pub mod cite;
pub mod evaluate;
pub mod model;
pub mod rules;

use std::collections::HashMap;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::model::{Aktenzeichen, AzTemplate, FiledBy, Kennzeichen, OrgUnit, Vorgangszeichen};
use crate::plan::Plan;
use cite::Side;
use model::Model;
use rules::Rules;

/// Model suggestions below this confidence are left out: they say less
/// than they seem to.
pub const MIN_MODEL_CONFIDENCE: f32 = 0.1;

/// What a suggestion rests on, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    CoverSheet,
    Citation,
    Rule,
    Model,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::CoverSheet => "cover sheet",
            Evidence::Citation => "citation",
            Evidence::Rule => "rule",
            Evidence::Model => "model",
        }
    }

    pub fn filed_by(self) -> FiledBy {
        match self {
            Evidence::CoverSheet => FiledBy::CoverSheet,
            Evidence::Citation => FiledBy::Citation,
            Evidence::Rule => FiledBy::Rule,
            Evidence::Model => FiledBy::Model,
        }
    }
}

/// Where a suggestion points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    Akte {
        aktenzeichen: Aktenzeichen,
    },
    Vorgang {
        vorgangszeichen: Vorgangszeichen,
    },
    /// A plan position; `akte` is the open Akte it would go to, where that
    /// is clear (the year's collective file, or the only open Akte).
    Position {
        kennzeichen: Kennzeichen,
        akte: Option<Aktenzeichen>,
    },
}

impl Target {
    /// `Akte 610.07-0012/2026`, `position 610.07 → Akte …`.
    pub fn label(&self) -> String {
        match self {
            Target::Akte { aktenzeichen } => format!("Akte {aktenzeichen}"),
            Target::Vorgang { vorgangszeichen } => format!("Vorgang {vorgangszeichen}"),
            Target::Position { kennzeichen, akte: Some(az) } => format!("position {kennzeichen} → Akte {az}"),
            Target::Position { kennzeichen, akte: None } => format!("position {kennzeichen}"),
        }
    }
}

/// One ranked suggestion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub target: Target,
    pub position: Kennzeichen,
    pub position_title: String,
    /// The organisational unit that keeps files at the position.
    pub unit: Option<OrgUnit>,
    pub evidence: Evidence,
    /// 0..=1; 1 for cover sheets.
    pub confidence: f32,
    pub reasons: Vec<String>,
}

/// Where akten files a document on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "into", rename_all = "snake_case")]
pub enum FileTo {
    Akte {
        aktenzeichen: Aktenzeichen,
    },
    Vorgang {
        vorgangszeichen: Vorgangszeichen,
    },
    /// A new yearly collective Akte at the position.
    NewAkte {
        position: Kennzeichen,
        title: String,
    },
}

/// The decision for one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    File {
        to: FileTo,
        by: Evidence,
        reasons: Vec<String>,
    },
    /// To the Posteingang; `why` says what kept akten from filing it.
    Wait {
        why: String,
    },
}

/// The outcome of classifying one document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub suggestions: Vec<Suggestion>,
    pub decision: Decision,
    /// The sender's own reference ("Unser Zeichen"), where one was found.
    pub external_reference: Option<String>,
    /// The unit the document is for: the top suggestion's.
    pub unit: Option<OrgUnit>,
}

/// An Akte as classification needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownAkte {
    pub aktenzeichen: Aktenzeichen,
    pub title: String,
    pub position: Kennzeichen,
    pub open: bool,
    pub opened_year: i16,
}

/// A Vorgang as classification needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownVorgang {
    pub vorgangszeichen: Vorgangszeichen,
    pub akte: Aktenzeichen,
    pub title: String,
    /// Open, and so is its Akte.
    pub open: bool,
}

/// The city's Akten and Vorgänge, looked up by their normalised keys.
#[derive(Clone, Debug, Default)]
pub struct Known {
    akten: Vec<KnownAkte>,
    vorgaenge: Vec<KnownVorgang>,
    by_key: HashMap<String, Ref>,
    by_az: HashMap<Aktenzeichen, usize>,
}

#[derive(Clone, Copy, Debug)]
enum Ref {
    Akte(usize),
    Vorgang(usize),
}

impl Known {
    pub fn new(akten: Vec<KnownAkte>, vorgaenge: Vec<KnownVorgang>) -> Known {
        let mut by_key = HashMap::new();
        let mut by_az = HashMap::new();
        for (i, a) in akten.iter().enumerate() {
            by_key.insert(cite::normalize(a.aktenzeichen.as_str()), Ref::Akte(i));
            by_az.insert(a.aktenzeichen.clone(), i);
        }
        for (i, v) in vorgaenge.iter().enumerate() {
            by_key.insert(cite::normalize(v.vorgangszeichen.as_str()), Ref::Vorgang(i));
        }
        Known { akten, vorgaenge, by_key, by_az }
    }

    pub fn akte(&self, az: &Aktenzeichen) -> Option<&KnownAkte> {
        self.by_az.get(az).map(|&i| &self.akten[i])
    }

    /// The open Akten at a position, newest first.
    pub fn open_at(&self, position: &Kennzeichen) -> Vec<&KnownAkte> {
        let mut out: Vec<&KnownAkte> = self.akten.iter().filter(|a| a.open && a.position == *position).collect();
        out.sort_by(|a, b| b.opened_year.cmp(&a.opened_year).then_with(|| b.aktenzeichen.cmp(&a.aktenzeichen)));
        out
    }
}

/// Automatic filing on rules or the model, switched on for a position and
/// everything below it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoFiling {
    pub position: Kennzeichen,
    #[serde(default)]
    pub rules: bool,
    #[serde(default)]
    pub model: bool,
    /// Overrides the policy's threshold for this position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

/// What akten may decide on its own (`[classify]` in akten.toml).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// File on a cited Aktenzeichen or Vorgangszeichen of one open Akte.
    pub file_on_citation: bool,
    /// The confidence rules or the model must reach where auto filing is on.
    pub threshold: f32,
    /// How many suggestions a Posteingang item keeps.
    pub suggestions: usize,
    pub auto: Vec<AutoFiling>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { file_on_citation: true, threshold: model::DEFAULT_THRESHOLD, suggestions: 3, auto: Vec::new() }
    }
}

impl Policy {
    /// The auto-filing entry that covers `position` (the most specific one).
    fn auto_for(&self, position: &Kennzeichen) -> Option<&AutoFiling> {
        self.auto.iter().filter(|a| position.is_within(&a.position)).max_by_key(|a| a.position.as_str().len())
    }
}

/// A document to classify.
#[derive(Clone, Copy, Debug, Default)]
pub struct Input<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub sender: Option<&'a str>,
    /// The target of a cover sheet found with it (Aktenzeichen or Vorgangszeichen).
    pub cover: Option<&'a str>,
}

/// The regular expression for key-shaped strings: Vorgangszeichen first, so
/// the longer key wins where both match.
pub fn keys_regex(akte: &AzTemplate, vorgang: &AzTemplate) -> Regex {
    let a = akte.pattern("");
    let v = vorgang.pattern(&a);
    Regex::new(&format!("(?:{v})|(?:{a})")).expect("templates give valid patterns")
}

/// Everything classification weighs, borrowed.
pub struct Classifier<'a> {
    pub plan: &'a Plan,
    pub rules: &'a Rules,
    pub keys: &'a Regex,
    pub known: &'a Known,
    pub model: Option<&'a Model>,
    pub policy: &'a Policy,
    /// The current year, for yearly collective files.
    pub year: i16,
}

impl Classifier<'_> {
    pub fn classify(&self, input: &Input<'_>) -> Classification {
        let mut suggestions: Vec<Suggestion> = Vec::new();
        let mut why_not: Option<String> = None;

        if let Some(cover) = input.cover
            && let Some(s) = self.keyed(cover, Evidence::CoverSheet, 1.0, vec!["cover sheet".into()])
        {
            suggestions.push(s);
        }

        let refs = cite::scan(input.text, self.keys);
        let mut cited: Vec<Suggestion> = Vec::new();
        for found in &refs.keys {
            if found.side == Some(Side::Theirs) {
                continue;
            }
            let (confidence, reason) = match &found.label {
                Some(label) => (0.99, format!("cited as \"{}\" after \"{label}\"", found.text)),
                None => (0.9, format!("cited in the text as \"{}\" (no label such as \"Ihr Zeichen\")", found.text)),
            };
            if let Some(s) = self.keyed(&found.text, Evidence::Citation, confidence, vec![reason])
                && !cited.iter().any(|c| c.target == s.target)
            {
                cited.push(s);
            }
        }
        cited.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let citation_decision = self.decide_citation(&cited, &mut why_not);
        suggestions.extend(cited);

        let mut learned: Vec<Suggestion> = Vec::new();
        for hit in self.rules.hits(input.title, input.text, input.sender) {
            if let Some(s) = self.at_position(&hit.position, Evidence::Rule, hit.confidence, hit.reasons) {
                learned.push(s);
            }
        }
        if let Some(model) = self.model {
            let ranked = model.rank(input.title, input.text);
            for scored in
                ranked.into_iter().take(self.policy.suggestions.max(1)).filter(|s| s.confidence >= MIN_MODEL_CONFIDENCE)
            {
                let Ok(position) = Kennzeichen::parse(&scored.label) else { continue };
                let words = model.evidence(&scored.label, input.title, input.text, 4);
                let mut reason = format!("model {:.0} %", scored.confidence * 100.0);
                if !words.is_empty() {
                    reason.push_str(&format!(
                        ": {}",
                        words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
                    ));
                }
                if let Some(existing) = learned.iter_mut().find(|s| s.position == position) {
                    // A rule and the model agree: independent evidence.
                    existing.confidence = 1.0 - (1.0 - existing.confidence) * (1.0 - scored.confidence);
                    existing.reasons.push(reason);
                } else if let Some(s) = self.at_position(&position, Evidence::Model, scored.confidence, vec![reason]) {
                    learned.push(s);
                }
            }
        }
        // Rules and the model are weighed together by confidence (a rule
        // first where they tie): a few common keywords must not push a
        // confident model out of the list.
        learned.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then(a.evidence.cmp(&b.evidence)));

        let decision = match suggestions.first() {
            Some(s) if s.evidence == Evidence::CoverSheet => self.file_to(s).map(|to| Decision::File {
                to,
                by: Evidence::CoverSheet,
                reasons: s.reasons.clone(),
            }),
            _ => None,
        }
        .or(citation_decision)
        .or_else(|| {
            if why_not.is_some() {
                None
            } else {
                self.decide_learned(&learned, &mut why_not)
            }
        })
        .unwrap_or_else(|| Decision::Wait {
            why: why_not.unwrap_or_else(|| {
                if suggestions.is_empty() && learned.is_empty() {
                    "no cover sheet, no cited Aktenzeichen, no rule or learned filing points anywhere".into()
                } else {
                    "no cover sheet and no cited Aktenzeichen; automatic filing on rules or the model is not switched on here or not confident enough".into()
                }
            }),
        });

        let best_model = learned.iter().find(|s| s.evidence == Evidence::Model).cloned();
        for s in learned {
            if !suggestions.iter().any(|t| t.position == s.position) {
                suggestions.push(s);
            }
        }
        let keep = self.policy.suggestions.max(1);
        suggestions.truncate(keep);
        // The model's best guess keeps a place, in the last slot if need be.
        if let Some(m) = best_model
            && !suggestions.iter().any(|s| s.position == m.position)
            && suggestions.last().is_some_and(|s| s.evidence == Evidence::Rule)
        {
            suggestions.pop();
            suggestions.push(m);
        }
        let unit = suggestions.first().and_then(|s| s.unit.clone());
        Classification { suggestions, decision, external_reference: refs.external, unit }
    }

    fn decide_citation(&self, cited: &[Suggestion], why_not: &mut Option<String>) -> Option<Decision> {
        let labelled: Vec<&Suggestion> = cited.iter().filter(|s| s.confidence >= 0.99).collect();
        let chosen: &Suggestion = match labelled.as_slice() {
            [] => return None,
            [one] => one,
            several => {
                // The Vorgang of a cited Akte is the same place, more precisely.
                let vorgaenge: Vec<&&Suggestion> =
                    several.iter().filter(|s| matches!(s.target, Target::Vorgang { .. })).collect();
                let akten = self.distinct_akten(several);
                if vorgaenge.len() == 1 && akten == 1 {
                    vorgaenge[0]
                } else {
                    *why_not = Some(format!(
                        "it cites several of the city's references ({}): a person decides",
                        several.iter().map(|s| s.target.label()).collect::<Vec<_>>().join(", ")
                    ));
                    return None;
                }
            }
        };
        if !self.policy.file_on_citation {
            *why_not = Some("filing on cited Aktenzeichen is switched off ([classify] file_on_citation)".into());
            return None;
        }
        match self.file_to(chosen) {
            Some(to) => Some(Decision::File { to, by: Evidence::Citation, reasons: chosen.reasons.clone() }),
            None => {
                *why_not = Some(format!("it cites {}, which is closed", chosen.target.label()));
                None
            }
        }
    }

    fn distinct_akten(&self, cited: &[&Suggestion]) -> usize {
        let mut akten: Vec<&Aktenzeichen> = Vec::new();
        for s in cited {
            let az = match &s.target {
                Target::Akte { aktenzeichen } => Some(aktenzeichen),
                Target::Vorgang { vorgangszeichen } => {
                    self.known.vorgaenge.iter().find(|v| v.vorgangszeichen == *vorgangszeichen).map(|v| &v.akte)
                }
                Target::Position { .. } => None,
            };
            if let Some(az) = az
                && !akten.contains(&az)
            {
                akten.push(az);
            }
        }
        akten.len()
    }

    fn decide_learned(&self, learned: &[Suggestion], why_not: &mut Option<String>) -> Option<Decision> {
        let top = learned.first()?;
        let auto = self.policy.auto_for(&top.position);
        let on = auto.is_some_and(|a| match top.evidence {
            Evidence::Rule => a.rules,
            Evidence::Model => a.model,
            _ => false,
        });
        let Some(auto) = auto.filter(|_| on) else {
            *why_not = Some(format!(
                "the best match is position {} by {} ({:.0} %); filing on {} is not switched on for it ([[classify.auto]] in akten.toml)",
                top.position,
                top.evidence.as_str(),
                top.confidence * 100.0,
                if top.evidence == Evidence::Rule { "rules" } else { "the model" },
            ));
            return None;
        };
        let threshold = auto.threshold.unwrap_or(self.policy.threshold);
        if top.confidence < threshold {
            *why_not = Some(format!(
                "the best suggestion ({} by {}, {:.0} %) is below the threshold of {:.0} %",
                top.target.label(),
                top.evidence.as_str(),
                top.confidence * 100.0,
                threshold * 100.0
            ));
            return None;
        }
        if let Some(second) = learned.get(1)
            && second.confidence >= threshold
        {
            *why_not = Some(format!(
                "two positions reach the threshold ({} and {}): a person decides",
                top.position, second.position
            ));
            return None;
        }
        match self.file_to(top) {
            Some(to) => Some(Decision::File { to, by: top.evidence, reasons: top.reasons.clone() }),
            None => {
                let open = self.known.open_at(&top.position).len();
                *why_not = Some(format!(
                    "position {} is the best match, but it is no yearly collective file and has {open} open Akten: a person chooses one",
                    top.position
                ));
                None
            }
        }
    }

    /// Where a suggestion can be filed without a person, if anywhere.
    fn file_to(&self, s: &Suggestion) -> Option<FileTo> {
        match &s.target {
            Target::Akte { aktenzeichen } => self
                .known
                .akte(aktenzeichen)
                .filter(|a| a.open)
                .map(|a| FileTo::Akte { aktenzeichen: a.aktenzeichen.clone() }),
            Target::Vorgang { vorgangszeichen } => self
                .known
                .vorgaenge
                .iter()
                .find(|v| v.vorgangszeichen == *vorgangszeichen && v.open)
                .map(|v| FileTo::Vorgang { vorgangszeichen: v.vorgangszeichen.clone() }),
            Target::Position { kennzeichen, akte } => match akte {
                Some(az) => Some(FileTo::Akte { aktenzeichen: az.clone() }),
                None => {
                    let p = self.plan.position(kennzeichen)?;
                    (p.yearly_collective && !p.retired && p.betreffseinheit).then(|| FileTo::NewAkte {
                        position: kennzeichen.clone(),
                        title: format!("{} {}", p.title, self.year),
                    })
                }
            },
        }
    }

    /// A suggestion for a key found in the text or on a cover sheet.
    fn keyed(&self, key: &str, evidence: Evidence, confidence: f32, reasons: Vec<String>) -> Option<Suggestion> {
        let (target, position) = match *self.known.by_key.get(&cite::normalize(key))? {
            Ref::Akte(i) => {
                let a = &self.known.akten[i];
                (Target::Akte { aktenzeichen: a.aktenzeichen.clone() }, a.position.clone())
            }
            Ref::Vorgang(i) => {
                let v = &self.known.vorgaenge[i];
                let position = self.known.akte(&v.akte)?.position.clone();
                (Target::Vorgang { vorgangszeichen: v.vorgangszeichen.clone() }, position)
            }
        };
        let p = self.plan.position(&position);
        Some(Suggestion {
            target,
            position_title: p.map(|p| p.title.clone()).unwrap_or_default(),
            unit: p.and_then(|p| p.unit.clone()),
            position,
            evidence,
            confidence,
            reasons,
        })
    }

    /// A suggestion for a plan position (rules, model), with the Akte it
    /// would go to where that is clear.
    fn at_position(
        &self,
        position: &Kennzeichen,
        evidence: Evidence,
        confidence: f32,
        reasons: Vec<String>,
    ) -> Option<Suggestion> {
        let p = self.plan.position(position).filter(|p| p.betreffseinheit && !p.retired)?;
        let open = self.known.open_at(position);
        let akte = if p.yearly_collective {
            open.iter().find(|a| a.opened_year == self.year).map(|a| a.aktenzeichen.clone())
        } else if open.len() == 1 {
            Some(open[0].aktenzeichen.clone())
        } else {
            None
        };
        Some(Suggestion {
            target: Target::Position { kennzeichen: position.clone(), akte },
            position: position.clone(),
            position_title: p.title.clone(),
            unit: p.unit.clone(),
            evidence,
            confidence,
            reasons,
        })
    }
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
kennzeichen = "0"
titel = "Finanzen"
oe = "20"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "02"
titel = "Steuern"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "020"
titel = "Gemeindesteuern"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "020.01"
titel = "Hundesteuer"
aufbewahrung = 6
aussonderung = "V"
jahres_sammelakte = true
stichworte = ["Hundesteuer"]
absender = ["Tierheim"]

[[einheit]]
kennzeichen = "020.02"
titel = "Grundsteuer"
aufbewahrung = 10
aussonderung = "V"
stichworte = ["Grundsteuer"]
absender = ["Finanzamt"]
"#;

    fn az(s: &str) -> Aktenzeichen {
        Aktenzeichen::new(s)
    }

    fn k(s: &str) -> Kennzeichen {
        Kennzeichen::parse(s).unwrap()
    }

    struct World {
        plan: Plan,
        rules: Rules,
        keys: Regex,
        known: Known,
    }

    fn world() -> World {
        let plan = Plan::from_toml(PLAN, "t.toml").unwrap();
        let rules = Rules::new(&plan);
        let keys = keys_regex(
            &AzTemplate::for_akte(AzTemplate::DEFAULT_AKTE).unwrap(),
            &AzTemplate::for_vorgang(AzTemplate::DEFAULT_VORGANG).unwrap(),
        );
        let akte = |a: &str, p: &str, open: bool| KnownAkte {
            aktenzeichen: az(a),
            title: a.into(),
            position: k(p),
            open,
            opened_year: 2026,
        };
        let known = Known::new(
            vec![
                akte("020.02-0001/2026", "020.02", true),
                akte("020.02-0002/2026", "020.02", true),
                akte("020.02-0003/2025", "020.02", false),
            ],
            vec![KnownVorgang {
                vorgangszeichen: Vorgangszeichen::new("020.02-0001/2026-4"),
                akte: az("020.02-0001/2026"),
                title: "Widerspruch".into(),
                open: true,
            }],
        );
        World { plan, rules, keys, known }
    }

    fn classify(w: &World, policy: &Policy, text: &str) -> Classification {
        let c = Classifier {
            plan: &w.plan,
            rules: &w.rules,
            keys: &w.keys,
            known: &w.known,
            model: None,
            policy,
            year: 2026,
        };
        c.classify(&Input { title: "Brief", text, sender: None, cover: None })
    }

    fn filed_to(c: &Classification) -> Option<&FileTo> {
        match &c.decision {
            Decision::File { to, .. } => Some(to),
            Decision::Wait { .. } => None,
        }
    }

    #[test]
    fn a_citation_of_one_open_akte_files_and_the_senders_reference_never_does() {
        let w = world();
        let p = Policy::default();
        let c = classify(&w, &p, "Ihr Zeichen: 020.02-1/2026\nUnser Zeichen: 020.02-0002/2026\n");
        assert_eq!(filed_to(&c), Some(&FileTo::Akte { aktenzeichen: az("020.02-0001/2026") }));
        assert_eq!(c.external_reference.as_deref(), Some("020.02-0002/2026"));
        assert_eq!(c.unit.as_ref().map(|u| u.as_str()), Some("20"));

        let c = classify(&w, &p, "Unser Zeichen: 020.02-0002/2026\nBitte um Rückruf\n");
        assert_eq!(filed_to(&c), None);
        assert!(c.suggestions.iter().all(|s| s.evidence != Evidence::Citation), "{:?}", c.suggestions);

        // A Vorgang and its own Akte are one place: the Vorgang.
        let c = classify(&w, &p, "Ihr Zeichen: 020.02-0001/2026\nAz.: 020.02-0001/2026-4\n");
        assert_eq!(
            filed_to(&c),
            Some(&FileTo::Vorgang { vorgangszeichen: Vorgangszeichen::new("020.02-0001/2026-4") })
        );

        // Two Akten, a closed one, an unlabelled one, or citations switched off: a person decides.
        for text in [
            "Ihr Zeichen: 020.02-0001/2026\nAz.: 020.02-0002/2026\n",
            "Ihr Zeichen: 020.02-0003/2025\n",
            "in der Sache 020.02-0001/2026 teilen wir mit\n",
        ] {
            let c = classify(&w, &p, text);
            assert_eq!(filed_to(&c), None, "{text}: {:?}", c.decision);
            assert_eq!(c.suggestions[0].evidence, Evidence::Citation);
        }
        let off = Policy { file_on_citation: false, ..Policy::default() };
        assert_eq!(filed_to(&classify(&w, &off, "Ihr Zeichen: 020.02-0001/2026\n")), None);
    }

    #[test]
    fn rules_file_only_where_switched_on_and_open_akten_only_at_yearly_positions() {
        let w = world();
        let hund = "Tierheim\nHundesteuer für Bello\n";
        let grund = "Finanzamt\nGrundsteuer Messbescheid\n";
        // Off by default: suggestions only.
        let c = classify(&w, &Policy::default(), hund);
        assert_eq!(filed_to(&c), None);
        assert_eq!(c.suggestions[0].position, k("020.01"));
        assert_eq!(c.suggestions[0].evidence, Evidence::Rule);
        assert!((c.suggestions[0].confidence - 0.9).abs() < 1e-6);

        let on = Policy {
            auto: vec![AutoFiling { position: k("020"), rules: true, model: false, threshold: Some(0.85) }],
            ..Policy::default()
        };
        // Yearly collective position without an Akte this year: a new one.
        assert_eq!(
            filed_to(&classify(&w, &on, hund)),
            Some(&FileTo::NewAkte { position: k("020.01"), title: "Hundesteuer 2026".into() })
        );
        // A case-file position with two open Akten: never a new Akte, no guess.
        let c = classify(&w, &on, grund);
        assert_eq!(filed_to(&c), None);
        assert!(matches!(&c.decision, Decision::Wait { why } if why.contains("2 open Akten")), "{:?}", c.decision);
        // Below the threshold: waits, saying so.
        let c = classify(&w, &on, "Hundesteuer\n");
        assert!(
            matches!(&c.decision, Decision::Wait { why } if why.contains("below the threshold")),
            "{:?}",
            c.decision
        );
        // Switched on for another position only: no effect here.
        let elsewhere = Policy {
            auto: vec![AutoFiling { position: k("020.02"), rules: true, model: false, threshold: Some(0.5) }],
            ..Policy::default()
        };
        assert_eq!(filed_to(&classify(&w, &elsewhere, hund)), None);
    }
}
