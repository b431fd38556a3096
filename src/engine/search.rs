//! The engine's text side: extraction at intake, the search index kept in
//! step with the catalog, and the search, similar, reindex, OCR and text
//! requests.
//!
//! Index protocol: the catalog's change log names the documents each commit
//! wrote; [`Engine::sync_index`] replays the entries after the index's last
//! applied number as upserts and commits them with the new number. A fresh
//! or rebuilt index is filled from every document instead. Because the
//! number is committed with the index data, a crash between the catalog
//! commit and the index commit is repaired by the next replay.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::{Engine, Error, Response};
use crate::audit::{Change, NewEvent};
use crate::catalog::Catalog;
use crate::index::{
    IndexDoc, IndexError, IndexState, REBUILD_WRITER_BUDGET, SYNC_WRITER_BUDGET, SearchIndex, SearchQuery, Snippet,
};
use crate::model::{
    Actor, Akte, AkteId, Aktenzeichen, BlobId, DocId, DocKind, Dokument, Kennzeichen, Location, TextInfo, TextStatus,
    Vorgangszeichen,
};
use crate::verify::{Finding, Severity};

/// Documents read from the catalog at a time while rebuilding.
const REINDEX_BATCH: usize = 10_000;
/// Documents per intermediate commit of a rebuild: bounds what the writer
/// holds in memory.
const REBUILD_COMMIT_EVERY: u64 = 100_000;

/// Characters around the matches in a snippet.
const SNIPPET_WIDTH: usize = 180;

