//! The engine's mailroom side: one inbox file taken in,
//! the failed/ folder listed and retried, cover sheets resolved.
//!
//! One file, exactly once, in three steps: [`Engine::intake_prepare`]
//! (under the engine's lock) stages and hashes the bytes; a file whose hash
//! has an intake record was taken in already and is only to be removed, one
//! whose hash is being read right now waits; otherwise the blob is made
//! durable. [`Prepared::read`] (without the lock, in a worker of the
//! caller's) reads the text, finds cover sheets and writes the parts of a
//! batch. [`Engine::intake_finish`] (under the lock) counts a crashed read
//! as an attempt, or stages the parts and puts every document, its text,
//! its scan record, the audit events and the intake record into one catalog
//! commit. The caller removes the file only after that commit returned.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Engine, Error, Place, Response, doc_ref, file_name_of, title_from};
use crate::audit::{Change, NewEvent, ObjectKind, ObjectRef};
use crate::catalog::IntakeRecord;
use crate::coversheet::CoverTarget;
use crate::extract::{Method, ScanPart, method_for};
use crate::intake::{self, StationConfig, mailroom};
use crate::model::{
    Actor, BlobId, DocId, DocKind, Dokument, FiledBy, Filing, Location, ScanRecord, TextStatus, Version,
};

/// What became of one inbox file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IntakeOutcome {
    /// Filed or placed in the Posteingang; remove the file.
    Taken { blob: BlobId, docs: Vec<IntakeDoc>, cover_sheets: usize },
    /// The same bytes were taken in before; remove the file.
    AlreadyTaken { blob: BlobId, taken_at: Timestamp, docs: Vec<DocId> },
    /// The text reader crashed or hung; try again later.
    Retry { reason: String, attempt: u32 },
    /// Cannot be taken: move it to failed/ with this reason.
    Failed { reason: String },
    /// The file disappeared before it could be read.
    Gone,
    /// A file with the same bytes is being taken in right now; look again
    /// later (it will then be "already taken").
    Busy,
}

/// The outcome of [`Engine::intake_prepare`].
pub enum Prepare {
    /// Read it ([`Prepared::read`]), then [`Engine::intake_finish`].
    Ready(Prepared),
    Done(IntakeOutcome),
}

/// A file whose blob is durable, to be read outside the engine's lock.
pub struct Prepared {
    path: PathBuf,
    blob: BlobId,
    blob_path: PathBuf,
    media_type: String,
    scanned_at: Timestamp,
    parts_dir: PathBuf,
}

impl Prepared {
    /// Step 2, without the engine's lock: the text, cover sheets and parts,
    /// read by `extractor` (a worker process of the caller's).
    pub fn read(&self, extractor: &mut crate::extract::Extractor) -> crate::extract::Extraction {
        extractor.extract_intake(&self.blob_path, &self.media_type, &self.parts_dir)
    }
}

/// One document made from an inbox file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntakeDoc {
    pub doc: DocId,
    pub title: String,
    pub place: Place,
    pub pages: (u32, u32),
    /// Why it is not where its cover sheet or station wanted it, if so.
    pub note: Option<String>,
}

/// A file in failed/.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailedFile {
    pub name: String,
    pub size: u64,
    pub failed_at: Option<String>,
    pub reason: String,
}

/// What `akten coversheet` prints: the target, checked and resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CoverSheetSpec {
    pub payload: String,
    pub akte_title: Option<String>,
    pub vorgang_title: Option<String>,
    pub position: Option<String>,
}

impl Engine {
    /// The mailroom configuration of this store.
    pub fn mailroom_config(&self) -> &intake::MailroomConfig {
        &self.store.config().mailroom
    }

    /// Brings the search index up to the catalog (after a run of intakes).
    pub fn catch_up_index(&mut self) -> Result<(), Error> {
        self.sync_index()
    }

    /// `<store>/failed`.
    pub fn failed_dir(&self) -> PathBuf {
        self.store.root().join("failed")
    }

    /// A text reader for intake beside the engine's own (the mailroom reads
    /// several files at once, outside the engine's lock), running at most
    /// `ocr_jobs` OCR processes: the readers share the cores.
    pub fn intake_extractor(&self, ocr_jobs: usize) -> crate::extract::Extractor {
        let mut config = self.store.config().extract.clone();
        config.ocr_jobs = ocr_jobs.max(1);
        crate::extract::Extractor::new(config)
    }

