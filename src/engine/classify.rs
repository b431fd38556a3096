//! The engine's side of classification: the Posteingang (list, file,
//! forward, discard, dispose), `akten classify`, and the learned model as
//! derived state.
//!
//! The model lives in `<store>/classifier/model.bin`, stamped with the
//! catalog's training count (filings by people). A model whose stamp differs
//! from the catalog's count is rebuilt from the catalog before it is used, so
//! a lost or stale file costs time, never correctness. After a commit that
//! counts filings, a model that was current learns them incrementally.

use std::path::PathBuf;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{AkteSummary, DocSummary, Engine, Error, Place, Response, doc_ref, doc_summary};
use crate::audit::{Change, NewEvent};
use crate::catalog::{Discard, Forwarding, PostItem};
use crate::classify::model::{Example, Model};
use crate::classify::rules::Rules;
use crate::classify::{
    Classification, Classifier, Decision, FileTo, Input, Known, KnownAkte, KnownVorgang, Suggestion, Target,
};
use crate::model::{Actor, DocId, Dokument, Filing, Kennzeichen, Location, OrgUnit};

/// The model file inside the store.
const MODEL_DIR: &str = "classifier";
const MODEL_FILE: &str = "model.bin";
const MODEL_MAGIC: &[u8; 8] = b"AKTENCL1";
/// Below this many filings by people the model's guesses are noise: it
/// makes no suggestions yet.
const MIN_MODEL_EXAMPLES: usize = 10;

/// The model in memory and the training count it reflects.
pub(super) struct LoadedModel {
    model: Model,
    seq: u64,
    /// Learned since it was last written.
    dirty: bool,
}

/// Where an incoming document goes, as classification decided.
pub(crate) struct Triage {
    pub location: Location,
    pub filing: Option<Filing>,
    /// Set when it waits in the Posteingang.
    pub item: Option<(Vec<Suggestion>, String, Option<OrgUnit>)>,
    pub external_reference: Option<String>,
}

/// A Posteingang item as lists show it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostEntry {
    #[serde(flatten)]
    pub doc: DocSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<OrgUnit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded: Vec<Forwarding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded: Option<Discard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
}

