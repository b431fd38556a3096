//! The Aktenplan (file plan): parsing, validation, hierarchy and versions.
//!
//! Pure: callers hand in the file's text and name; nothing here touches the
//! disk. A plan is loaded from TOML (`aktenplan/*.toml`) or from a
//! semicolon-separated CSV export of a spreadsheet.
//!
//! Invariants of a [`Plan`] that loaded:
//! - Every Kennzeichen is well-formed and unique, and its parent exists.
//! - Every position has a retention and a disposal code.
//! - The Betreffseinheiten are exactly the leaves; only they take Akten.
//! - Every Betreffseinheit resolves to a declared organisational unit (its
//!   own or the nearest ancestor's).
//! - Every classification pattern compiles.
//!
//! Importing a new version ([`Plan::merge_new_version`]) never drops a
//! position that holds Akten: it stays, retired (`stillgelegt`), readable,
//! closed to new Akten.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::model::{Disposal, Kennzeichen, OrgUnit, Retention};

/// Retention years above this are refused as typos.
pub const MAX_RETENTION_YEARS: u16 = 1000;

/// A validated file plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    pub version: String,
    pub valid_from: Option<Date>,
    /// Organisational units: short code → name.
    pub units: BTreeMap<OrgUnit, String>,
    positions: BTreeMap<Kennzeichen, Position>,
}

/// One position (Aktenplaneinheit) of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub kennzeichen: Kennzeichen,
    pub title: String,
    pub description: Option<String>,
    pub retention: Retention,
    pub disposal: Disposal,
    /// The organisational unit that keeps its files, resolved through the
    /// ancestors; always set on Betreffseinheiten.
    pub unit: Option<OrgUnit>,
    /// True for leaves: only Betreffseinheiten take Akten.
    pub betreffseinheit: bool,
    /// Automatic filing may open a new yearly collective Akte here. False for
    /// case files (building permits, personnel files, ...).
    pub yearly_collective: bool,
    /// Classification hints for the mailroom.
    pub keywords: Vec<String>,
    pub patterns: Vec<String>,
    pub senders: Vec<String>,
    /// Retired by a later plan version (stillgelegt): kept for its Akten,
    /// closed to new ones.
    pub retired: bool,
}

impl Position {
    /// The level name for people: Hauptgruppe, Gruppe, Untergruppe, Betreffseinheit.
    pub fn level(&self) -> &'static str {
        if self.betreffseinheit {
            return "Betreffseinheit";
        }
        match self.kennzeichen.lineage().len() {
            1 => "Hauptgruppe",
            2 => "Gruppe",
            3 => "Untergruppe",
            _ => "Einheit",
        }
    }
}

/// One problem found while loading a plan, located in its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanIssue {
    pub file: String,
    pub line: Option<usize>,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for PlanIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(code) = &self.code {
            write!(f, ": position {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A plan that did not load, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct PlanErrors {
    pub file: String,
    pub issues: Vec<PlanIssue>,
}

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "the Aktenplan {} has {n} problem{}; fix {} and import it again",
            self.file,
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" }
        )?;
        for issue in self.issues.iter().take(50) {
            write!(f, "\n  {issue}")?;
        }
        if n > 50 {
            write!(f, "\n  ... and {} more", n - 50)?;
        }
        Ok(())
    }
}

/// What importing a new plan version changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChanges {
    pub added: Vec<Kennzeichen>,
    pub changed: Vec<Kennzeichen>,
    pub removed: Vec<Kennzeichen>,
    /// Positions missing from the new version that hold Akten: kept, retired.
    pub retired: Vec<Kennzeichen>,
    /// Retired positions that the new version brings back.
    pub reactivated: Vec<Kennzeichen>,
    pub unchanged: usize,
}

