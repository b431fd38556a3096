//! Cross-validation of the learned model ([`super::model`]) on labelled
//! rows: how often its first guess is right, how often the right label is
//! among its first three, and how many documents it would file on its own
//! at a confidence threshold, with what precision; per fold and per label,
//! with the confusions, and next to the naive Bayes baseline measured on the
//! same folds.
//!
//! Pure: rows in, a [`Report`] out; reading files and timing are the
//! caller's. Deterministic: the folds are stratified by label and shuffled
//! from the seed, so the same rows and options give the same report.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use regex::Regex;
use serde::Serialize;

use super::model::{Example, Model, NaiveBayes, Scored, SplitMix};

/// One labelled document.
#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub title: String,
    pub text: String,
}

/// What cannot be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("line {line}: not valid JSON ({reason}); give one JSON object per line")]
    Json { line: usize, reason: String },
    #[error("line {line}: not a JSON object; give one JSON object per line")]
    NotAnObject { line: usize },
    #[error("line {line}: field `{field}` is {found}; it must be a string or null")]
    FieldType { line: usize, field: String, found: &'static str },
    #[error("no row has a label in field `{field}`; name the field that holds the labels")]
    NoLabels { field: String },
    #[error("{folds} folds: cross-validation needs at least 2")]
    TooFewFolds { folds: usize },
    #[error("{rows} labelled rows are too few for {folds} folds; give at least as many rows as folds, or fewer folds")]
    TooFewRows { rows: usize, folds: usize },
    #[error("all rows have the label `{label}`; cross-validation needs rows of at least 2 labels")]
    OneLabel { label: String },
    #[error("threshold {threshold} is outside 0..=1; give a confidence between 0 and 1")]
    Threshold { threshold: f32 },
}

/// Reads JSON lines (one object per line; blank lines are skipped). The label
/// is the string in `label_field`; rows where it is null, missing or empty
/// are left out. `title` and `text` may be missing or null (then empty).
pub fn rows_from_jsonl(text: &str, label_field: &str) -> Result<Vec<Row>, EvalError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| EvalError::Json { line: number, reason: e.to_string() })?;
        let serde_json::Value::Object(object) = value else {
            return Err(EvalError::NotAnObject { line: number });
        };
        let field = |name: &str| -> Result<Option<String>, EvalError> {
            match object.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => {
                    Err(EvalError::FieldType { line: number, field: name.to_string(), found: json_kind(other) })
                }
            }
        };
        let Some(label) = field(label_field)?.filter(|l| !l.trim().is_empty()) else { continue };
        let title = field("title")?.unwrap_or_default();
        let text = field("text")?.unwrap_or_default();
        rows.push(Row { label, title, text });
    }
    if rows.is_empty() {
        return Err(EvalError::NoLabels { field: label_field.to_string() });
    }
    Ok(rows)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Removes each row's own label from its title and text, ignoring case, so
/// that the evaluation shows what the model knows beyond a letterhead that
/// names the office. Each occurrence becomes a space (no words are glued).
pub fn mask_labels(rows: &mut [Row]) {
    let mut patterns: HashMap<String, Option<Regex>> = HashMap::new();
    for row in rows {
        let pattern = patterns
            .entry(row.label.clone())
            .or_insert_with(|| Regex::new(&format!("(?i){}", regex::escape(&row.label))).ok());
        // An escaped literal always compiles; were it ever too large for the
        // regex engine, the row stays as it is.
        if let Some(re) = pattern {
            row.title = re.replace_all(&row.title, " ").into_owned();
            row.text = re.replace_all(&row.text, " ").into_owned();
        }
    }
}

/// How to cross-validate.
#[derive(Clone, Debug)]
pub struct Options {
    pub folds: usize,
    pub seed: u64,
    /// The confidence from which a document counts as filed automatically.
    pub threshold: f32,
}