    /// Step 1 of an intake, under the engine's lock: stage and hash the
    /// file, check whether its bytes were taken in already (or are being
    /// taken in by another reader just now), make the blob durable.
    pub fn intake_prepare(&mut self, path: &Path) -> Result<Prepare, Error> {
        let file_name = file_name_of(path);
        let (mut file, scanned_at) = match File::open(path).and_then(|f| {
            let modified = f.metadata()?.modified()?;
            Ok((f, modified))
        }) {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Prepare::Done(IntakeOutcome::Gone)),
            Err(e) => return Ok(Prepare::Done(IntakeOutcome::Failed { reason: format!("cannot be read: {e}") })),
        };
        let scanned_at = Timestamp::try_from(scanned_at).unwrap_or_else(|_| Timestamp::now());
        let mut staged = vec![self.blobs.stage(&mut file as &mut dyn Read, path)?];
        drop(file);
        let blob = staged[0].id();
        if let Some(record) = self.catalog.intake(&blob)? {
            return Ok(Prepare::Done(IntakeOutcome::AlreadyTaken {
                blob,
                taken_at: record.taken_at,
                docs: record.docs,
            }));
        }
        if self.intake_in_flight.contains(&blob) {
            return Ok(Prepare::Done(IntakeOutcome::Busy));
        }
        let media_type = crate::media::sniff(staged[0].head(), &file_name).to_string();
        if staged[0].size() == 0 {
            return Ok(Prepare::Done(IntakeOutcome::Failed { reason: "it is empty (0 bytes)".into() }));
        }
        if method_for(&media_type) == Method::Unsupported {
            return Ok(Prepare::Done(IntakeOutcome::Failed {
                reason: format!(
                    "it is not a PDF or an image (found {media_type}): the mailroom takes scans as PDF, PNG, JPEG or TIFF; add other files with `akten add`"
                ),
            }));
        }
        self.blobs.make_durable(&mut staged)?;
        drop(staged);
        let parts_dir = self.blobs.work_dir(&format!("intake-{}", blob.short()))?;
        self.intake_in_flight.insert(blob);
        Ok(Prepare::Ready(Prepared {
            path: path.to_path_buf(),
            blob,
            blob_path: self.blobs.path_of(&blob),
            media_type,
            scanned_at,
            parts_dir,
        }))
    }

    /// Step 3, under the engine's lock: count a crash as an attempt, or file
    /// the parts in one commit. Always ends the intake of `prepared`.
    pub fn intake_finish(
        &mut self,
        prepared: Prepared,
        station: &StationConfig,
        extraction: crate::extract::Extraction,
    ) -> Result<IntakeOutcome, Error> {
        let actor = Actor::new(format!("mailroom:{}", station.name));
        // The worker parses hostile files: take from it only parts it wrote
        // into its work directory, never another path it might name.
        let stray = extraction.intake.as_ref().and_then(|scan| {
            scan.parts.iter().filter_map(|p| p.file.as_ref()).find(|f| {
                f.parent() != Some(prepared.parts_dir.as_path())
                    || !std::fs::symlink_metadata(f).is_ok_and(|m| m.file_type().is_file())
            })
        });
        if let Some(stray) = stray {
            let reason = format!(
                "the text reader named a part outside its work directory ({}); the file was not taken",
                stray.display()
            );
            self.intake_in_flight.remove(&prepared.blob);
            let _ = std::fs::remove_dir_all(&prepared.parts_dir);
            return Ok(IntakeOutcome::Failed { reason });
        }
        let result = self.take_in_read(
            &prepared.path,
            station,
            &actor,
            prepared.blob,
            &prepared.media_type,
            prepared.scanned_at,
            extraction,
        );
        self.intake_in_flight.remove(&prepared.blob);
        let _ = std::fs::remove_dir_all(&prepared.parts_dir);
        result
    }

    #[allow(clippy::too_many_arguments, reason = "the state of one intake")]
    fn take_in_read(
        &mut self,
        path: &Path,
        station: &StationConfig,
        actor: &Actor,
        blob: BlobId,
        media_type: &str,
        scanned_at: Timestamp,
        extraction: crate::extract::Extraction,
    ) -> Result<IntakeOutcome, Error> {
        let file_name = file_name_of(path);
        if extraction.stopped {
            let attempt = self.catalog.intake_attempts(&blob)? + 1;
            let mut txn = self.catalog.txn()?;
            txn.set_intake_attempts(&blob, attempt);
            txn.commit()?;
            let reason = match &extraction.status {
                TextStatus::Failed(r) => r.clone(),
                other => format!("{other:?}"),
            };
            let max = self.mailroom_config().max_attempts.max(1);
            if attempt >= max {
                return Ok(IntakeOutcome::Failed {
                    reason: format!("{}; given up after {attempt} attempts", for_failed(&reason, &file_name)),
                });
            }
            return Ok(IntakeOutcome::Retry { reason: for_failed(&reason, &file_name), attempt });
        }
        match &extraction.status {
            TextStatus::Failed(reason) => return Ok(IntakeOutcome::Failed { reason: for_failed(reason, &file_name) }),
            TextStatus::Unsupported => {
                return Ok(IntakeOutcome::Failed { reason: format!("{media_type} cannot be read by akten") });
            }
            _ => {}
        }
        let scan = extraction.intake.clone().unwrap_or_default();
        let parts: Vec<ScanPart> = if scan.parts.is_empty() && scan.cover_pages.is_empty() {
            let pages = extraction.pages.unwrap_or(1);
            vec![ScanPart { first: 1, last: pages, cover: None, file: None, text: extraction.text.clone() }]
        } else {
            scan.parts.clone()
        };
        if parts.is_empty() {
            return Ok(IntakeOutcome::Failed {
                reason: format!(
                    "it holds only cover sheets ({} pages), no document pages: scan the cover sheet together with the document behind it",
                    scan.cover_pages.len()
                ),
            });
        }

        // Each part as a blob of its own (a whole file is the blob itself).
        let whole_size = std::fs::metadata(self.blobs.path_of(&blob)).map(|m| m.len()).unwrap_or(0);
        let mut part_blobs: Vec<(BlobId, u64)> = Vec::with_capacity(parts.len());
        let mut staged = Vec::new();
        for part in &parts {
            match &part.file {
                None => part_blobs.push((blob, whole_size)),
                Some(f) => {
                    let mut file = File::open(f)
                        .map_err(|e| Error::Input { path: f.clone(), problem: format!("cannot be read: {e}") })?;
                    let s = self.blobs.stage(&mut file as &mut dyn Read, f)?;
                    part_blobs.push((s.id(), s.size()));
                    staged.push(s);
                }
            }
        }
        self.blobs.make_durable(&mut staged)?;
        drop(staged);

        let now = Timestamp::now();
        let config = self.mailroom_config().clone();
        let filed_on = self.calendar.date_of(now);
        let destroy_from = filed_on
            .checked_add(jiff::Span::new().months(i64::from(config.paper_retention_months)))
            .unwrap_or(filed_on);
        let scan_date = self.calendar.date_of(scanned_at);
        let split = parts.len() > 1 || parts[0].file.is_some();
        let titles: Vec<String> = parts
            .iter()
            .map(|part| {
                if split {
                    format!("{} (Seiten {}–{})", title_from(path), part.first, part.last)
                } else {
                    title_from(path)
                }
            })
            .collect();
        // Parts without a cover sheet or station target are classified
        // before the commit (a yearly Akte it needs is opened on its own).
        let mut routings: Vec<Routing> = parts.iter().map(|part| self.route(part, station)).collect();
        let waiting: Vec<usize> = (0..parts.len()).filter(|&i| routings[i].location == Location::Posteingang).collect();
        let inputs: Vec<crate::classify::Input<'_>> = waiting
            .iter()
            .map(|&i| crate::classify::Input { title: &titles[i], text: &parts[i].text, sender: None, cover: None })
            .collect();
        let mut triages: Vec<Option<super::classify::Triage>> = (0..parts.len()).map(|_| None).collect();
        for (&i, c) in waiting.iter().zip(self.classify_inputs(&inputs)?) {
            let triage = self.triage(c, actor)?;
            routings[i].location = triage.location;
            if let Some(f) = &triage.filing {
                routings[i].routed_by = f.by.as_str();
            }
            triages[i] = Some(triage);
        }
        let keys = self.keys.clone();
        let mut txn = self.catalog.txn()?;
        let mut docs = Vec::new();
        let mut by_people = Vec::new();
        for ((((part, &(part_blob, part_size)), routing), title), triage) in
            parts.iter().zip(&part_blobs).zip(routings).zip(titles).zip(triages)
        {
            let location = routing.location;
            let place = self.place(&location)?;
            let pages = part.last + 1 - part.first;
            let filing = match (&triage, routing.routed_by) {
                (Some(t), _) => t.filing.clone(),
                (None, "cover sheet") => Some(Filing { by: FiledBy::CoverSheet, reasons: vec!["cover sheet".into()] }),
                (None, "station") => Some(Filing {
                    by: FiledBy::Station,
                    reasons: vec![format!("default target of station {}", station.name)],
                }),
                _ => None,
            };
            let external_reference = match &triage {
                Some(t) => t.external_reference.clone(),
                None => crate::classify::cite::scan(&part.text, &keys).external,
            };
            let part_file_name = if split {
                format!("{}-s{}-{}.pdf", title_from(path), part.first, part.last)
            } else {
                file_name.clone()
            };
            let text_info = crate::model::TextInfo {
                status: if part.text.trim().is_empty() && extraction.status == TextStatus::Ok {
                    TextStatus::Empty
                } else {
                    extraction.status.clone()
                },
                chars: part.text.chars().count() as u64,
                pages: Some(pages),
                ocr_pages: if extraction.ocr_pages > 0 { pages.min(extraction.ocr_pages) } else { 0 },
                ocr_language: extraction.ocr_language.clone(),
                extracted_at: now,
            };
            let doc = Dokument {
                id: DocId::new_random(),
                title,
                kind: routing.kind,
                received: routing.received.unwrap_or(scan_date),
                location,
                channel: "scan".into(),
                sender: None,
                date: None,
                created_at: now,
                external_reference,
                filing,
                versions: vec![Version {
                    number: 1,
                    blob: part_blob,
                    media_type: if part.file.is_some() { "application/pdf".into() } else { media_type.to_string() },
                    file_name: part_file_name,
                    size: part_size,
                    added_at: now,
                    added_by: actor.clone(),
                    text: Some(text_info),
                    scan: Some(Box::new(ScanRecord {
                        scanned_at,
                        taken_at: now,
                        station: station.name.clone(),
                        unit: station.unit.clone(),
                        operator: station.operator.clone(),
                        device: station.device.clone(),
                        resolution_dpi: scan.resolution_dpi,
                        pages,
                        blank_pages_removed: station.blank_pages_removed,
                        source_file: file_name.clone(),
                        source_blob: blob,
                        source_pages: split.then_some((part.first, part.last)),
                        routed_by: routing.routed_by.to_string(),
                        paper_destroy_from: destroy_from,
                    })),
                }],
            };
            txn.put_doc(&doc, None);
            if !part.text.is_empty() {
                txn.put_text(&doc.id, 1, &part.text);
            }
            let mut changes = vec![
                Change::new("ort", None::<String>, place.label()),
                Change::new("version", None::<u32>, 1),
                Change::new("blob", None::<String>, part_blob.to_hex()),
                Change::new("datei", None::<String>, &doc.current().file_name),
                Change::new("eingang", None::<String>, doc.received.to_string()),
                Change::new("art", None::<String>, doc.kind.as_str()),
                Change::new("kanal", None::<String>, "scan"),
                Change::new("scanstelle", None::<String>, &station.name),
                Change::new("scanprodukt", None::<String>, blob.to_hex()),
            ];
            if split {
                changes.push(Change::new("seiten", None::<String>, format!("{}-{}", part.first, part.last)));
            }
            if let Some(note) = &routing.note {
                changes.push(Change::new("hinweis", None::<String>, note));
            }
            changes.extend(super::filing_changes(&doc));
            if let Some(item) = triage.as_ref().and_then(|t| Self::post_item(doc.id, t, now)) {
                txn.put_post_item(&item);
            }
            if crate::model::Filing::human_confirmed(&doc) {
                by_people.push(doc.id);
            }
            txn.record(NewEvent {
                at: now,
                actor: actor.clone(),
                action: "dokument.add".into(),
                object: doc_ref(&doc),
                related: self.location_refs(&location)?,
                changes,
            });
            docs.push(IntakeDoc {
                doc: doc.id,
                title: doc.title.clone(),
                place,
                pages: (part.first, part.last),
                note: routing.note,
            });
        }
        txn.put_intake(&IntakeRecord {
            blob,
            file_name: file_name.clone(),
            station: station.name.clone(),
            taken_at: now,
            docs: docs.iter().map(|d| d.doc).collect(),
        });
        txn.count_training(by_people.len() as u64);
        crate::failpoint::hit("intake.before_commit");
        txn.commit()?;
        self.learn_filed(&by_people)?;
        self.save_learned();
        Ok(IntakeOutcome::Taken { blob, docs, cover_sheets: scan.cover_pages.len() })
    }

    /// Where a part goes: its cover sheet's target, else the station's,
    /// else the Posteingang; a target that cannot take documents (unknown,
    /// closed) sends it to the Posteingang with a note.
    fn route(&self, part: &ScanPart, station: &StationConfig) -> Routing {
        let mut routing = Routing {
            location: Location::Posteingang,
            kind: station.kind.unwrap_or(DocKind::Eingang),
            received: None,
            routed_by: "none",
            note: None,
        };
        let mut target: Option<String> = station.target.clone();
        let mut by = "station";
        match &part.cover {
            None => {}
            Some(Err(problem)) => {
                routing.note = Some(format!("cover sheet not readable ({problem})"));
                target = None;
            }
            Some(Ok(payload)) => match crate::coversheet::parse(payload) {
                Ok(CoverTarget::Separator) => {}
                Ok(CoverTarget::Target { akte, vorgang, kind, received }) => {
                    target = Some(vorgang.map(|v| v.to_string()).unwrap_or_else(|| akte.to_string()));
                    by = "cover sheet";
                    if let Some(kind) = kind {
                        routing.kind = kind;
                    }
                    routing.received = received;
                }
                Err(e) => {
                    routing.note = Some(format!("cover sheet not usable ({e})"));
                    target = None;
                }
            },
        }
        if let Some(target) = target {
            match self.resolve_target(&target).and_then(|l| self.ensure_open(&l).map(|()| l)) {
                Ok(location) => {
                    routing.location = location;
                    routing.routed_by = by;
                }
                Err(e) => routing.note = Some(format!("{by} target {target} cannot take documents ({e})")),
            }
        }
        routing
    }

    pub(super) fn intake_failed(&self) -> Result<Response, Error> {
        let dir = self.failed_dir();
        let mut files = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Response::IntakeFailed { files }),
            Err(e) => return Err(Error::Input { path: dir, problem: format!("cannot be listed: {e}") }),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".error.txt") || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let error = std::fs::read_to_string(dir.join(format!("{name}.error.txt"))).unwrap_or_default();
            files.push(FailedFile {
                size: entry.metadata().map(|m| m.len()).unwrap_or(0),
                failed_at: error.lines().find_map(|l| l.strip_prefix("failed at: ")).map(str::to_string),
                reason: intake::error_reason(&error).unwrap_or("no reason recorded").to_string(),
                name,
            });
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Response::IntakeFailed { files })
    }

    pub(super) fn intake_retry(&mut self, name: &str, actor: &Actor) -> Result<Response, Error> {
        let dir = self.failed_dir();
        let bad = |problem: &str| Error::Input { path: dir.join(name), problem: problem.to_string() };
        if name.is_empty() || name.contains('/') || name.contains('\0') || name == "." || name == ".." {
            return Err(bad("is not a file name in failed/: give a name as `akten intake failed` lists it"));
        }
        let file = dir.join(name);
        if !file.is_file() {
            return Err(bad("is not in failed/: see the names with `akten intake failed`"));
        }
        let error_file = dir.join(format!("{name}.error.txt"));
        let error = std::fs::read_to_string(&error_file).unwrap_or_default();
        let inbox = self.store.root().join("inbox");
        let folder = intake::error_origin(&error).filter(|f| f.is_dir()).unwrap_or(inbox);
        let dest = mailroom::free_name(&folder, name);
        // The attempts of these bytes start again.
        let mut bytes = File::open(&file).map_err(|e| bad(&format!("cannot be read: {e}")))?;
        let mut hasher = blake3::Hasher::new();
        std::io::copy(&mut bytes, &mut hasher).map_err(|e| bad(&format!("cannot be read: {e}")))?;
        let blob = BlobId::from_hash(hasher.finalize());
        let mut txn = self.catalog.txn()?;
        txn.set_intake_attempts(&blob, 0);
        txn.record(NewEvent {
            at: Timestamp::now(),
            actor: actor.clone(),
            action: "intake.retry".into(),
            object: ObjectRef { kind: ObjectKind::Store, id: self.store.root().display().to_string(), label: None },
            related: vec![],
            changes: vec![
                Change::new("datei", None::<String>, name),
                Change::new("blob", None::<String>, blob.to_hex()),
                Change::new("nach", None::<String>, dest.display().to_string()),
            ],
        });
        txn.commit()?;
        mailroom::move_file(&file, &dest).map_err(|e| bad(&format!("cannot be moved to {}: {e}", dest.display())))?;
        let _ = std::fs::remove_file(&error_file);
        Ok(Response::IntakeRetried { name: name.to_string(), to: dest })
    }

    pub(super) fn cover_sheet(
        &self,
        akte: Option<&str>,
        vorgang: Option<&str>,
        kind: Option<DocKind>,
        received: Option<Date>,
    ) -> Result<Response, Error> {
        let (target, akte_title, vorgang_title, position) = match (akte, vorgang) {
            (None, None) => (CoverTarget::Separator, None, None, None),
            (akte_ref, Some(vz)) => {
                let v = self.resolve_vorgang(vz)?;
                let a = self.akte_of(&v)?;
                if let Some(az) = akte_ref
                    && self.resolve_akte(az)?.id != a.id
                {
                    return Err(Error::BadRequest(format!(
                        "the Vorgang {} belongs to the Akte {}, not {az}: give the Vorgangszeichen alone",
                        v.vorgangszeichen, a.aktenzeichen
                    )));
                }
                self.ensure_open(&Location::Vorgang { akte: a.id, vorgang: v.id })?;
                let position = self.position_label(&a);
                (
                    CoverTarget::Target {
                        akte: a.aktenzeichen.clone(),
                        vorgang: Some(v.vorgangszeichen.clone()),
                        kind,
                        received,
                    },
                    Some(a.title.clone()),
                    Some(v.title.clone()),
                    position,
                )
            }
            (Some(az), None) => {
                let a = self.resolve_akte(az)?;
                self.ensure_akte_open(&a)?;
                let position = self.position_label(&a);
                (
                    CoverTarget::Target { akte: a.aktenzeichen.clone(), vorgang: None, kind, received },
                    Some(a.title.clone()),
                    None,
                    position,
                )
            }
        };
        Ok(Response::CoverSheet(CoverSheetSpec {
            payload: crate::coversheet::encode(&target),
            akte_title,
            vorgang_title,
            position,
        }))
    }

    fn position_label(&self, akte: &crate::model::Akte) -> Option<String> {
        self.plan.position(&akte.position).map(|p| format!("{} {}", p.kennzeichen, p.title))
    }
}