/// A new plan version that cannot be imported over the current one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error(
    "position {kennzeichen} holds {akten} Akte(n) but the new plan gives it sub-positions; Akten can only sit in Betreffseinheiten: keep {kennzeichen} a leaf and add the new positions beside it"
)]
pub struct PlanConflict {
    pub kennzeichen: Kennzeichen,
    pub akten: usize,
}

impl Plan {
    pub fn position(&self, kennzeichen: &Kennzeichen) -> Option<&Position> {
        self.positions.get(kennzeichen)
    }

    /// All positions in plan order (`0`, `00`, `000`, `000.01`, ...).
    pub fn positions(&self) -> impl Iterator<Item = &Position> {
        self.positions.values()
    }

    /// Positions directly below `kennzeichen`.
    pub fn children<'a>(&'a self, kennzeichen: &'a Kennzeichen) -> impl Iterator<Item = &'a Position> {
        self.positions.values().filter(move |p| p.kennzeichen.parent().as_ref() == Some(kennzeichen))
    }

    pub fn betreffseinheiten(&self) -> impl Iterator<Item = &Position> {
        self.positions.values().filter(|p| p.betreffseinheit)
    }

    pub fn unit_name(&self, unit: &OrgUnit) -> Option<&str> {
        self.units.get(unit).map(String::as_str)
    }