/// The outcome of a cross-validation. Shares are 0..=1.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub rows: usize,
    pub labels: usize,
    pub folds: usize,
    pub seed: u64,
    /// The first label was right.
    pub top1: f64,
    /// The right label was among the first three.
    pub top3: f64,
    pub threshold: f32,
    /// Documents whose first label reached the threshold.
    pub coverage: f64,
    /// Of those, the share whose first label was right; none if none reached it.
    pub precision: Option<f64>,
    /// The same folds with the baseline.
    pub baseline: Baseline,
    pub per_fold: Vec<FoldFigures>,
    /// Coverage and precision at other thresholds.
    pub thresholds: Vec<ThresholdFigures>,
    /// For a few precision goals: the lowest threshold that met it here, and
    /// its coverage; none where no threshold did.
    pub for_precision: Vec<PrecisionGoal>,
    /// Mean of -ln(confidence of the true label): how well the confidences
    /// are calibrated (lower is better).
    pub log_loss: f64,
    /// Documents by the confidence of their first label: how often it was right.
    pub calibration: Vec<CalibrationBin>,
    /// By true label, most frequent first.
    pub per_label: Vec<LabelFigures>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub name: String,
    pub top1: f64,
    pub top3: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FoldFigures {
    /// 1-based.
    pub fold: usize,
    pub rows: usize,
    pub top1: f64,
    pub top3: f64,
    pub coverage: f64,
    pub precision: Option<f64>,
    pub baseline_top1: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ThresholdFigures {
    pub threshold: f32,
    pub coverage: f64,
    pub precision: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PrecisionGoal {
    pub goal: f64,
    pub threshold: Option<f32>,
    pub coverage: f64,
    pub precision: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CalibrationBin {
    /// Confidences from `from` (inclusive) to `to` (exclusive; inclusive for the last bin).
    pub from: f32,
    pub to: f32,
    pub documents: usize,
    pub mean_confidence: Option<f64>,
    pub accuracy: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LabelFigures {
    pub label: String,
    /// Rows with this true label.
    pub count: usize,
    /// Of those, the share the model named first.
    pub recall: f64,
    /// Documents the model named it first for.
    pub predicted: usize,
    /// Of those, the share that had it as true label; none if never named.
    pub precision: Option<f64>,
    /// The labels its rows were taken for instead, most frequent first.
    pub confused: Vec<Confusion>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Confusion {
    pub label: String,
    pub count: usize,
}

/// The fate of one held-out row.
struct Outcome {
    truth: usize,
    first: usize,
    top3: bool,
    confidence: f32,
    /// The confidence the model gave the true label.
    truth_confidence: f32,
    baseline_top1: bool,
    baseline_top3: bool,
    fold: usize,
}

/// K-fold cross-validation: each fold is held out once while the model is
/// trained on the others. Folds are stratified by label (each label's rows,
/// shuffled from the seed, are dealt round the folds in turn).
/// `progress(done, folds)` is called after each fold.
pub fn cross_validate(
    rows: &[Row],
    options: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report, EvalError> {
    let folds = options.folds;
    if folds < 2 {
        return Err(EvalError::TooFewFolds { folds });
    }
    if rows.len() < folds {
        return Err(EvalError::TooFewRows { rows: rows.len(), folds });
    }
    if !(0.0..=1.0).contains(&options.threshold) {
        return Err(EvalError::Threshold { threshold: options.threshold });
    }
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        groups.entry(row.label.as_str()).or_default().push(i);
    }
    if groups.len() < 2 {
        return Err(EvalError::OneLabel { label: rows[0].label.clone() });
    }
    let labels: Vec<&str> = groups.keys().copied().collect();
    let label_index: HashMap<&str, usize> = labels.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let fold_of = assign_folds(&groups, rows.len(), folds, options.seed);

    let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
    for fold in 0..folds {
        let train: Vec<Example<'_>> = rows
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(r, _)| Example { label: &r.label, title: &r.title, text: &r.text })
            .collect();
        let model = Model::train(&train);
        let baseline = NaiveBayes::train(&train);
        drop(train);
        for (row, _) in rows.iter().zip(&fold_of).filter(|(_, f)| **f == fold) {
            let ranked = model.rank(&row.title, &row.text);
            let base = baseline.rank(&row.title, &row.text);
            let in_top = |r: &[Scored], n: usize| r.iter().take(n).any(|s| s.label == row.label);
            let (first, confidence) = match ranked.first() {
                Some(s) => (label_index.get(s.label.as_str()).copied().unwrap_or(usize::MAX), s.confidence),
                None => (usize::MAX, 0.0),
            };
            outcomes.push(Outcome {
                truth: label_index[row.label.as_str()],
                first,
                top3: in_top(&ranked, 3),
                confidence,
                truth_confidence: ranked.iter().find(|s| s.label == row.label).map_or(0.0, |s| s.confidence),
                baseline_top1: in_top(&base, 1),
                baseline_top3: in_top(&base, 3),
                fold,
            });
        }
        progress(fold + 1, folds);
    }
    Ok(report(&outcomes, &labels, options))
}

/// The fold of each row: each label's rows (`groups`, in row order),
/// shuffled from the seed, dealt round the folds, continuing where the
/// previous label stopped, so folds differ in size by at most one and each
/// label's rows by at most one per fold.
fn assign_folds(groups: &BTreeMap<&str, Vec<usize>>, rows: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix(seed);
    let mut fold_of = vec![0usize; rows];
    let mut dealt = 0;
    for members in groups.values() {
        let mut members = members.clone();
        for i in (1..members.len()).rev() {
            members.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for m in members {
            fold_of[m] = dealt % folds;
            dealt += 1;
        }
    }
    fold_of
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Coverage and precision of `outcomes` at `threshold`.
fn at_threshold<'a>(outcomes: impl Iterator<Item = &'a Outcome>, threshold: f32) -> (usize, usize, usize) {
    let (mut all, mut above, mut right) = (0, 0, 0);
    for o in outcomes {
        all += 1;
        if o.confidence >= threshold {
            above += 1;
            right += usize::from(o.first == o.truth);
        }
    }
    (all, above, right)
}

fn report(outcomes: &[Outcome], labels: &[&str], options: &Options) -> Report {
    let n = outcomes.len();
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let (_, above, right) = at_threshold(outcomes.iter(), options.threshold);
    let per_fold = (0..options.folds)
        .map(|fold| {
            let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.fold == fold).collect();
            let (all, above, right) = at_threshold(mine.iter().copied(), options.threshold);
            FoldFigures {
                fold: fold + 1,
                rows: all,
                top1: share(mine.iter().filter(|o| o.first == o.truth).count(), all),
                top3: share(mine.iter().filter(|o| o.top3).count(), all),
                coverage: share(above, all),
                precision: (above > 0).then(|| share(right, above)),
                baseline_top1: share(mine.iter().filter(|o| o.baseline_top1).count(), all),
            }
        })
        .collect();
    let thresholds = [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]
        .into_iter()
        .map(|t| {
            let (all, above, right) = at_threshold(outcomes.iter(), t);
            ThresholdFigures {
                threshold: t,
                coverage: share(above, all),
                precision: (above > 0).then(|| share(right, above)),
            }
        })
        .collect();
    // Sorted by confidence, best first: the coverage of each threshold is a
    // prefix, and the lowest threshold meeting a goal is the longest prefix
    // that does (ties in confidence are taken or left together).
    let mut by_confidence: Vec<&Outcome> = outcomes.iter().collect();
    by_confidence.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let for_precision = [0.95, 0.97, 0.99]
        .into_iter()
        .map(|goal| {
            let mut best: Option<(usize, usize)> = None;
            let mut right = 0;
            for (i, o) in by_confidence.iter().enumerate() {
                right += usize::from(o.first == o.truth);
                let tie = by_confidence.get(i + 1).is_some_and(|next| next.confidence == o.confidence);
                if !tie && share(right, i + 1) >= goal {
                    best = Some((i + 1, right));
                }
            }
            match best {
                Some((taken, right)) => PrecisionGoal {
                    goal,
                    threshold: Some(by_confidence[taken - 1].confidence),
                    coverage: share(taken, n),
                    precision: Some(share(right, taken)),
                },
                None => PrecisionGoal { goal, threshold: None, coverage: 0.0, precision: None },
            }
        })
        .collect();
    let log_loss =
        outcomes.iter().map(|o| -f64::from(o.truth_confidence.max(1e-9)).ln()).sum::<f64>() / n.max(1) as f64;
    let calibration = (0..10)
        .map(|b| {
            let (from, to) = (b as f32 / 10.0, (b + 1) as f32 / 10.0);
            let bin: Vec<&Outcome> =
                outcomes.iter().filter(|o| o.confidence >= from && (o.confidence < to || b == 9)).collect();
            let any = !bin.is_empty();
            CalibrationBin {
                from,
                to,
                documents: bin.len(),
                mean_confidence: any
                    .then(|| bin.iter().map(|o| f64::from(o.confidence)).sum::<f64>() / bin.len() as f64),
                accuracy: any.then(|| share(bin.iter().filter(|o| o.first == o.truth).count(), bin.len())),
            }
        })
        .collect();
    let mut per_label: Vec<LabelFigures> = labels
        .iter()
        .enumerate()
        .map(|(k, label)| {
            let mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.truth == k).collect();
            let predicted = outcomes.iter().filter(|o| o.first == k).count();
            let hits = mine.iter().filter(|o| o.first == k).count();
            let mut confused: BTreeMap<usize, usize> = BTreeMap::new();
            for o in mine.iter().filter(|o| o.first != k) {
                *confused.entry(o.first).or_default() += 1;
            }
            let mut confused: Vec<Confusion> = confused
                .into_iter()
                .map(|(l, count)| Confusion { label: labels.get(l).unwrap_or(&"(none)").to_string(), count })
                .collect();
            confused.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
            LabelFigures {
                label: label.to_string(),
                count: mine.len(),
                recall: share(hits, mine.len()),
                predicted,
                precision: (predicted > 0).then(|| share(hits, predicted)),
                confused,
            }
        })
        .collect();
    per_label.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    Report {
        rows: n,
        labels: labels.len(),
        folds: options.folds,
        seed: options.seed,
        top1: share(count(&|o| o.first == o.truth), n),
        top3: share(count(&|o| o.top3), n),
        threshold: options.threshold,
        coverage: share(above, n),
        precision: (above > 0).then(|| share(right, above)),
        baseline: Baseline {
            name: "multinomial naive Bayes (same words and word pairs, raw counts, Laplace smoothing)".into(),
            top1: share(count(&|o| o.baseline_top1), n),
            top3: share(count(&|o| o.baseline_top3), n),
        },
        per_fold,
        thresholds,
        for_precision,
        log_loss,
        calibration,
        per_label,
    }
}

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), pct)
}