/// `akten search`: the query and its filters, as typed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    /// A plan position: hits in it and below it.
    pub plan: Option<String>,
    /// An Aktenzeichen: hits in that Akte (and its Vorgänge).
    pub akte: Option<String>,
    /// Date of receipt from, inclusive.
    pub from: Option<Date>,
    /// Date of receipt to, inclusive.
    pub to: Option<Date>,
    pub channel: Option<String>,
    pub kind: Option<DocKind>,
    pub limit: Option<usize>,
    /// Count hits per plan position.
    pub facets: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchHit {
    pub doc: DocId,
    pub title: String,
    pub aktenzeichen: Option<Aktenzeichen>,
    pub vorgangszeichen: Option<Vorgangszeichen>,
    pub position: Option<Kennzeichen>,
    pub kind: String,
    pub channel: String,
    pub received: Option<Date>,
    pub date: Option<Date>,
    pub score: f32,
    pub snippet: Option<Snippet>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FacetCount {
    pub position: Kennzeichen,
    pub title: String,
    pub count: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchReport {
    pub query: String,
    pub total: usize,
    /// No or few exact hits: these allow one typo per word.
    pub fuzzy: bool,
    pub hits: Vec<SearchHit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Vec<FacetCount>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimilarReport {
    pub doc: DocId,
    pub title: String,
    pub hits: Vec<SearchHit>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReindexReport {
    pub documents: u64,
    pub change_seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OcrResult {
    pub doc: DocId,
    pub version: u32,
    pub title: String,
    pub before: String,
    pub text: TextInfo,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OcrReport {
    pub results: Vec<OcrResult>,
    /// Versions still waiting (OCR still unavailable, or over the limit).
    pub still_pending: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TextView {
    pub doc: DocId,
    pub version: u32,
    pub title: String,
    pub info: Option<TextInfo>,
    pub text: String,
}

/// Opens the index. One that cannot be opened (another format, a damaged
/// `meta.json`) is removed and starts empty: it is derived data, and the
/// next sync fills it from the catalog.
pub(super) fn open_index(dir: &Path) -> Result<SearchIndex, Error> {
    match SearchIndex::open(dir) {
        Ok(index) => Ok(index),
        Err(_) => {
            std::fs::remove_dir_all(dir)
                .map_err(|e| IndexError::Index { path: dir.to_path_buf(), detail: e.to_string() })?;
            Ok(SearchIndex::open(dir)?)
        }
    }
}

/// Whether a version's text should be read (again) by `ocr --pending`
/// (with `failed`: `ocr --pending --failed`).
fn pending(info: &Option<TextInfo>, failed: bool) -> bool {
    match info {
        None => true,
        Some(info) => match info.status {
            TextStatus::AwaitingOcr => true,
            TextStatus::Failed(_) | TextStatus::Partial(_) => failed,
            _ => false,
        },
    }
}

impl Engine {
    /// Reads the text of a durable blob; never fails (see [`crate::extract`]).
    pub(super) fn extract_blob(&mut self, blob: &BlobId, media_type: &str) -> (TextInfo, String) {
        let path = self.blobs.path_of(blob);
        let extraction = self.extractor.extract(&path, media_type);
        (extraction.info(Timestamp::now()), extraction.text)
    }

    /// Brings the index up to the catalog's change log.
    pub(super) fn sync_index(&mut self) -> Result<(), Error> {
        let target = self.catalog.change_seq()?;
        if self.index_seq == Some(target) {
            return Ok(());
        }
        let applied = match self.index.state()? {
            // A new index (new store, deleted index/, or a store from before
            // the change log), or an interrupted rebuild: fill it from every
            // document.
            IndexState::New | IndexState::Incomplete => {
                self.rebuild_index(target)?;
                self.index_seq = Some(target);
                return Ok(());
            }
            IndexState::At(applied) => applied,
        };
        if applied >= target {
            self.index_seq = Some(applied);
            return Ok(());
        }
        let mut ids = BTreeSet::new();
        for (_, docs) in self.catalog.changes_since(applied)? {
            ids.extend(docs);
        }
        let mut upserts = Vec::new();
        let mut removed = Vec::new();
        let mut akten = HashMap::new();
        for id in ids {
            match self.catalog.doc(&id)? {
                Some(doc) => upserts.push(index_doc(&self.catalog, &doc, &mut akten)?),
                None => removed.push(id),
            }
        }
        self.index.stage(&upserts, &removed)?;
        crate::failpoint::hit("index.before_commit");
        self.index.commit(target)?;
        // Let the merges this commit started finish: a process that ends
        // right after would abandon them, and segments would pile up.
        self.index.close_writer()?;
        self.index_seq = Some(target);
        Ok(())
    }

    /// Fills the index from every document, committing as it goes (marked
    /// incomplete until the end, so an interrupted rebuild starts over).
    fn rebuild_index(&mut self, target: u64) -> Result<u64, Error> {
        self.index.set_writer_budget(REBUILD_WRITER_BUDGET);
        self.index.clear()?;
        let mut akten = HashMap::new();
        let mut count = 0u64;
        let (catalog, index, progress) = (&self.catalog, &mut self.index, &self.progress);
        catalog.for_each_doc_batch(REINDEX_BATCH, |docs| -> Result<(), Error> {
            let batch = docs.iter().map(|d| index_doc(catalog, d, &mut akten)).collect::<Result<Vec<_>, _>>()?;
            index.stage_new(&batch)?;
            count += batch.len() as u64;
            if count.is_multiple_of(REBUILD_COMMIT_EVERY) {
                index.commit_partial()?;
            }
            progress.report("indexing documents", count, 0);
            Ok(())
        })?;
        crate::failpoint::hit("index.before_commit");
        self.index.commit(target)?;
        self.index.close_writer()?;
        self.index.set_writer_budget(SYNC_WRITER_BUDGET);
        Ok(count)
    }

    pub(super) fn reindex(&mut self) -> Result<Response, Error> {
        let dir = self.store.index_dir();
        // Release the writer lock; the reader's open files stay readable
        // after removal until the old index is dropped below.
        self.index.close_writer()?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| IndexError::Index { path: dir.clone(), detail: e.to_string() })?;
        }
        self.index = open_index(&dir)?;
        let target = self.catalog.change_seq()?;
        let documents = self.rebuild_index(target)?;
        self.index_seq = Some(target);
        Ok(Response::Reindexed(ReindexReport { documents, change_seq: target }))
    }

    /// `verify`'s check of the index against the catalog.
    pub(super) fn check_index(&mut self) -> Result<Vec<Finding>, Error> {
        let mut findings = Vec::new();
        let target = self.catalog.change_seq()?;
        let applied = self.index.applied_seq()?;
        // Documents written after the index's last commit may differ; they
        // are reported as lag, not as disagreement.
        let mut pending: BTreeSet<DocId> = BTreeSet::new();
        if applied < target {
            for (_, docs) in self.catalog.changes_since(applied)? {
                pending.extend(docs);
            }
            findings.push(Finding {
                severity: Severity::Warning,
                object: "search index".into(),
                problem: format!(
                    "holds changes up to {applied} of {target}: the last writes ({} documents) are not searchable yet",
                    pending.len()
                ),
                repair: "any command that opens the store catches it up (e.g. `akten search x`); or `akten reindex`"
                    .into(),
            });
        } else if applied > target {
            findings.push(Finding {
                severity: Severity::Error,
                object: "search index".into(),
                problem: format!(
                    "claims changes up to {applied} but the catalog has only {target}: it belongs to another store or the catalog was restored from an older backup"
                ),
                repair: "run `akten reindex`".into(),
            });
        }
        let mut in_index: HashMap<DocId, (u32, Option<String>)> = HashMap::new();
        for (id, version, az) in self.index.entries()? {
            if in_index.insert(id, (version, az)).is_some() {
                findings.push(index_finding(format!("document {id}"), "is in the search index twice".into()));
            }
        }
        let mut akten = HashMap::new();
        let catalog = &self.catalog;
        catalog.for_each_doc_batch(REINDEX_BATCH, |docs| -> Result<(), Error> {
            for doc in docs {
                let object = format!("document {}", doc.id);
                if pending.contains(&doc.id) {
                    in_index.remove(&doc.id);
                    continue;
                }
                match in_index.remove(&doc.id) {
                    None => findings.push(index_finding(object, "is missing from the search index".into())),
                    Some((version, az)) => {
                        let expected = index_doc(catalog, &doc, &mut akten)?;
                        if version != expected.version {
                            findings.push(index_finding(
                                object,
                                format!("search index has version {version}, the catalog {}", expected.version),
                            ));
                        } else if az.as_deref() != expected.aktenzeichen.as_ref().map(|a| a.as_str()) {
                            findings.push(index_finding(
                                object,
                                format!(
                                    "search index files it under {}, the catalog under {}",
                                    az.as_deref().unwrap_or("the Posteingang"),
                                    expected.aktenzeichen.as_ref().map_or("the Posteingang", |a| a.as_str())
                                ),
                            ));
                        }
                    }
                }
            }
            Ok(())
        })?;
        for id in in_index.keys() {
            findings
                .push(index_finding(format!("document {id}"), "is in the search index but not in the catalog".into()));
        }
        Ok(findings)
    }

    pub(super) fn search(&self, request: &SearchRequest) -> Result<Response, Error> {
        let position = match request.plan.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => {
                let k = Kennzeichen::parse(code).map_err(|_| Error::UnknownPosition { code: code.to_string() })?;
                if self.plan.position(&k).is_none() {
                    return Err(Error::UnknownPosition { code: code.to_string() });
                }
                Some(k)
            }
        };
        let aktenzeichen = match request.akte.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(az) => Some(self.resolve_akte(az)?.aktenzeichen),
        };
        if let (Some(from), Some(to)) = (request.from, request.to)
            && from > to
        {
            return Err(Error::BadRequest(format!("--from {from} is after --to {to}: swap them")));
        }
        let query = SearchQuery {
            text: request.query.clone(),
            position,
            aktenzeichen,
            from: request.from,
            to: request.to,
            channel: request.channel.clone(),
            kind: request.kind,
            limit: request.limit.unwrap_or(10).clamp(1, 1000),
            facets: request.facets,
        };
        let results = self.index.search(&query)?;
        let mut hits = Vec::with_capacity(results.hits.len());
        for hit in results.hits {
            let snippet = self.snippet_for(&hit.id, &results.marks)?;
            hits.push(search_hit(hit, snippet));
        }
        let facets = results.facets.map(|counts| {
            counts
                .into_iter()
                .map(|(position, count)| FacetCount {
                    title: self.plan.position(&position).map(|p| p.title.clone()).unwrap_or_default(),
                    position,
                    count,
                })
                .collect()
        });
        Ok(Response::Search(SearchReport {
            query: request.query.clone(),
            total: results.total,
            fuzzy: results.fuzzy,
            hits,
            facets,
        }))
    }

    fn snippet_for(&self, id: &DocId, marks: &crate::index::MatchSpec) -> Result<Option<Snippet>, Error> {
        let Some(doc) = self.catalog.doc(id)? else { return Ok(None) };
        let text = self.catalog.text(id, doc.current().number)?.unwrap_or_default();
        Ok(self.index.snippet(&text, marks, SNIPPET_WIDTH))
    }

    pub(super) fn similar(&self, doc: &str, limit: usize) -> Result<Response, Error> {
        let doc = self.resolve_doc(doc)?;
        let text = self.catalog.text(&doc.id, doc.current().number)?.unwrap_or_default();
        let hits = self.index.similar(&doc.id, &doc.title, &text, limit.clamp(1, 100))?;
        Ok(Response::Similar(SimilarReport {
            doc: doc.id,
            title: doc.title.clone(),
            hits: hits.into_iter().map(|h| search_hit(h, None)).collect(),
        }))
    }

    pub(super) fn text(&self, doc: &str, version: Option<u32>) -> Result<Response, Error> {
        let doc = self.resolve_doc(doc)?;
        let v = match version {
            None => doc.current(),
            Some(n) => doc.version(n).ok_or_else(|| {
                Error::BadRequest(format!(
                    "document {} has no version {n}: it has versions 1 to {}",
                    doc.id,
                    doc.current().number
                ))
            })?,
        };
        let text = self.catalog.text(&doc.id, v.number)?.unwrap_or_default();
        Ok(Response::Text(TextView {
            doc: doc.id,
            version: v.number,
            title: doc.title.clone(),
            info: v.text.clone(),
            text,
        }))
    }

    /// Reads again every version waiting for OCR (and those stored before
    /// extraction existed), one commit per document.
    pub(super) fn ocr_pending(&mut self, limit: Option<usize>, failed: bool, actor: &Actor) -> Result<Response, Error> {
        let mut work: Vec<(DocId, u32)> = Vec::new();
        self.catalog.for_each_doc_batch(REINDEX_BATCH, |docs| -> Result<(), Error> {
            for doc in &docs {
                work.extend(doc.versions.iter().filter(|v| pending(&v.text, failed)).map(|v| (doc.id, v.number)));
            }
            Ok(())
        })?;
        let total = work.len();
        let take = limit.unwrap_or(usize::MAX).min(total);
        let mut results = Vec::new();
        for (n, (id, number)) in work.into_iter().take(take).enumerate() {
            self.progress.report("reading text", n as u64, take as u64);
            let Some(doc) = self.catalog.doc(&id)? else { continue };
            let Some(version) = doc.version(number).cloned() else { continue };
            let (info, text) = self.extract_blob(&version.blob, &version.media_type);
            let before = version.text.as_ref().map_or("not read", |t| t.status.label()).to_string();
            let mut new = doc.clone();
            if let Some(v) = new.versions.iter_mut().find(|v| v.number == number) {
                v.text = Some(info.clone());
            }
            let mut txn = self.catalog.txn()?;
            txn.put_doc(&new, Some(&doc));
            if !text.is_empty() {
                txn.put_text(&doc.id, number, &text);
            }
            txn.record(NewEvent {
                at: Timestamp::now(),
                actor: actor.clone(),
                action: "text.extract".into(),
                object: super::doc_ref(&new),
                related: vec![],
                changes: vec![
                    Change::new("version", None::<u32>, number),
                    Change::new("text", Some(before.clone()), info.status.label()),
                ],
            });
            txn.commit()?;
            results.push(OcrResult { doc: doc.id, version: number, title: doc.title.clone(), before, text: info });
        }
        self.progress.report("reading text", take as u64, take as u64);
        let still_pending =
            (total - take) + results.iter().filter(|r| matches!(r.text.status, TextStatus::AwaitingOcr)).count();
        Ok(Response::OcrDone(OcrReport { results, still_pending }))
    }
}

/// The index's view of `doc`: its current version's text and where it is.
fn index_doc(catalog: &Catalog, doc: &Dokument, akten: &mut HashMap<AkteId, Akte>) -> Result<IndexDoc, Error> {
    let mut akte_of = |id: &AkteId| -> Result<Option<Akte>, Error> {
        if let Some(a) = akten.get(id) {
            return Ok(Some(a.clone()));
        }
        let a = catalog.akte(id)?;
        if let Some(a) = &a {
            akten.insert(*id, a.clone());
        }
        Ok(a)
    };
    let (akte, vorgangszeichen) = match &doc.location {
        Location::Posteingang | Location::Discarded => (None, None),
        Location::Akte { akte } => (akte_of(akte)?, None),
        Location::Vorgang { akte, vorgang } => (akte_of(akte)?, catalog.vorgang(vorgang)?.map(|v| v.vorgangszeichen)),
    };
    let version = doc.current();
    let body = catalog.text(&doc.id, version.number)?.unwrap_or_default();
    Ok(IndexDoc {
        id: doc.id,
        version: version.number,
        title: doc.title.clone(),
        body,
        aktenzeichen: akte.as_ref().map(|a| a.aktenzeichen.clone()),
        vorgangszeichen,
        position: akte.as_ref().map(|a| a.position.clone()),
        unit: akte.as_ref().map(|a| a.unit.clone()),
        channel: doc.channel.clone(),
        kind: doc.kind,
        sender: doc.sender.clone(),
        received: doc.received,
        date: doc.date,
    })
}

fn index_finding(object: String, problem: String) -> Finding {
    Finding { severity: Severity::Error, object, problem, repair: "run `akten reindex`".into() }
}

fn search_hit(hit: crate::index::IndexHit, snippet: Option<Snippet>) -> SearchHit {
    SearchHit {
        doc: hit.id,
        title: hit.title,
        aktenzeichen: hit.aktenzeichen,
        vorgangszeichen: hit.vorgangszeichen,
        position: hit.position,
        kind: hit.kind,
        channel: hit.channel,
        received: hit.received,
        date: hit.date,
        score: hit.score,
        snippet,
    }
}