/// An extraction failure as advice for a file in failed/, which (unlike a
/// document added by hand) is not stored.
fn for_failed(reason: &str, file_name: &str) -> String {
    reason
        .replace("; the original is stored unchanged", "")
        .replace("the original is stored unchanged", "")
        .replace("run `akten ocr --pending --failed`", &format!("run `akten intake retry {file_name}`"))
}

struct Routing {
    location: Location,
    kind: DocKind,
    received: Option<Date>,
    routed_by: &'static str,
    note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PlanSource;
    use crate::extract::{Extraction, IntakeScan};
    use crate::store::Config;

    /// A worker that names a file outside its work directory (as an
    /// exploited one might, to smuggle a file into the store) gets nothing.
    #[test]
    fn parts_outside_the_work_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut engine, _) =
            Engine::init(&dir.path().join("store"), PlanSource::Bundled, Config::new(), &Actor::new("t"), "test")
                .unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "not for the store").unwrap();
        let inbox_file = dir.path().join("scan.pdf");
        std::fs::write(&inbox_file, b"%PDF-1.4\n%%EOF\n").unwrap();
        let Prepare::Ready(prepared) = engine.intake_prepare(&inbox_file).unwrap() else { panic!("not prepared") };
        let extraction = Extraction {
            intake: Some(IntakeScan {
                resolution_dpi: None,
                cover_pages: vec![1],
                parts: vec![ScanPart {
                    first: 2,
                    last: 2,
                    cover: None,
                    file: Some(secret.clone()),
                    text: String::new(),
                }],
            }),
            ..Extraction::status_only(TextStatus::Ok)
        };
        let station = StationConfig { name: "inbox".into(), ..Default::default() };
        let outcome = engine.intake_finish(prepared, &station, extraction).unwrap();
        assert!(
            matches!(&outcome, IntakeOutcome::Failed { reason } if reason.contains("outside its work directory")),
            "{outcome:?}"
        );
        assert!(engine.catalog.docs().unwrap().is_empty());
        // The same bytes may be taken in again later (nothing is in flight).
        assert!(matches!(engine.intake_prepare(&inbox_file).unwrap(), Prepare::Ready(_)));
    }
}