fn confusions(c: &[Confusion], limit: usize) -> String {
    let mut parts: Vec<String> = c.iter().take(limit).map(|c| format!("{} ({})", c.label, c.count)).collect();
    if c.len() > limit {
        parts.push(format!("… {} more", c.len() - limit));
    }
    parts.join(", ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}-fold cross-validation: {} rows, {} labels, seed {}",
            self.folds, self.rows, self.labels, self.seed
        )?;
        writeln!(f, "top-1 {}, top-3 {}", pct(self.top1), pct(self.top3))?;
        writeln!(
            f,
            "at threshold {:.2}: {} of the documents reach it, {} of those right",
            self.threshold,
            pct(self.coverage),
            opt_pct(self.precision)
        )?;
        writeln!(
            f,
            "baseline, {}: top-1 {}, top-3 {}",
            self.baseline.name,
            pct(self.baseline.top1),
            pct(self.baseline.top3)
        )?;
        writeln!(f)?;
        writeln!(f, "fold  rows   top-1    top-3    coverage  precision  baseline top-1")?;
        for x in &self.per_fold {
            writeln!(
                f,
                "{:>4}  {:>5}  {:>7}  {:>7}  {:>8}  {:>9}  {:>7}",
                x.fold,
                x.rows,
                pct(x.top1),
                pct(x.top3),
                pct(x.coverage),
                opt_pct(x.precision),
                pct(x.baseline_top1)
            )?;
        }
        writeln!(f)?;
        writeln!(f, "threshold  coverage  precision")?;
        for t in &self.thresholds {
            writeln!(f, "{:>9.2}  {:>8}  {:>9}", t.threshold, pct(t.coverage), opt_pct(t.precision))?;
        }
        for g in &self.for_precision {
            match g.threshold {
                Some(t) => writeln!(
                    f,
                    "precision {} first met from threshold {t:.3}, covering {}",
                    pct(g.goal),
                    pct(g.coverage)
                )?,
                None => writeln!(f, "precision {} met at no threshold", pct(g.goal))?,
            }
        }
        writeln!(f)?;
        let width = self.per_label.iter().map(|l| l.label.chars().count()).max().unwrap_or(5).max(5);
        writeln!(f, "{:width$}  count  recall   precision  mistaken for", "label")?;
        for l in &self.per_label {
            writeln!(
                f,
                "{:width$}  {:>5}  {:>7}  {:>9}  {}",
                l.label,
                l.count,
                pct(l.recall),
                opt_pct(l.precision),
                confusions(&l.confused, 3)
            )?;
        }
        Ok(())
    }
}