    /// Loads a plan from the TOML format of `aktenplan/` (see docs/format.md).
    pub fn from_toml(text: &str, file: &str) -> Result<Plan, PlanErrors> {
        let mut issues = Issues::new(file);
        let raw: toml_format::RawPlan = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(err) => {
                let line = err.span().map(|span| line_of(text, span.start));
                issues.push(line, None, err.message().to_string());
                return Err(issues.into_errors());
            }
        };
        let mut entries = Vec::new();
        for unit in raw.organisationseinheit {
            let line = Some(line_of(text, unit.span().start));
            let unit = unit.into_inner();
            entries.push(Entry::Unit { line, code: unit.kuerzel, name: unit.name });
        }
        for einheit in raw.einheit {
            let line = Some(line_of(text, einheit.span().start));
            let e = einheit.into_inner();
            let line = e.kennzeichen.as_ref().map(|k| Some(line_of(text, k.span().start))).unwrap_or(line);
            let retention = match e.aufbewahrung {
                None => None,
                Some(toml_format::RawRetention::Years(years)) => Some(RawValue::Years(years)),
                Some(toml_format::RawRetention::Text(text)) => Some(RawValue::Text(text)),
            };
            entries.push(Entry::Position(RawPosition {
                line,
                kennzeichen: e.kennzeichen.map(|k| k.into_inner()),
                title: e.titel,
                description: e.beschreibung,
                retention,
                disposal: e.aussonderung,
                unit: e.oe,
                yearly_collective: e.jahres_sammelakte,
                keywords: e.stichworte,
                patterns: e.muster,
                senders: e.absender,
            }));
        }
        let (name, version, valid_from) = match raw.aktenplan {
            Some(head) => (head.name, head.version, head.gueltig_ab),
            None => {
                issues.push(Some(1), None, "the [aktenplan] table with name and version is missing".into());
                (String::new(), String::new(), None)
            }
        };
        let valid_from = valid_from.and_then(|d| match d.parse::<Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                issues.push(None, None, format!("gueltig_ab '{d}' is not a date like 2026-01-01"));
                None
            }
        });
        build(issues, name, version, valid_from, entries, false)
    }

    /// Loads a plan from a semicolon-separated CSV file with a header row:
    /// `Kennzeichen;Titel;Aufbewahrung;Aussonderungsart` and optionally
    /// `OE;OE-Bezeichnung;Jahressammelakte;Stichworte;Muster;Absender;Beschreibung`
    /// (lists separated by `|`). CSV files carry no plan name or version, so
    /// the caller supplies them.
    pub fn from_csv(bytes: &[u8], file: &str, name: &str, version: &str) -> Result<Plan, PlanErrors> {
        let mut issues = Issues::new(file);
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        if std::str::from_utf8(bytes).is_err() {
            issues.push(
                None,
                None,
                "the file is not UTF-8 text: save it from the spreadsheet as 'CSV UTF-8 (semicolon-separated)'".into(),
            );
            return Err(issues.into_errors());
        }
        let mut reader =
            csv::ReaderBuilder::new().delimiter(b';').flexible(true).trim(csv::Trim::All).from_reader(bytes);
        let headers = match reader.headers() {
            Ok(h) => h.clone(),
            Err(err) => {
                issues.push(Some(1), None, format!("cannot read the header row: {err}"));
                return Err(issues.into_errors());
            }
        };
        let column = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
        let col_code = column(&["Kennzeichen", "Aktenplankennzeichen"]);
        let col_title = column(&["Titel", "Bezeichnung", "Betreff"]);
        let col_retention = column(&["Aufbewahrung", "Aufbewahrungsdauer", "Aufbewahrungsfrist"]);
        let col_disposal = column(&["Aussonderungsart", "Aussonderung"]);
        let col_unit = column(&["OE", "Organisationseinheit"]);
        let col_unit_name = column(&["OE-Bezeichnung", "OE-Name"]);
        let col_yearly = column(&["Jahressammelakte", "Sammelakte"]);
        let col_keywords = column(&["Stichworte", "Schlagworte"]);
        let col_patterns = column(&["Muster"]);
        let col_senders = column(&["Absender"]);
        let col_description = column(&["Beschreibung", "Inhaltsangabe"]);
        for (needed, col) in [
            ("Kennzeichen", col_code),
            ("Titel", col_title),
            ("Aufbewahrung", col_retention),
            ("Aussonderungsart", col_disposal),
        ] {
            if col.is_none() {
                issues.push(
                    Some(1),
                    None,
                    format!(
                        "the header row has no column '{needed}'; expected Kennzeichen;Titel;Aufbewahrung;Aussonderungsart;..."
                    ),
                );
            }
        }
        if !issues.is_empty() {
            return Err(issues.into_errors());
        }
        let mut entries = Vec::new();
        let mut unit_names: BTreeMap<String, (Option<usize>, String)> = BTreeMap::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(err) => {
                    let line = err.position().map(|p| p.line() as usize);
                    issues.push(line, None, format!("unreadable row: {err}"));
                    continue;
                }
            };
            let line = record.position().map(|p| p.line() as usize);
            let get = |col: Option<usize>| {
                col.and_then(|c| record.get(c)).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
            };
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let list = |col: Option<usize>| {
                get(col)
                    .map(|s| s.split('|').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let unit = get(col_unit);
            if let Some(unit) = &unit {
                let name = get(col_unit_name).unwrap_or_else(|| unit.clone());
                unit_names.entry(unit.clone()).or_insert((line, name));
            }
            let yearly = match get(col_yearly) {
                None => None,
                Some(v) => match v.to_lowercase().as_str() {
                    "ja" | "j" | "x" | "true" | "wahr" | "1" => Some(true),
                    "nein" | "n" | "false" | "falsch" | "0" => Some(false),
                    _ => {
                        issues.push(line, get(col_code), format!("Jahressammelakte '{v}' must be ja or nein"));
                        None
                    }
                },
            };
            entries.push(Entry::Position(RawPosition {
                line,
                kennzeichen: get(col_code),
                title: get(col_title),
                description: get(col_description),
                retention: get(col_retention).map(|t| match t.parse::<i64>() {
                    Ok(years) => RawValue::Years(years),
                    Err(_) => RawValue::Text(t),
                }),
                disposal: get(col_disposal),
                unit,
                yearly_collective: yearly,
                keywords: list(col_keywords),
                patterns: list(col_patterns),
                senders: list(col_senders),
            }));
        }
        for (code, (line, name)) in unit_names {
            entries.push(Entry::Unit { line, code, name });
        }
        build(issues, name.to_string(), version.to_string(), None, entries, true)
    }

    /// Merges `new`, a newly loaded version, over `self`, the version in the
    /// store, where `akten_per_position` counts the Akten each position holds.
    ///
    /// Positions that hold Akten and are missing from `new` are kept, retired,
    /// together with any ancestors `new` lacks. Positions without Akten that
    /// are missing are dropped.
    pub fn merge_new_version(
        &self,
        mut new: Plan,
        akten_per_position: &BTreeMap<Kennzeichen, usize>,
    ) -> Result<(Plan, PlanChanges), PlanConflict> {
        let mut changes = PlanChanges::default();
        for (code, &akten) in akten_per_position {
            if akten == 0 {
                continue;
            }
            match new.positions.get(code) {
                Some(p) if !p.betreffseinheit => {
                    return Err(PlanConflict { kennzeichen: code.clone(), akten });
                }
                Some(_) => {}
                None => {
                    for ancestor in code.lineage() {
                        if new.positions.contains_key(&ancestor) {
                            continue;
                        }
                        if let Some(old) = self.positions.get(&ancestor) {
                            let mut kept = old.clone();
                            kept.retired = true;
                            if let Some(unit) = &kept.unit
                                && let Some(name) = self.units.get(unit)
                            {
                                new.units.entry(unit.clone()).or_insert_with(|| name.clone());
                            }
                            new.positions.insert(ancestor.clone(), kept);
                        }
                    }
                    changes.retired.push(code.clone());
                }
            }
        }
        for (code, position) in &new.positions {
            match self.positions.get(code) {
                None => changes.added.push(code.clone()),
                Some(old) if old.retired && !position.retired => changes.reactivated.push(code.clone()),
                Some(old) if old != position && !changes.retired.contains(code) => {
                    if !position.retired {
                        changes.changed.push(code.clone());
                    }
                }
                Some(_) => changes.unchanged += 1,
            }
        }
        for code in self.positions.keys() {
            if !new.positions.contains_key(code) {
                changes.removed.push(code.clone());
            }
        }
        Ok((new, changes))
    }
}