/// How a person files a Posteingang item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum FileChoice {
    /// An Aktenzeichen or Vorgangszeichen.
    To { target: String },
    /// The top suggestion.
    Accept,
    /// A new Akte at a plan position.
    NewAkte { position: String, title: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FiledReport {
    pub doc: DocSummary,
    pub to: Place,
    /// The Akte opened for it, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<AkteSummary>,
    /// Whether the person followed the top suggestion.
    pub followed_suggestion: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DisposeReport {
    pub dry_run: bool,
    pub disposed: Vec<DisposedItem>,
    /// Discarded items still in their keep period.
    pub waiting: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DisposedItem {
    pub doc: DocId,
    pub title: String,
    pub reason: String,
    pub discarded_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassifyReport {
    pub title: String,
    /// The document classified, when it was one of the store's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<DocId>,
    pub classification: Classification,
    /// Human-confirmed filings the model learned from.
    pub model_examples: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainReport {
    pub examples: usize,
    pub positions: usize,
    pub millis: u64,
    pub file: PathBuf,
    pub bytes: u64,
}

impl Engine {
    fn model_path(&self) -> PathBuf {
        self.root().join(MODEL_DIR).join(MODEL_FILE)
    }

    /// The human-confirmed filings, as training examples (label, title, text).
    fn training_set(&self) -> Result<Vec<(String, String, String)>, Error> {
        let mut positions = std::collections::HashMap::new();
        let mut out = Vec::new();
        // In filing order: training depends on the order of its examples,
        // and ids are random.
        let mut docs = self.catalog.docs()?;
        docs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        for doc in docs {
            if !Filing::human_confirmed(&doc) {
                continue;
            }
            let Some(akte) = doc.location.akte() else { continue };
            let position = match positions.get(&akte) {
                Some(p) => p,
                None => {
                    let Some(a) = self.catalog.akte(&akte)? else { continue };
                    positions.entry(akte).or_insert(a.position)
                }
            };
            let text = self.catalog.text(&doc.id, doc.current().number)?.unwrap_or_default();
            out.push((position.to_string(), doc.title, text));
        }
        Ok(out)
    }

    /// Rebuilds the model from the catalog and writes it.
    pub(super) fn classify_train(&mut self) -> Result<Response, Error> {
        let started = std::time::Instant::now();
        let examples = self.rebuild_model()?;
        let loaded = self.model.as_ref().expect("rebuild_model sets the model");
        let positions = loaded.model.labels().len();
        let bytes = self.save_model(&loaded.model, loaded.seq)?;
        Ok(Response::Trained(TrainReport {
            examples,
            positions,
            millis: started.elapsed().as_millis() as u64,
            file: self.model_path(),
            bytes,
        }))
    }

    /// Trains the model on every filing by a person; returns how many.
    fn rebuild_model(&mut self) -> Result<usize, Error> {
        self.progress.report("reading filed documents", 0, 1);
        let seq = self.catalog.training_seq()?;
        let set = self.training_set()?;
        self.progress.report("training the classifier", 0, set.len() as u64);
        let examples: Vec<Example<'_>> =
            set.iter().map(|(label, title, text)| Example { label, title, text }).collect();
        let model = Model::train(&examples);
        self.progress.report("training the classifier", set.len() as u64, set.len() as u64);
        self.model = Some(LoadedModel { model, seq, dirty: false });
        Ok(set.len())
    }

    fn save_model(&self, model: &Model, seq: u64) -> Result<u64, Error> {
        let path = self.model_path();
        let dir = path.parent().expect("model path has a parent");
        let io = |e: std::io::Error| Error::Input { path: path.clone(), problem: format!("cannot be written: {e}") };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut bytes = Vec::with_capacity(1 << 20);
        bytes.extend_from_slice(MODEL_MAGIC);
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&model.to_bytes());
        let tmp = dir.join(format!("{MODEL_FILE}.tmp"));
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(bytes.len() as u64)
    }

    /// The model file, if it is there, readable and current.
    fn read_model(&self, seq: u64) -> Option<Model> {
        let bytes = std::fs::read(self.model_path()).ok()?;
        if bytes.len() < 16 || &bytes[..8] != MODEL_MAGIC {
            return None;
        }
        let stamp = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
        if stamp != seq {
            return None;
        }
        Model::from_bytes(&bytes[16..]).ok()
    }

    /// Makes `self.model` current: kept, read from disk, or rebuilt.
    fn ensure_model(&mut self) -> Result<(), Error> {
        let seq = self.catalog.training_seq()?;
        if self.model.as_ref().is_some_and(|m| m.seq == seq) {
            return Ok(());
        }
        if let Some(model) = self.read_model(seq) {
            self.model = Some(LoadedModel { model, seq, dirty: false });
            return Ok(());
        }
        self.rebuild_model()?;
        // Written once the request is done; a failure to write costs the
        // next process a rebuild, not this request.
        if let Some(loaded) = self.model.as_mut() {
            loaded.dirty = true;
        }
        Ok(())
    }

    /// After a commit that counted `docs` as filings by people: a current
    /// model learns them; a stale one is left to be rebuilt when needed.
    pub(super) fn learn_filed(&mut self, docs: &[DocId]) -> Result<(), Error> {
        if docs.is_empty() {
            return Ok(());
        }
        let seq = self.catalog.training_seq()?;
        let before = seq.saturating_sub(docs.len() as u64);
        if self.model.as_ref().is_none_or(|m| m.seq != before) {
            self.model = self.read_model(before).map(|model| LoadedModel { model, seq: before, dirty: false });
        }
        let Some(mut loaded) = self.model.take() else { return Ok(()) };
        for id in docs {
            let Some(doc) = self.catalog.doc(id)? else { continue };
            let Some(akte) = doc.location.akte().and_then(|a| self.catalog.akte(&a).ok().flatten()) else { continue };
            let text = self.catalog.text(&doc.id, doc.current().number)?.unwrap_or_default();
            let label = akte.position.to_string();
            loaded.model.learn(&Example { label: &label, title: &doc.title, text: &text });
        }
        loaded.seq = seq;
        loaded.dirty = true;
        self.model = Some(loaded);
        Ok(())
    }

    /// Writes the model if it learned something: once per request or intake,
    /// not per document. Derived state: if it cannot be written, the next
    /// process rebuilds it from the catalog.
    pub(crate) fn save_learned(&mut self) {
        let Some(mut loaded) = self.model.take() else { return };
        if loaded.dirty {
            loaded.dirty = false;
            if self.save_model(&loaded.model, loaded.seq).is_err() {
                return;
            }
        }
        self.model = Some(loaded);
    }

    fn known(&self) -> Result<Known, Error> {
        let mut akten = Vec::new();
        let mut open_akten = std::collections::HashMap::new();
        for a in self.catalog.akten()? {
            open_akten.insert(a.id, (a.aktenzeichen.clone(), a.zda.is_none()));
            akten.push(KnownAkte {
                aktenzeichen: a.aktenzeichen.clone(),
                title: a.title.clone(),
                position: a.position.clone(),
                open: a.zda.is_none(),
                opened_year: a.year,
            });
        }
        let mut vorgaenge = Vec::new();
        for (_, id) in self.catalog.vz_index()? {
            let Some(v) = self.catalog.vorgang(&id)? else { continue };
            let Some((az, akte_open)) = open_akten.get(&v.akte) else { continue };
            vorgaenge.push(KnownVorgang {
                vorgangszeichen: v.vorgangszeichen.clone(),
                akte: az.clone(),
                title: v.title.clone(),
                open: *akte_open && v.zda.is_none(),
            });
        }
        Ok(Known::new(akten, vorgaenge))
    }

    /// Classifies documents in one go (one model, one view of the Akten).
    pub(crate) fn classify_inputs(&mut self, inputs: &[Input<'_>]) -> Result<Vec<Classification>, Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        self.ensure_model()?;
        let known = self.known()?;
        let rules = self.compiled_rules();
        let keys = self.keys.clone();
        let policy = self.config().classify.policy();
        let year = self.calendar.date_of(Timestamp::now()).year();
        let classifier = Classifier {
            plan: &self.plan,
            rules: &rules,
            keys: &keys,
            known: &known,
            model: self
                .model
                .as_ref()
                .map(|m| &m.model)
                .filter(|m| m.examples() >= MIN_MODEL_EXAMPLES && m.labels().len() >= 2),
            policy: &policy,
            year,
        };
        Ok(inputs.iter().map(|i| classifier.classify(i)).collect())
    }

    /// The plan's rules, compiled once per plan.
    fn compiled_rules(&mut self) -> std::sync::Arc<Rules> {
        self.rules.get_or_insert_with(|| std::sync::Arc::new(Rules::new(&self.plan))).clone()
    }

    /// Turns a classification into a place: files it where the policy lets
    /// akten decide (opening a yearly collective Akte if needed), else the
    /// Posteingang with its suggestions.
    pub(crate) fn triage(&mut self, c: Classification, actor: &Actor) -> Result<Triage, Error> {
        let external_reference = c.external_reference;
        let why = match c.decision {
            Decision::Wait { why } => why,
            Decision::File { to, by, reasons } => {
                let location = match &to {
                    FileTo::Akte { aktenzeichen } => self.resolve_target(aktenzeichen.as_str()),
                    FileTo::Vorgang { vorgangszeichen } => self.resolve_target(vorgangszeichen.as_str()),
                    FileTo::NewAkte { position, title } => self.open_yearly(position, title, actor).map(|(l, _)| l),
                };
                match location.and_then(|l| self.ensure_open(&l).map(|()| l)) {
                    Ok(location) => {
                        let filing = Some(Filing { by: by.filed_by(), reasons });
                        return Ok(Triage { location, filing, item: None, external_reference });
                    }
                    Err(e) => format!("akten would have filed it by {} but could not: {e}", by.as_str()),
                }
            }
        };
        Ok(Triage {
            location: Location::Posteingang,
            filing: None,
            item: Some((c.suggestions, why, c.unit)),
            external_reference,
        })
    }

    /// The yearly collective Akte at `position` for this year, opened by
    /// akten (audited like any other) if there is none yet; the summary is
    /// set when it was opened now.
    fn open_yearly(
        &mut self,
        position: &Kennzeichen,
        title: &str,
        actor: &Actor,
    ) -> Result<(Location, Option<AkteSummary>), Error> {
        let year = self.calendar.date_of(Timestamp::now()).year();
        if let Some(a) =
            self.catalog.akten()?.into_iter().find(|a| a.position == *position && a.zda.is_none() && a.year == year)
        {
            return Ok((Location::Akte { akte: a.id }, None));
        }
        match self.akte_open(position.as_str(), title, actor)? {
            Response::AkteOpened(summary) => Ok((Location::Akte { akte: summary.id }, Some(summary))),
            _ => unreachable!("akte_open answers AkteOpened"),
        }
    }

    /// The Posteingang record for a document that waits there.
    pub(crate) fn post_item(doc: DocId, triage: &Triage, now: Timestamp) -> Option<PostItem> {
        let (suggestions, why, unit) = triage.item.clone()?;
        Some(PostItem { suggestions, why, unit, ..PostItem::new(doc, now) })
    }

    pub(super) fn posteingang_list(&self, unit: Option<&str>, discarded: bool) -> Result<Response, Error> {
        let unit = unit.map(|u| self.resolve_unit(u)).transpose()?;
        let location = if discarded { Location::Discarded } else { Location::Posteingang };
        let mut out = Vec::new();
        for doc in self.catalog.docs_in(&location)? {
            let item = self.catalog.post_item(&doc.id)?;
            let item_unit = item.as_ref().and_then(|i| i.unit.clone());
            if unit.is_some() && item_unit != unit {
                continue;
            }
            out.push(PostEntry {
                doc: doc_summary(&doc),
                unit_name: item_unit.as_ref().and_then(|u| self.plan.unit_name(u)).map(str::to_string),
                unit: item_unit,
                suggestions: item.as_ref().map(|i| i.suggestions.clone()).unwrap_or_default(),
                why: item.as_ref().map(|i| i.why.clone()),
                forwarded: item.as_ref().map(|i| i.forwarded.clone()).unwrap_or_default(),
                discarded: item.and_then(|i| i.discarded),
                external_reference: doc.external_reference.clone(),
            });
        }
        out.sort_by(|a, b| a.doc.received.cmp(&b.doc.received).then_with(|| a.doc.title.cmp(&b.doc.title)));
        Ok(Response::Posteingang { documents: out, discarded })
    }

    fn resolve_unit(&self, text: &str) -> Result<OrgUnit, Error> {
        let text = text.trim();
        if let Some((unit, _)) =
            self.plan.units.iter().find(|(u, name)| u.as_str() == text || name.eq_ignore_ascii_case(text))
        {
            return Ok(unit.clone());
        }
        let known: Vec<String> = self.plan.units.iter().map(|(u, n)| format!("{u} ({n})")).collect();
        Err(Error::BadRequest(format!(
            "no organisational unit '{text}' in the file plan: give one of {}",
            known.join(", ")
        )))
    }

    /// A document waiting in the Posteingang, with its record (made up for
    /// documents from before records were kept).
    fn waiting_item(&self, item: &str) -> Result<(Dokument, PostItem), Error> {
        let doc = self.resolve_doc(item)?;
        if doc.location != Location::Posteingang {
            return Err(Error::BadRequest(format!(
                "document {} is not in the Posteingang but in {}: use `akten move` to refile it",
                doc.id,
                self.place(&doc.location)?.label()
            )));
        }
        let record = self.catalog.post_item(&doc.id)?.unwrap_or_else(|| PostItem::new(doc.id, doc.created_at));
        Ok((doc, record))
    }

    pub(super) fn posteingang_file(
        &mut self,
        item: &str,
        choice: &FileChoice,
        actor: &Actor,
    ) -> Result<Response, Error> {
        let (doc, record) = self.waiting_item(item)?;
        let mut opened = None;
        let (location, followed) = match choice {
            FileChoice::To { target } => {
                let location = self.resolve_target(target)?;
                let followed = record.suggestions.first().is_some_and(|s| self.points_to(s, &location));
                (location, followed)
            }
            FileChoice::Accept => {
                let top = record.suggestions.first().ok_or_else(|| {
                    Error::BadRequest(format!(
                        "document {} has no suggestion to accept: file it with --to AZ or --new-akte CODE --title T",
                        doc.id
                    ))
                })?;
                let location = match &top.target {
                    Target::Akte { aktenzeichen } => self.resolve_target(aktenzeichen.as_str())?,
                    Target::Vorgang { vorgangszeichen } => self.resolve_target(vorgangszeichen.as_str())?,
                    Target::Position { akte: Some(az), .. } => self.resolve_target(az.as_str())?,
                    Target::Position { kennzeichen, akte: None } => {
                        // The suggestion was made on arrival; Akten opened
                        // since count now.
                        let year = self.calendar.date_of(Timestamp::now()).year();
                        let p = self
                            .plan
                            .position(kennzeichen)
                            .ok_or_else(|| Error::UnknownPosition { code: kennzeichen.to_string() })?;
                        if p.yearly_collective {
                            let title = format!("{} {year}", p.title);
                            let (location, new) = self.open_yearly(kennzeichen, &title, actor)?;
                            opened = new;
                            location
                        } else {
                            let open: Vec<crate::model::Akte> = self
                                .catalog
                                .akten()?
                                .into_iter()
                                .filter(|a| a.position == *kennzeichen && a.zda.is_none())
                                .collect();
                            let [only] = open.as_slice() else {
                                return Err(Error::BadRequest(format!(
                                    "the top suggestion is position {kennzeichen}, which has {} open Akten: file with --to AZ (see `akten akte list --plan {kennzeichen} --open`) or --new-akte {kennzeichen} --title T",
                                    open.len()
                                )));
                            };
                            Location::Akte { akte: only.id }
                        }
                    }
                };
                (location, true)
            }
            FileChoice::NewAkte { position, title } => {
                let Response::AkteOpened(summary) = self.akte_open(position, title, actor)? else {
                    unreachable!("akte_open answers AkteOpened")
                };
                let location = Location::Akte { akte: summary.id };
                let followed = record.suggestions.first().is_some_and(|s| s.position.as_str() == position.trim());
                opened = Some(summary);
                (location, followed)
            }
        };
        self.ensure_open(&location)?;
        for v in &doc.versions {
            if let Some(existing) = self.duplicate_in(&location, &v.blob)? {
                return Err(Error::Duplicate { existing: existing.id, place: self.place(&location)? });
            }
        }
        let to = self.place(&location)?;
        let now = Timestamp::now();
        let mut new = doc.clone();
        new.location = location;
        new.filing = Some(Filing::person());
        let mut txn = self.catalog.txn()?;
        txn.put_doc(&new, Some(&doc));
        txn.remove_post_item(&doc.id);
        txn.count_training(1);
        let mut changes = vec![Change::new("ort", "Posteingang", to.label())];
        if let Some(top) = record.suggestions.first() {
            changes.push(Change::new("vorschlag", None::<String>, top.target.label()));
        }
        changes.push(Change::new("vorschlag_befolgt", None::<bool>, followed));
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "posteingang.file".into(),
            object: doc_ref(&new),
            related: self.location_refs(&location)?,
            changes,
        });
        txn.commit()?;
        self.learn_filed(&[new.id])?;
        Ok(Response::PosteingangFiled(FiledReport {
            doc: doc_summary(&new),
            to,
            opened,
            followed_suggestion: followed,
        }))
    }

    fn points_to(&self, s: &Suggestion, location: &Location) -> bool {
        let az = location.akte().and_then(|a| self.catalog.akte(&a).ok().flatten()).map(|a| a.aktenzeichen);
        match &s.target {
            Target::Akte { aktenzeichen } => az.as_ref() == Some(aktenzeichen),
            Target::Vorgang { vorgangszeichen } => matches!(location, Location::Vorgang { vorgang, .. }
                if self.catalog.vorgang(vorgang).ok().flatten().is_some_and(|v| v.vorgangszeichen == *vorgangszeichen)),
            Target::Position { kennzeichen, .. } => location
                .akte()
                .and_then(|a| self.catalog.akte(&a).ok().flatten())
                .is_some_and(|a| a.position == *kennzeichen),
        }
    }

    pub(super) fn posteingang_forward(
        &mut self,
        item: &str,
        unit: &str,
        note: Option<&str>,
        actor: &Actor,
    ) -> Result<Response, Error> {
        let (doc, mut record) = self.waiting_item(item)?;
        let to = self.resolve_unit(unit)?;
        if record.unit.as_ref() == Some(&to) {
            return Err(Error::BadRequest(format!("document {} is already with unit {to}", doc.id)));
        }
        let now = Timestamp::now();
        let from = record.unit.clone();
        record.forwarded.push(Forwarding {
            from: from.clone(),
            to: to.clone(),
            by: actor.clone(),
            at: now,
            note: note.map(str::to_string).filter(|n| !n.trim().is_empty()),
        });
        record.unit = Some(to.clone());
        let mut txn = self.catalog.txn()?;
        txn.put_post_item(&record);
        let mut changes = vec![Change::new("oe", from.as_ref().map(|u| u.to_string()), to.to_string())];
        if let Some(note) = note {
            changes.push(Change::new("notiz", None::<String>, note));
        }
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "posteingang.forward".into(),
            object: doc_ref(&doc),
            related: vec![],
            changes,
        });
        txn.commit()?;
        Ok(Response::PosteingangForwarded {
            doc: doc_summary(&doc),
            from,
            unit_name: self.plan.unit_name(&to).map(str::to_string),
            to,
        })
    }

    pub(super) fn posteingang_discard(&mut self, item: &str, reason: &str, actor: &Actor) -> Result<Response, Error> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::BadRequest(
                "say why it belongs nowhere: --reason \"advert\", \"misdelivered\", \"personal\", ...".into(),
            ));
        }
        let (doc, mut record) = self.waiting_item(item)?;
        let now = Timestamp::now();
        let days = self.config().classify.discard_keep_days;
        let today = self.calendar.date_of(now);
        let dispose_from = today.checked_add(jiff::Span::new().days(i64::from(days))).unwrap_or(today);
        let discard = Discard { reason: reason.to_string(), by: actor.clone(), at: now, dispose_from };
        record.discarded = Some(discard.clone());
        let mut new = doc.clone();
        new.location = Location::Discarded;
        let mut txn = self.catalog.txn()?;
        txn.put_doc(&new, Some(&doc));
        txn.put_post_item(&record);
        txn.record(NewEvent {
            at: now,
            actor: actor.clone(),
            action: "posteingang.discard".into(),
            object: doc_ref(&new),
            related: vec![],
            changes: vec![
                Change::new("ort", "Posteingang", Place::Discarded.label()),
                Change::new("grund", None::<String>, reason),
                Change::new("vernichtung_ab", None::<String>, dispose_from.to_string()),
            ],
        });
        txn.commit()?;
        Ok(Response::PosteingangDiscarded { doc: doc_summary(&new), reason: reason.to_string(), dispose_from })
    }

    /// Disposes of discarded items whose keep period has ended: the document
    /// and its texts go, an audit event records what it was and why; its
    /// blobs go with the next `gc` unless other documents use them.
    pub(super) fn posteingang_dispose(&mut self, dry_run: bool, actor: &Actor) -> Result<Response, Error> {
        let now = Timestamp::now();
        let today = self.calendar.date_of(now);
        let mut disposed = Vec::new();
        let mut waiting = 0;
        for doc in self.catalog.docs_in(&Location::Discarded)? {
            let Some(item) = self.catalog.post_item(&doc.id)? else { continue };
            let Some(discard) = &item.discarded else { continue };
            if discard.dispose_from > today {
                waiting += 1;
                continue;
            }
            disposed.push(DisposedItem {
                doc: doc.id,
                title: doc.title.clone(),
                reason: discard.reason.clone(),
                discarded_at: discard.at,
            });
            if dry_run {
                continue;
            }
            let mut txn = self.catalog.txn()?;
            txn.delete_doc(&doc);
            let mut changes = vec![
                Change::new("titel", &doc.title, None::<String>),
                Change::new("grund", None::<String>, &discard.reason),
                Change::new("verworfen_von", None::<String>, discard.by.to_string()),
                Change::new("verworfen_am", None::<String>, discard.at.to_string()),
            ];
            for v in &doc.versions {
                changes.push(Change::new(&format!("blob_v{}", v.number), v.blob.to_hex(), None::<String>));
            }
            txn.record(NewEvent {
                at: now,
                actor: actor.clone(),
                action: "dokument.dispose".into(),
                object: doc_ref(&doc),
                related: vec![],
                changes,
            });
            txn.commit()?;
        }
        Ok(Response::PosteingangDisposed(DisposeReport { dry_run, disposed, waiting }))
    }

    /// `akten classify DOC` or a file not in the store.
    pub(super) fn classify_request(
        &mut self,
        doc: Option<&str>,
        file: Option<&std::path::Path>,
    ) -> Result<Response, Error> {
        let (title, text, sender, id) = match (doc, file) {
            (Some(d), None) => {
                let doc = self.resolve_doc(d)?;
                let text = self.catalog.text(&doc.id, doc.current().number)?.unwrap_or_default();
                (doc.title.clone(), text, doc.sender.clone(), Some(doc.id))
            }
            (None, Some(path)) => {
                let (mut input, _) = self.open_request_input(path)?;
                let mut head = vec![0u8; 512];
                let n = std::io::Read::read(&mut input, &mut head)
                    .map_err(|e| Error::Input { path: path.to_path_buf(), problem: format!("cannot be read: {e}") })?;
                head.truncate(n);
                let name = super::file_name_of(path);
                let media = crate::media::sniff(&head, &name);
                let real = self.input_base.join(path);
                let extraction = self.extractor.extract(&real, media);
                if let crate::model::TextStatus::Failed(reason) = &extraction.status {
                    return Err(Error::Input {
                        path: path.to_path_buf(),
                        problem: format!("its text cannot be read: {reason}"),
                    });
                }
                (super::title_from(path), extraction.text, None, None)
            }
            _ => return Err(Error::BadRequest("give a document id or a file to classify".into())),
        };
        let input = Input { title: &title, text: &text, sender: sender.as_deref(), cover: None };
        let classification = self.classify_inputs(&[input])?.remove(0);
        let model_examples = self.model.as_ref().map_or(0, |m| m.model.examples());
        Ok(Response::Classified(ClassifyReport { title, doc: id, classification, model_examples }))
    }
}