impl Report {
    /// The report as Markdown tables, including every label's confusions.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(format!(
            "{}-fold cross-validation (stratified by label, seed {}): {} rows, {} labels.",
            self.folds, self.seed, self.rows, self.labels
        ));
        line(String::new());
        line("| | model | baseline (naive Bayes) |".into());
        line("|---|---|---|".into());
        line(format!("| top-1 | {} | {} |", pct(self.top1), pct(self.baseline.top1)));
        line(format!("| top-3 | {} | {} |", pct(self.top3), pct(self.baseline.top3)));
        line(format!("| coverage at threshold {:.2} | {} | |", self.threshold, pct(self.coverage)));
        line(format!("| precision at threshold {:.2} | {} | |", self.threshold, opt_pct(self.precision)));
        line(String::new());
        line(format!("Baseline: {}.", self.baseline.name));
        line(String::new());
        line("| fold | rows | top-1 | top-3 | coverage | precision | baseline top-1 |".into());
        line("|---|---|---|---|---|---|---|".into());
        for x in &self.per_fold {
            line(format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                x.fold,
                x.rows,
                pct(x.top1),
                pct(x.top3),
                pct(x.coverage),
                opt_pct(x.precision),
                pct(x.baseline_top1)
            ));
        }
        line(String::new());
        line("| threshold | coverage | precision |".into());
        line("|---|---|---|".into());
        for t in &self.thresholds {
            line(format!("| {:.2} | {} | {} |", t.threshold, pct(t.coverage), opt_pct(t.precision)));
        }
        line(String::new());
        line("| precision goal | lowest threshold that met it | coverage | precision |".into());
        line("|---|---|---|---|".into());
        for g in &self.for_precision {
            let threshold = g.threshold.map_or_else(|| "none".to_string(), |t| format!("{t:.3}"));
            line(format!("| {} | {threshold} | {} | {} |", pct(g.goal), pct(g.coverage), opt_pct(g.precision)));
        }
        line(String::new());
        line(format!("Log loss of the confidences (mean -ln of the true label's): {:.3}.", self.log_loss));
        line(String::new());
        line("| confidence of the first label | documents | mean confidence | right |".into());
        line("|---|---|---|---|".into());
        for b in &self.calibration {
            line(format!(
                "| {:.1}–{:.1} | {} | {} | {} |",
                b.from,
                b.to,
                b.documents,
                opt_pct(b.mean_confidence),
                opt_pct(b.accuracy)
            ));
        }
        line(String::new());
        line("| label | rows | recall | named first | precision | mistaken for |".into());
        line("|---|---|---|---|---|---|".into());
        for l in &self.per_label {
            line(format!(
                "| {} | {} | {} | {} | {} | {} |",
                l.label.replace('|', "\\|"),
                l.count,
                pct(l.recall),
                l.predicted,
                opt_pct(l.precision),
                confusions(&l.confused, usize::MAX).replace('|', "\\|")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, title: &str, text: &str) -> Row {
        Row { label: label.into(), title: title.into(), text: text.into() }
    }

    /// Three labels with words of their own, five rows each.
    fn separable() -> Vec<Row> {
        let topics = [
            ("61.20", ["Bauantrag", "Baugenehmigung", "Bebauungsplan", "Dachgeschoss", "Garage"]),
            ("32.10", ["Parkverstoß", "Gewerbeanmeldung", "Lärmbelästigung", "Straßenfest", "Hundesteuer"]),
            ("50.01", ["Wohngeld", "Grundsicherung", "Pflegegeld", "Bildungspaket", "Sozialhilfe"]),
        ];
        let mut rows = Vec::new();
        for i in 0..5 {
            for (label, words) in &topics {
                let text = format!(
                    "Sehr geehrte Damen und Herren, es geht um {} und {} sowie {}. Mit freundlichen Grüßen",
                    words[i],
                    words[(i + 1) % 5],
                    words[(i + 2) % 5]
                );
                rows.push(row(label, &format!("Schreiben {i}"), &text));
            }
        }
        rows
    }

    #[test]
    fn rows_from_jsonl_skips_rows_without_a_label() {
        let text = concat!(
            "{\"office\": \"Kulturamt\", \"title\": \"Theater\", \"text\": \"Spielplan\"}\n",
            "{\"office\": null, \"title\": \"ohne\", \"text\": \"x\"}\n",
            "\n",
            "{\"title\": \"fehlt\", \"text\": \"x\"}\n",
            "{\"office\": \"  \", \"title\": \"leer\"}\n",
            "{\"office\": \"Tiefbauamt\", \"title\": null}\n",
        );
        let rows = rows_from_jsonl(text, "office").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].label.as_str(), rows[0].title.as_str(), rows[0].text.as_str()),
            ("Kulturamt", "Theater", "Spielplan")
        );
        assert_eq!((rows[1].label.as_str(), rows[1].title.as_str(), rows[1].text.as_str()), ("Tiefbauamt", "", ""));
    }

    #[test]
    fn rows_from_jsonl_names_the_bad_line() {
        let text = "{\"office\": \"A\", \"text\": \"x\"}\n\n{\"office\": \"B\", \"text\": \n";
        let e = rows_from_jsonl(text, "office").unwrap_err();
        assert!(matches!(e, EvalError::Json { line: 3, .. }), "{e:?}");
        assert!(e.to_string().starts_with("line 3: not valid JSON"), "{e}");
        let e = rows_from_jsonl("[1, 2]\n", "office").unwrap_err();
        assert!(matches!(e, EvalError::NotAnObject { line: 1 }), "{e:?}");
        let e = rows_from_jsonl("{\"office\": \"A\"}\n{\"office\": 7}\n", "office").unwrap_err();
        assert_eq!(e.to_string(), "line 2: field `office` is a number; it must be a string or null");
        let e = rows_from_jsonl("{\"office\": \"A\", \"text\": [\"x\"]}\n", "office").unwrap_err();
        assert!(
            matches!(e, EvalError::FieldType { line: 1, ref field, found: "an array" } if field == "text"),
            "{e:?}"
        );
        let e = rows_from_jsonl("{\"amt\": \"A\"}\n", "office").unwrap_err();
        assert!(matches!(e, EvalError::NoLabels { .. }), "{e:?}");
    }

    #[test]
    fn mask_labels_removes_the_own_label_ignoring_case() {
        let mut rows = vec![
            row(
                "Stadtplanungsamt",
                "STADTPLANUNGSAMT: Bebauungsplan",
                "Das Stadtplanungsamt und das stadtplanungsamt-Team; Tiefbauamt bleibt",
            ),
            row("Tiefbauamt", "Brücke", "Tiefbauamt, Stadtplanungsamt"),
        ];
        mask_labels(&mut rows);
        assert_eq!(rows[0].title, " : Bebauungsplan");
        assert_eq!(rows[0].text, "Das   und das  -Team; Tiefbauamt bleibt");
        assert_eq!(rows[1].text, " , Stadtplanungsamt");
        let mut umlaut = vec![row("Sozial- und Jugendbehörde", "", "SOZIAL- UND JUGENDBEHÖRDE (x.y)")];
        mask_labels(&mut umlaut);
        assert_eq!(umlaut[0].text, "  (x.y)");
    }

    #[test]
    fn cross_validate_separates_a_separable_set() {
        let rows = separable();
        let mut calls = Vec::new();
        let options = Options { folds: 5, seed: 1, threshold: 0.5 };
        let report = cross_validate(&rows, &options, &mut |done, folds| calls.push((done, folds))).unwrap();
        assert_eq!(calls, [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);
        assert_eq!((report.rows, report.labels, report.folds), (15, 3, 5));
        assert_eq!(report.top1, 1.0, "{report}");
        assert_eq!(report.top3, 1.0);
        assert_eq!(report.per_fold.iter().map(|f| f.rows).sum::<usize>(), 15);
        // Stratified: each fold holds one row of each label.
        assert!(report.per_fold.iter().all(|f| f.rows == 3));
        for l in &report.per_label {
            assert_eq!((l.count, l.recall, l.predicted, l.precision), (5, 1.0, 5, Some(1.0)), "{}", l.label);
            assert!(l.confused.is_empty());
        }
        assert!(report.coverage > 0.0 && report.precision == Some(1.0), "{report}");
        let again = cross_validate(&rows, &options, &mut |_, _| {}).unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&report).unwrap(), "deterministic");
        let text = report.to_string();
        assert!(text.contains("top-1 100.0 %, top-3 100.0 %"), "{text}");
        let md = report.to_markdown();
        assert!(md.contains("| top-1 | 100.0 % |"), "{md}");
        assert!(md.contains("| label | rows | recall | named first | precision | mistaken for |"), "{md}");
    }

    #[test]
    fn cross_validate_reports_confusions() {
        // Two labels that share every word cannot be told apart: whatever
        // the model names, the confusions add up.
        let mut rows = separable();
        for (i, r) in rows.iter_mut().enumerate().filter(|(_, r)| r.label == "50.01") {
            if i % 2 == 0 {
                r.label = "50.02".into();
            }
        }
        let report = cross_validate(&rows, &Options { folds: 2, seed: 9, threshold: 0.9 }, &mut |_, _| {}).unwrap();
        assert!(report.top1 < 1.0, "{report}");
        let wrong: usize = report.per_label.iter().flat_map(|l| &l.confused).map(|c| c.count).sum();
        assert_eq!(wrong, ((1.0 - report.top1) * 15.0).round() as usize);
        assert!(report.to_markdown().contains("50.0"));
    }

    #[test]
    fn folds_are_stratified_shuffled_and_deterministic() {
        // 3 labels with 7, 4 and 1 rows, interleaved.
        let labels = ["a", "b", "a", "c", "a", "b", "a", "a", "b", "a", "b", "a"];
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, l) in labels.iter().enumerate() {
            groups.entry(l).or_default().push(i);
        }
        let folds = assign_folds(&groups, labels.len(), 3, 1);
        for f in 0..3 {
            assert_eq!(folds.iter().filter(|&&x| x == f).count(), 4, "fold sizes: {folds:?}");
            let a = (0..labels.len()).filter(|&i| labels[i] == "a" && folds[i] == f).count();
            let b = (0..labels.len()).filter(|&i| labels[i] == "b" && folds[i] == f).count();
            assert!((2..=3).contains(&a) && (1..=2).contains(&b), "labels spread: {folds:?}");
        }
        assert_eq!(assign_folds(&groups, labels.len(), 3, 1), folds);
        let others: Vec<Vec<usize>> = (2..6).map(|seed| assign_folds(&groups, labels.len(), 3, seed)).collect();
        assert!(others.iter().any(|o| *o != folds), "the seed shuffles");
    }

    #[test]
    fn cross_validate_refuses_what_it_cannot_do() {
        let rows = separable();
        let run = |rows: &[Row], folds, threshold| {
            cross_validate(rows, &Options { folds, seed: 1, threshold }, &mut |_, _| {}).unwrap_err()
        };
        assert!(matches!(run(&rows, 1, 0.5), EvalError::TooFewFolds { folds: 1 }));
        assert!(matches!(run(&rows[..3], 5, 0.5), EvalError::TooFewRows { rows: 3, folds: 5 }));
        let one: Vec<Row> = rows.iter().filter(|r| r.label == "61.20").cloned().collect();
        assert!(matches!(run(&one, 2, 0.5), EvalError::OneLabel { .. }));
        assert!(matches!(run(&rows, 5, 1.5), EvalError::Threshold { .. }));
        assert!(matches!(run(&rows, 5, f32::NAN), EvalError::Threshold { .. }));
    }
}