mod toml_format {
    //! The serde shape of the TOML plan files.
    use serde::Deserialize;
    use toml::Spanned;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawPlan {
        pub aktenplan: Option<RawHead>,
        #[serde(default)]
        pub organisationseinheit: Vec<Spanned<RawUnit>>,
        #[serde(default)]
        pub einheit: Vec<Spanned<RawEinheit>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawHead {
        pub name: String,
        pub version: String,
        pub gueltig_ab: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawUnit {
        pub kuerzel: String,
        pub name: String,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RawEinheit {
        pub kennzeichen: Option<Spanned<String>>,
        pub titel: Option<String>,
        pub beschreibung: Option<String>,
        pub aufbewahrung: Option<RawRetention>,
        pub aussonderung: Option<String>,
        pub oe: Option<String>,
        pub jahres_sammelakte: Option<bool>,
        #[serde(default)]
        pub stichworte: Vec<String>,
        #[serde(default)]
        pub muster: Vec<String>,
        #[serde(default)]
        pub absender: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub enum RawRetention {
        Years(i64),
        Text(String),
    }
}

enum RawValue {
    Years(i64),
    Text(String),
}

struct RawPosition {
    line: Option<usize>,
    kennzeichen: Option<String>,
    title: Option<String>,
    description: Option<String>,
    retention: Option<RawValue>,
    disposal: Option<String>,
    unit: Option<String>,
    yearly_collective: Option<bool>,
    keywords: Vec<String>,
    patterns: Vec<String>,
    senders: Vec<String>,
}

enum Entry {
    Unit { line: Option<usize>, code: String, name: String },
    Position(RawPosition),
}

struct Issues {
    file: String,
    list: Vec<PlanIssue>,
}

impl Issues {
    fn new(file: &str) -> Self {
        Self { file: file.to_string(), list: Vec::new() }
    }
    fn push(&mut self, line: Option<usize>, code: Option<String>, message: String) {
        self.list.push(PlanIssue { file: self.file.clone(), line, code, message });
    }
    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    fn into_errors(self) -> PlanErrors {
        PlanErrors { file: self.file, issues: self.list }
    }
}

/// 1-based line number of byte offset `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

fn parse_retention(value: RawValue) -> Result<Retention, String> {
    match value {
        RawValue::Years(years) => match u16::try_from(years) {
            Ok(y) if y <= MAX_RETENTION_YEARS => Ok(Retention::Years(y)),
            _ => Err(format!(
                "Aufbewahrung {years} is out of range: give 0 to {MAX_RETENTION_YEARS} years or \"unbefristet\""
            )),
        },
        RawValue::Text(text) => match text.trim().to_lowercase().as_str() {
            "unbefristet" | "dauernd" | "unbegrenzt" | "∞" => Ok(Retention::Unlimited),
            other => Err(format!("Aufbewahrung '{other}' is neither a number of years nor \"unbefristet\"")),
        },
    }
}

fn build(
    mut issues: Issues,
    name: String,
    version: String,
    valid_from: Option<Date>,
    entries: Vec<Entry>,
    from_csv: bool,
) -> Result<Plan, PlanErrors> {
    if name.trim().is_empty() {
        issues.push(None, None, "the plan has no name".into());
    }
    if version.trim().is_empty() {
        issues.push(None, None, "the plan has no version".into());
    }
    let mut units: BTreeMap<OrgUnit, String> = BTreeMap::new();
    let mut raw_positions = Vec::new();
    for entry in entries {
        match entry {
            Entry::Unit { line, code, name } => {
                let code_trimmed = code.trim();
                if code_trimmed.is_empty() {
                    issues.push(line, None, "an organisationseinheit has an empty kuerzel".into());
                } else if units.insert(OrgUnit::new(code_trimmed), name.trim().to_string()).is_some() && !from_csv {
                    issues.push(line, None, format!("organisationseinheit '{code_trimmed}' is declared twice"));
                }
            }
            Entry::Position(p) => raw_positions.push(p),
        }
    }

    let mut positions: BTreeMap<Kennzeichen, Position> = BTreeMap::new();
    let mut lines: BTreeMap<Kennzeichen, Option<usize>> = BTreeMap::new();
    let mut own_units: BTreeMap<Kennzeichen, Option<OrgUnit>> = BTreeMap::new();
    let mut yearly_given: BTreeMap<Kennzeichen, bool> = BTreeMap::new();
    for raw in raw_positions {
        let line = raw.line;
        let Some(code_text) = raw.kennzeichen else {
            issues.push(line, None, "a position has no Kennzeichen".into());
            continue;
        };
        let code = match Kennzeichen::parse(code_text.trim()) {
            Ok(code) => code,
            Err(err) => {
                issues.push(line, Some(code_text.clone()), err.to_string());
                continue;
            }
        };
        let label = Some(code.to_string());
        if let Some(first) = lines.get(&code) {
            let first = first.map(|l| format!(" (first defined at line {l})")).unwrap_or_default();
            issues.push(line, label, format!("duplicate Kennzeichen{first}"));
            continue;
        }
        let title = raw.title.map(|t| t.trim().to_string()).unwrap_or_default();
        if title.is_empty() {
            issues.push(line, label.clone(), "the title (Titel) is missing".into());
        }
        let retention = match raw.retention {
            None => {
                issues.push(
                    line,
                    label.clone(),
                    "the retention (Aufbewahrung) is missing: give years or \"unbefristet\"".into(),
                );
                None
            }
            Some(value) => match parse_retention(value) {
                Ok(r) => Some(r),
                Err(msg) => {
                    issues.push(line, label.clone(), msg);
                    None
                }
            },
        };
        let disposal = match raw.disposal {
            None => {
                issues.push(
                    line,
                    label.clone(),
                    "the disposal code (Aussonderungsart) is missing: give A, B or V".into(),
                );
                None
            }
            Some(text) => match Disposal::parse(&text) {
                Some(d) => Some(d),
                None => {
                    issues.push(line, label.clone(), format!("Aussonderungsart '{text}' must be A, B or V"));
                    None
                }
            },
        };
        let unit = raw.unit.map(|u| OrgUnit::new(u.trim())).filter(|u| !u.as_str().is_empty());
        if let Some(u) = &unit
            && !units.contains_key(u)
        {
            issues.push(
                line,
                label.clone(),
                format!(
                    "organisational unit '{u}' is not declared: add an [[organisationseinheit]] with kuerzel = \"{u}\""
                ),
            );
        }
        for pattern in &raw.patterns {
            if let Err(err) = regex::Regex::new(pattern) {
                let first_line = err.to_string().lines().last().unwrap_or("").trim().to_string();
                issues.push(line, label.clone(), format!("pattern '{pattern}' does not compile: {first_line}"));
            }
        }
        lines.insert(code.clone(), line);
        own_units.insert(code.clone(), unit);
        yearly_given.insert(code.clone(), raw.yearly_collective.is_some());
        if let (Some(retention), Some(disposal)) = (retention, disposal) {
            positions.insert(
                code.clone(),
                Position {
                    kennzeichen: code,
                    title,
                    description: raw.description.map(|d| d.trim().to_string()).filter(|d| !d.is_empty()),
                    retention,
                    disposal,
                    unit: None,
                    betreffseinheit: false,
                    yearly_collective: raw.yearly_collective.unwrap_or(false),
                    keywords: raw.keywords,
                    patterns: raw.patterns,
                    senders: raw.senders,
                    retired: false,
                },
            );
        }
    }

    // Hierarchy: parents must exist; leaves are the Betreffseinheiten.
    let codes: BTreeSet<Kennzeichen> = lines.keys().cloned().collect();
    let mut has_children: BTreeSet<Kennzeichen> = BTreeSet::new();
    for code in &codes {
        if let Some(parent) = code.parent() {
            if codes.contains(&parent) {
                has_children.insert(parent);
            } else {
                issues.push(
                    lines[code],
                    Some(code.to_string()),
                    format!("its parent position {parent} is missing: add {parent} above it"),
                );
            }
        }
    }
    for code in &codes {
        let resolved = code.lineage().iter().rev().find_map(|k| own_units.get(k).cloned().flatten());
        let Some(position) = positions.get_mut(code) else { continue };
        position.betreffseinheit = !has_children.contains(code);
        position.unit = resolved;
        if position.betreffseinheit && position.unit.is_none() {
            issues.push(
                lines[code],
                Some(code.to_string()),
                "no organisational unit (oe) keeps this Betreffseinheit: set oe here or on a parent".into(),
            );
        }
        if !position.betreffseinheit && yearly_given.get(code) == Some(&true) && position.yearly_collective {
            issues.push(
                lines[code],
                Some(code.to_string()),
                "jahres_sammelakte only applies to Betreffseinheiten (positions without sub-positions)".into(),
            );
        }
    }
    if positions.is_empty() && issues.is_empty() {
        issues.push(None, None, "the plan has no positions".into());
    }
    if !issues.is_empty() {
        return Err(issues.into_errors());
    }
    Ok(Plan { name: name.trim().to_string(), version: version.trim().to_string(), valid_from, units, positions })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[aktenplan]
name = "Testplan"
version = "1"

[[organisationseinheit]]
kuerzel = "10"
name = "Hauptamt"

[[einheit]]
kennzeichen = "0"
titel = "Allgemeine Verwaltung"
aufbewahrung = 10
aussonderung = "B"
oe = "10"

[[einheit]]
kennzeichen = "00"
titel = "Gemeindeorgane"
aufbewahrung = "unbefristet"
aussonderung = "A"

[[einheit]]
kennzeichen = "000"
titel = "Rat und Ausschüsse"
aufbewahrung = "unbefristet"
aussonderung = "A"

[[einheit]]
kennzeichen = "000.01"
titel = "Rat: Sitzungen"
aufbewahrung = "unbefristet"
aussonderung = "A"
jahres_sammelakte = true
stichworte = ["Ratssitzung"]
muster = ['(?i)\bRat\b']

[[einheit]]
kennzeichen = "000.02"
titel = "Vorlagen"
aufbewahrung = 10
aussonderung = "A"
"#;

    fn k(s: &str) -> Kennzeichen {
        Kennzeichen::parse(s).unwrap()
    }

    #[test]
    fn loads_small_plan() {
        let plan = Plan::from_toml(SMALL, "t.toml").unwrap();
        let leaves: Vec<_> = plan.betreffseinheiten().map(|p| p.kennzeichen.to_string()).collect();
        assert_eq!(leaves, ["000.01", "000.02"]);
        let p = plan.position(&k("000.02")).unwrap();
        assert_eq!(p.unit, Some(OrgUnit::new("10")), "unit is inherited from 0");
        assert_eq!(p.retention, Retention::Years(10));
        assert!(plan.position(&k("000.01")).unwrap().yearly_collective);
        assert_eq!(plan.position(&k("000")).unwrap().level(), "Untergruppe");
        assert_eq!(plan.children(&k("000")).count(), 2);
    }

    fn issues_of(text: &str) -> Vec<String> {
        Plan::from_toml(text, "t.toml").unwrap_err().issues.iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn rejections_name_line_and_code() {
        let dup = SMALL.replace("kennzeichen = \"000.02\"", "kennzeichen = \"000.01\"");
        let issues = issues_of(&dup);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].starts_with("t.toml:"), "{issues:?}");
        assert!(issues[0].contains("position 000.01: duplicate Kennzeichen (first defined at line 30)"), "{issues:?}");

        let orphan = SMALL.replace("kennzeichen = \"000.02\"", "kennzeichen = \"001.02\"");
        let issues = issues_of(&orphan);
        assert!(issues[0].contains("t.toml:39: position 001.02: its parent position 001 is missing"), "{issues:?}");

        let malformed = SMALL.replace("kennzeichen = \"000.02\"", "kennzeichen = \"000.x2\"");
        let issues = issues_of(&malformed);
        assert!(issues[0].contains("t.toml:39: position 000.x2: '000.x2' is not a valid Kennzeichen"), "{issues:?}");

        let no_retention = SMALL.replace("aufbewahrung = 10\naussonderung = \"A\"", "aussonderung = \"A\"");
        let issues = issues_of(&no_retention);
        assert!(
            issues[0].contains("t.toml:39: position 000.02: the retention (Aufbewahrung) is missing"),
            "{issues:?}"
        );

        let no_disposal = SMALL.replace("aufbewahrung = 10\naussonderung = \"A\"", "aufbewahrung = 10");
        let issues = issues_of(&no_disposal);
        assert!(
            issues[0].contains("t.toml:39: position 000.02: the disposal code (Aussonderungsart) is missing"),
            "{issues:?}"
        );

        let bad_pattern = SMALL.replace(r"'(?i)\bRat\b'", "'(unclosed'");
        assert!(
            issues_of(&bad_pattern)[0].contains("t.toml:30: position 000.01: pattern '(unclosed' does not compile")
        );

        let unknown_key = SMALL.replace("titel = \"Vorlagen\"", "titel = \"Vorlagen\"\naufbewarung = 3");
        let issues = issues_of(&unknown_key);
        assert!(issues[0].contains("unknown field `aufbewarung`"), "{issues:?}");
        assert!(issues[0].starts_with("t.toml:4"), "{issues:?}");
    }

    #[test]
    fn csv_import() {
        let csv = "\u{feff}Kennzeichen;Titel;Aufbewahrung;Aussonderungsart;OE;OE-Bezeichnung;Jahressammelakte;Stichworte\n\
                   1;Sicherheit;10;B;32;Ordnungsamt;;\n\
                   11;Ordnung;10;B;;;;\n\
                   110;Ordnung;10;B;;;;\n\
                   110.18;Fundsachen;3;V;;;ja;Fundsache|Fundbüro\n";
        let plan = Plan::from_csv(csv.as_bytes(), "p.csv", "Plan", "2").unwrap();
        let p = plan.position(&k("110.18")).unwrap();
        assert_eq!(p.retention, Retention::Years(3));
        assert_eq!(p.unit, Some(OrgUnit::new("32")));
        assert_eq!(plan.unit_name(&OrgUnit::new("32")), Some("Ordnungsamt"));
        assert!(p.yearly_collective);
        assert_eq!(p.keywords, ["Fundsache", "Fundbüro"]);

        let bad = "Kennzeichen;Titel;Aufbewahrung;Aussonderungsart;OE\n1;A;10;B;32\n1;B;;X;32\n";
        let err = Plan::from_csv(bad.as_bytes(), "p.csv", "Plan", "2").unwrap_err();
        let text: Vec<String> = err.issues.iter().map(|i| i.to_string()).collect();
        assert!(
            text.iter().any(|t| t == "p.csv:3: position 1: duplicate Kennzeichen (first defined at line 2)"),
            "{text:?}"
        );

        let missing = "Kennzeichen;Titel;Aussonderungsart\n1;A;B\n";
        let err = Plan::from_csv(missing.as_bytes(), "p.csv", "Plan", "2").unwrap_err();
        assert!(err.issues[0].message.contains("no column 'Aufbewahrung'"));

        let latin1 = b"Kennzeichen;Titel;Aufbewahrung;Aussonderungsart\n1;Stra\xdfe;10;B\n";
        let err = Plan::from_csv(latin1, "p.csv", "Plan", "2").unwrap_err();
        assert!(err.issues[0].message.contains("not UTF-8"));
    }

    #[test]
    fn new_version_retires_positions_that_hold_akten() {
        let old = Plan::from_toml(SMALL, "t.toml").unwrap();
        // v2 drops 000.01 (holds Akten) and 000.02 (empty) and adds 000.03.
        let v2 = SMALL
            .replace("kennzeichen = \"000.01\"", "kennzeichen = \"000.03\"")
            .replace("kennzeichen = \"000.02\"", "kennzeichen = \"000.04\"");
        let new = Plan::from_toml(&v2, "t2.toml").unwrap();
        let counts = BTreeMap::from([(k("000.01"), 2usize)]);
        let (merged, changes) = old.merge_new_version(new, &counts).unwrap();
        let p = merged.position(&k("000.01")).unwrap();
        assert!(p.retired && p.betreffseinheit);
        assert!(merged.position(&k("000.02")).is_none());
        assert_eq!(changes.retired, [k("000.01")]);
        assert_eq!(changes.removed, [k("000.02")]);
        assert_eq!(changes.added, [k("000.03"), k("000.04")]);

        // A position with Akten may not turn into a group.
        let v3 = format!(
            "{}\n[[einheit]]\nkennzeichen = \"000.01.1\"\ntitel = \"x\"\naufbewahrung = 1\naussonderung = \"V\"\n",
            SMALL.replace("jahres_sammelakte = true\n", "")
        );
        let new = Plan::from_toml(&v3, "t3.toml").unwrap();
        let err = old.merge_new_version(new, &counts).unwrap_err();
        assert_eq!(err.kennzeichen, k("000.01"));
    }
}
