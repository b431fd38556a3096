//! The full-text search index: tantivy under `<store>/index`, derived from
//! the catalog and always rebuildable from it (`akten reindex`).
//!
//! German analysis ([`GERMAN`]): words are lower-cased, stop words dropped,
//! Snowball-stemmed and folded (ä→a, ß→ss), so "Strasse" finds "Straße",
//! "Mueller" finds "Müller" and "Anträge" finds "Antrag". Compounds: a
//! query word also finds words that begin with it (a term range on the
//! stemmed terms) and words that end with it (a term range on a field of
//! reversed stems), both ranked below exact hits; a query of several words
//! widens to compounds only when its exact forms find less than a page. The file-plan
//! position is a hierarchical facet of plan codes only, so a filter on
//! `32.10` covers its whole subtree and facet counting stays cheap.
//!
//! Consistency: every catalog commit that writes documents appends an entry
//! to the catalog's change log; [`SearchIndex::commit`] commits index
//! changes together with the last change number applied, in the commit
//! payload, so after any crash the engine replays exactly what is missing.
//!
//! Invariants:
//! - One index document per catalog document, keyed by its id (upserts).
//! - Only the store's lock holder writes the index.
//! - Only plan codes go into facets (never per-Akte numbers).

use std::collections::HashSet;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EmptyQuery, FuzzyTermQuery, MoreLikeThisQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery,
};
use tantivy::query_grammar::{Delimiter, UserInputAst, UserInputLeaf, UserInputLiteral};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, OwnedValue, STORED, STRING, Schema, TantivyDocument,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{DateTime, Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use crate::model::{Aktenzeichen, DocId, DocKind, Kennzeichen, OrgUnit, Vorgangszeichen};

/// Name of the German analyzer in the index's tokenizer manager.
pub const GERMAN: &str = "de";
/// Version of the schema and analysis; a different one means reindex.
pub const INDEX_FORMAT: u32 = 1;
/// Shortest (stemmed) word that is looked for inside compounds.
pub const MIN_COMPOUND_PART: usize = 4;
/// Weight of a compound match relative to an exact one.
const COMPOUND_BOOST: f32 = 0.3;
const TITLE_BOOST: f32 = 2.0;
/// Writer memory: two indexing threads for a rebuild (`akten reindex`),
/// one for the small commits of ordinary requests (one new segment each).
pub const REBUILD_WRITER_BUDGET: usize = 256 * 1024 * 1024;
pub const SYNC_WRITER_BUDGET: usize = 64 * 1024 * 1024;
/// Fewer exact hits than this and search retries with one typo allowed.
const FUZZY_BELOW: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index at {}: {detail}: run `akten reindex` to rebuild it from the catalog", path.display())]
    Index { path: PathBuf, detail: String },
    #[error("search index at {} was built by another akten version (format {found}): run `akten reindex`", path.display())]
    Format { path: PathBuf, found: String },
}

/// One catalog document as the index sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexDoc {
    pub id: DocId,
    pub version: u32,
    pub title: String,
    pub body: String,
    pub aktenzeichen: Option<Aktenzeichen>,
    pub vorgangszeichen: Option<Vorgangszeichen>,
    pub position: Option<Kennzeichen>,
    pub unit: Option<OrgUnit>,
    pub channel: String,
    pub kind: DocKind,
    pub sender: Option<String>,
    pub received: Date,
    pub date: Option<Date>,
}

/// What to look for.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SearchQuery {
    pub text: String,
    pub position: Option<Kennzeichen>,
    pub aktenzeichen: Option<Aktenzeichen>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub channel: Option<String>,
    pub kind: Option<DocKind>,
    pub limit: usize,
    pub facets: bool,
}

/// A hit, from the index's stored fields only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexHit {
    pub id: DocId,
    pub score: f32,
    pub title: String,
    pub aktenzeichen: Option<Aktenzeichen>,
    pub vorgangszeichen: Option<Vorgangszeichen>,
    pub position: Option<Kennzeichen>,
    pub kind: String,
    pub channel: String,
    pub received: Option<Date>,
    pub date: Option<Date>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexResults {
    pub total: usize,
    /// The query was retried with one typo per word allowed.
    pub fuzzy: bool,
    pub hits: Vec<IndexHit>,
    /// Hits per Betreffseinheit, where asked for.
    pub facets: Option<Vec<(Kennzeichen, u64)>>,
    /// What to mark in snippets.
    pub marks: MatchSpec,
}

/// The words a query matched, for marking snippets: stems matched exactly,
/// as the start or the end of a compound, or with one typo.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MatchSpec {
    pub exact: Vec<String>,
    pub compound: Vec<String>,
    pub fuzzy: bool,
}

/// A marked passage of a document's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub text: String,
    /// Byte ranges of `text` that matched.
    pub marks: Vec<(usize, usize)>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    version: Field,
    title: Field,
    body: Field,
    compound: Field,
    az: Field,
    vz: Field,
    plan: Field,
    position: Field,
    position_flat: Field,
    unit: Field,
    channel: Field,
    kind: Field,
    sender: Field,
    received: Field,
    date: Field,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    format: u32,
    change_seq: u64,
    /// Set on the intermediate commits of a rebuild: such an index is
    /// incomplete and is rebuilt again.
    #[serde(default)]
    building: bool,
}

/// Where an index stands relative to the catalog's change log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexState {
    /// Never committed: fill it from every document.
    New,
    /// A rebuild was interrupted: start it again.
    Incomplete,
    /// Holds every change up to this number.
    At(u64),
}

pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    analyzer: TextAnalyzer,
    writer_budget: usize,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |positions: bool, stored: bool| {
        let indexing = TextFieldIndexing::default().set_tokenizer(GERMAN).set_index_option(if positions {
            IndexRecordOption::WithFreqsAndPositions
        } else {
            IndexRecordOption::WithFreqs
        });
        let opts = TextOptions::default().set_indexing_options(indexing);
        if stored { opts.set_stored() } else { opts }
    };
    let compound = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::Basic),
    );
    let date = tantivy::schema::DateOptions::from(INDEXED)
        .set_stored()
        .set_fast()
        .set_precision(tantivy::schema::DateTimePrecision::Seconds);
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        version: b.add_u64_field("version", STORED),
        title: b.add_text_field("title", text(true, true)),
        body: b.add_text_field("body", text(true, false)),
        compound: b.add_text_field("compound", compound),
        az: b.add_text_field("az", STRING | STORED),
        vz: b.add_text_field("vz", STRING | STORED),
        plan: b.add_facet_field("plan", FacetOptions::default()),
        position: b.add_text_field("position", STRING | STORED),
        position_flat: b.add_facet_field("position_flat", FacetOptions::default()),
        unit: b.add_text_field("unit", STRING | STORED),
        channel: b.add_text_field("channel", STRING | STORED | FAST),
        kind: b.add_text_field("kind", STRING | STORED),
        sender: b.add_text_field("sender", text(false, true)),
        received: b.add_date_field("received", date.clone()),
        date: b.add_date_field("date", date),
    };
    (b.build(), fields)
}

/// The German analyzer: see the module docs.
pub fn german_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(48))
        .filter(LowerCaser)
        .filter(StopWordFilter::new(Language::German).expect("tantivy ships German stop words"))
        .filter(Stemmer::new(Language::German))
        .filter(AsciiFoldingFilter)
        .build()
}

fn date_value(date: Date) -> DateTime {
    let days = date.since(Date::constant(1970, 1, 1)).map(|s| s.get_days()).unwrap_or(0);
    DateTime::from_timestamp_secs(i64::from(days) * 86_400)
}

fn date_from(value: DateTime) -> Option<Date> {
    let days = value.into_timestamp_secs().div_euclid(86_400);
    Date::constant(1970, 1, 1).checked_add(jiff::Span::new().days(days)).ok()
}

fn facet_of(position: &Kennzeichen) -> Facet {
    Facet::from_path(position.lineage().iter().map(|k| k.as_str().to_string()))
}

impl SearchIndex {
    /// Opens the index in `dir`, creating an empty one where there is none.
    pub fn open(dir: &Path) -> Result<SearchIndex, IndexError> {
        let err = |e: tantivy::TantivyError| IndexError::Index { path: dir.to_path_buf(), detail: e.to_string() };
        let (schema, fields) = schema();
        let exists = dir.join("meta.json").is_file();
        let index = if exists {
            let index = Index::open_in_dir(dir).map_err(err)?;
            let payload = index.load_metas().map_err(err)?.payload;
            match payload.as_deref().map(serde_json::from_str::<Payload>) {
                Some(Ok(p)) if p.format == INDEX_FORMAT => {}
                None => {}
                Some(Ok(p)) => return Err(IndexError::Format { path: dir.to_path_buf(), found: p.format.to_string() }),
                Some(Err(_)) => return Err(IndexError::Format { path: dir.to_path_buf(), found: "unknown".into() }),
            }
            if index.schema() != schema {
                return Err(IndexError::Format { path: dir.to_path_buf(), found: "other schema".into() });
            }
            index
        } else {
            std::fs::create_dir_all(dir)
                .map_err(|e| IndexError::Index { path: dir.to_path_buf(), detail: e.to_string() })?;
            Index::create_in_dir(dir, schema).map_err(err)?
        };
        index.tokenizers().register(GERMAN, german_analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(err)?;
        Ok(SearchIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            writer: None,
            fields,
            analyzer: german_analyzer(),
            writer_budget: SYNC_WRITER_BUDGET,
        })
    }

    /// Memory for the writer (at least 15 MB per indexing thread).
    pub fn set_writer_budget(&mut self, bytes: usize) {
        self.writer_budget = bytes;
    }

    fn err(&self, e: impl std::fmt::Display) -> IndexError {
        IndexError::Index { path: self.dir.clone(), detail: e.to_string() }
    }

    /// The last catalog change number this index contains (0 when none).
    pub fn applied_seq(&self) -> Result<u64, IndexError> {
        Ok(match self.state()? {
            IndexState::At(seq) => seq,
            IndexState::New | IndexState::Incomplete => 0,
        })
    }

    pub fn state(&self) -> Result<IndexState, IndexError> {
        let metas = self.index.load_metas().map_err(|e| self.err(e))?;
        Ok(match metas.payload.as_deref().and_then(|p| serde_json::from_str::<Payload>(p).ok()) {
            None => IndexState::New,
            Some(p) if p.building => IndexState::Incomplete,
            Some(p) => IndexState::At(p.change_seq),
        })
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the documents in `remove`, then adds `upsert` (replacing
    /// those with the same id); visible after [`Self::commit`].
    pub fn stage(&mut self, upsert: &[IndexDoc], remove: &[DocId]) -> Result<(), IndexError> {
        self.ensure_writer()?;
        let fields = self.fields;
        for id in remove.iter().chain(upsert.iter().map(|d| &d.id)) {
            let writer = self.writer.as_ref().expect("created above");
            writer.delete_term(Term::from_field_text(fields.id, &id.to_string()));
        }
        self.add(upsert)
    }

    /// Adds documents known not to be in the index (a rebuild after
    /// [`Self::clear`]): no deletes to hold in memory until the commit.
    pub fn stage_new(&mut self, docs: &[IndexDoc]) -> Result<(), IndexError> {
        self.ensure_writer()?;
        self.add(docs)
    }

    /// Removes every document (committed with the next commit).
    pub fn clear(&mut self) -> Result<(), IndexError> {
        self.ensure_writer()?;
        let writer = self.writer.as_mut().expect("created above");
        writer
            .delete_all_documents()
            .map_err(|e| IndexError::Index { path: self.dir.clone(), detail: e.to_string() })?;
        Ok(())
    }

    fn ensure_writer(&mut self) -> Result<(), IndexError> {
        if self.writer.is_none() {
            // Small commits from one thread: one new segment per commit.
            let threads = if self.writer_budget >= 128 * 1024 * 1024 { 2 } else { 1 };
            let writer = self.index.writer_with_num_threads(threads, self.writer_budget).map_err(|e| self.err(e))?;
            self.writer = Some(writer);
        }
        Ok(())
    }

    fn add(&mut self, upsert: &[IndexDoc]) -> Result<(), IndexError> {
        for doc in upsert {
            let document = self.document(doc);
            let writer = self.writer.as_ref().expect("created above");
            writer.add_document(document).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Commits what was staged, recording `change_seq`, and makes it visible.
    pub fn commit(&mut self, change_seq: u64) -> Result<(), IndexError> {
        self.commit_with(Payload { format: INDEX_FORMAT, change_seq, building: false })
    }

    /// Commits part of a rebuild: durable, but marked incomplete.
    pub fn commit_partial(&mut self) -> Result<(), IndexError> {
        self.commit_with(Payload { format: INDEX_FORMAT, change_seq: 0, building: true })
    }

    fn commit_with(&mut self, payload: Payload) -> Result<(), IndexError> {
        let payload = serde_json::to_string(&payload).expect("serialises");
        let Some(writer) = self.writer.as_mut() else { return Ok(()) };
        let mut prepared =
            writer.prepare_commit().map_err(|e| IndexError::Index { path: self.dir.clone(), detail: e.to_string() })?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(|e| IndexError::Index { path: self.dir.clone(), detail: e.to_string() })?;
        self.reader.reload().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Waits for background merges and releases the writer lock.
    pub fn close_writer(&mut self) -> Result<(), IndexError> {
        if let Some(writer) = self.writer.take() {
            writer.wait_merging_threads().map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    fn document(&self, doc: &IndexDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut d = TantivyDocument::default();
        d.add_text(f.id, doc.id.to_string());
        d.add_u64(f.version, u64::from(doc.version));
        d.add_text(f.title, &doc.title);
        d.add_text(f.body, &doc.body);
        d.add_text(f.compound, self.reversed_stems(&doc.title, &doc.body));
        if let Some(az) = &doc.aktenzeichen {
            d.add_text(f.az, az.as_str());
        }
        if let Some(vz) = &doc.vorgangszeichen {
            d.add_text(f.vz, vz.as_str());
        }
        if let Some(p) = &doc.position {
            d.add_facet(f.plan, facet_of(p));
            d.add_facet(f.position_flat, Facet::from_path([p.as_str()]));
            d.add_text(f.position, p.as_str());
        }
        if let Some(u) = &doc.unit {
            d.add_text(f.unit, u.as_str());
        }
        d.add_text(f.channel, &doc.channel);
        d.add_text(f.kind, doc.kind.as_str());
        if let Some(s) = &doc.sender {
            d.add_text(f.sender, s);
        }
        d.add_date(f.received, date_value(doc.received));
        if let Some(date) = doc.date {
            d.add_date(f.date, date_value(date));
        }
        d
    }

    /// Every distinct stem of the text, reversed: the field that lets a
    /// word find the compounds it ends.
    fn reversed_stems(&self, title: &str, body: &str) -> String {
        let mut seen = HashSet::new();
        let mut out = String::new();
        for text in [title, body] {
            let mut analyzer = self.analyzer.clone();
            let mut stream = analyzer.token_stream(text);
            while let Some(token) = stream.next() {
                if token.text.chars().count() > MIN_COMPOUND_PART && seen.insert(token.text.clone()) {
                    out.extend(token.text.chars().rev());
                    out.push(' ');
                }
            }
        }
        out
    }

    /// The analyzed terms of `text` (lower-cased, stemmed, folded).
    pub fn analyze(&self, text: &str) -> Vec<String> {
        self.analyze_positions(text).into_iter().map(|(_, t)| t).collect()
    }

    /// The analyzed terms with their positions: stop words leave gaps, so a
    /// phrase query must keep them ("Antrag auf Sondernutzung").
    fn analyze_positions(&self, text: &str) -> Vec<(usize, String)> {
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push((token.position, token.text.clone()));
        }
        if let Some(&(first, _)) = out.first() {
            for (p, _) in &mut out {
                *p -= first;
            }
        }
        out
    }

    /// Runs `query`: exact first, with one typo per word when that finds
    /// fewer than a handful.
    pub fn search(&self, query: &SearchQuery) -> Result<IndexResults, IndexError> {
        let searcher = self.reader.searcher();
        let limit = query.limit.max(1);
        let filters = self.filters(query);
        let collector = (Count, TopDocs::with_limit(limit).order_by_score());
        let text = query.text.trim();
        if text.is_empty() {
            let full = combine(None, &filters);
            let (total, top) = searcher.search(&*full, &collector).map_err(|e| self.err(e))?;
            return self.results(&searcher, &*full, total, false, top, MatchSpec::default(), query);
        }
        let (ast, _errors) = tantivy::query_grammar::parse_query_lenient(text);
        // One word also finds the compounds it begins or ends. Several words
        // look for exact forms first (each compound alternative multiplies
        // the work of an AND) and widen to compounds only when that finds
        // fewer than a page of hits.
        let several = literal_count(&ast) > 1;
        let mut passes = vec![Mode { fuzzy: false, compounds: !several }];
        if several {
            passes.push(Mode { fuzzy: false, compounds: true });
        }
        passes.push(Mode { fuzzy: true, compounds: true });
        type Pass = (usize, Vec<(f32, tantivy::DocAddress)>, MatchSpec, Mode, Box<dyn Query>);
        let mut best: Option<Pass> = None;
        for mode in passes {
            let enough = if mode.fuzzy { FUZZY_BELOW } else { limit };
            if let Some((total, ..)) = &best
                && *total >= enough
            {
                break;
            }
            let mut marks = MatchSpec { fuzzy: mode.fuzzy, ..MatchSpec::default() };
            let full = combine(Some(self.text_query(&ast, mode, &mut marks)), &filters);
            let (total, top) = searcher.search(&*full, &collector).map_err(|e| self.err(e))?;
            if best.as_ref().is_none_or(|(t, ..)| total > *t) {
                best = Some((total, top, marks, mode, full));
            }
        }
        let (total, top, marks, mode, full) = best.expect("at least one pass ran");
        self.results(&searcher, &*full, total, mode.fuzzy, top, marks, query)
    }

    #[allow(clippy::too_many_arguments, reason = "the parts of one search answer")]
    fn results(
        &self,
        searcher: &tantivy::Searcher,
        full: &dyn Query,
        total: usize,
        fuzzy: bool,
        top: Vec<(f32, tantivy::DocAddress)>,
        marks: MatchSpec,
        query: &SearchQuery,
    ) -> Result<IndexResults, IndexError> {
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| self.err(e))?;
            hits.push(self.hit(&doc, score)?);
        }
        // Equal scores (compound matches score alike) in a stable order that
        // does not depend on how segments happen to be laid out.
        hits.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| b.received.cmp(&a.received)).then_with(|| a.id.cmp(&b.id))
        });
        let facets = if query.facets {
            let mut collector = FacetCollector::for_field("position_flat");
            collector.add_facet(Facet::root());
            let counts = searcher.search(full, &collector).map_err(|e| self.err(e))?;
            let mut out: Vec<(Kennzeichen, u64)> = counts
                .get(Facet::root())
                .filter_map(|(facet, n)| {
                    let code = facet.to_path().last().map(|s| s.to_string())?;
                    Kennzeichen::parse(&code).ok().map(|k| (k, n))
                })
                .collect();
            out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Some(out)
        } else {
            None
        };
        Ok(IndexResults { total, fuzzy, hits, facets, marks })
    }

    /// Documents like `id` (whose title and text are given), best first,
    /// without `id` itself.
    pub fn similar(&self, id: &DocId, title: &str, text: &str, limit: usize) -> Result<Vec<IndexHit>, IndexError> {
        let searcher = self.reader.searcher();
        let query = MoreLikeThisQuery::builder()
            .with_min_doc_frequency(1)
            .with_max_doc_frequency((searcher.num_docs() / 2).max(2))
            .with_min_term_frequency(1)
            .with_min_word_length(3)
            .with_max_query_terms(40)
            .with_document_fields(vec![
                (self.fields.title, vec![OwnedValue::Str(title.to_string())]),
                (self.fields.body, vec![OwnedValue::Str(text.to_string())]),
            ]);
        let top = searcher.search(&query, &TopDocs::with_limit(limit + 1).order_by_score()).map_err(|e| self.err(e))?;
        let mut hits = Vec::new();
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| self.err(e))?;
            let hit = self.hit(&doc, score)?;
            if hit.id != *id && hits.len() < limit {
                hits.push(hit);
            }
        }
        Ok(hits)
    }

    /// Every (document, version, Aktenzeichen) in the index, for `verify`.
    pub fn entries(&self) -> Result<Vec<(DocId, u32, Option<String>)>, IndexError> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(searcher.num_docs() as usize);
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let store = segment.get_store_reader(64).map_err(|e| self.err(e))?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = store.get(doc_id).map_err(|e| self.err(e))?;
                let id = self.text_of(&doc, self.fields.id).unwrap_or_default();
                let id = id.parse::<DocId>().map_err(|_| self.err(format!("segment {ord} holds a bad id '{id}'")))?;
                let version = doc.get_first(self.fields.version).and_then(|v| v.as_u64()).unwrap_or(0) as u32;
                out.push((id, version, self.text_of(&doc, self.fields.az)));
            }
        }
        Ok(out)
    }

    fn text_of(&self, doc: &TantivyDocument, field: Field) -> Option<String> {
        doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string)
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Result<IndexHit, IndexError> {
        let f = &self.fields;
        let id = self.text_of(doc, f.id).unwrap_or_default();
        let date = |field| doc.get_first(field).and_then(|v| v.as_datetime()).and_then(date_from);
        Ok(IndexHit {
            id: id.parse().map_err(|_| self.err(format!("a document has a bad id '{id}'")))?,
            score,
            title: self.text_of(doc, f.title).unwrap_or_default(),
            aktenzeichen: self.text_of(doc, f.az).map(Aktenzeichen::new),
            vorgangszeichen: self.text_of(doc, f.vz).map(Vorgangszeichen::new),
            position: self.text_of(doc, f.position).and_then(|p| Kennzeichen::parse(&p).ok()),
            kind: self.text_of(doc, f.kind).unwrap_or_default(),
            channel: self.text_of(doc, f.channel).unwrap_or_default(),
            received: date(f.received),
            date: date(f.date),
        })
    }

    fn filters(&self, q: &SearchQuery) -> Vec<Box<dyn Query>> {
        let f = &self.fields;
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        if let Some(p) = &q.position {
            out.push(Box::new(TermQuery::new(Term::from_facet(f.plan, &facet_of(p)), IndexRecordOption::Basic)));
        }
        if let Some(az) = &q.aktenzeichen {
            out.push(Box::new(TermQuery::new(Term::from_field_text(f.az, az.as_str()), IndexRecordOption::Basic)));
        }
        if q.from.is_some() || q.to.is_some() {
            let lower =
                q.from.map_or(Bound::Unbounded, |d| Bound::Included(Term::from_field_date(f.received, date_value(d))));
            let upper =
                q.to.map_or(Bound::Unbounded, |d| Bound::Included(Term::from_field_date(f.received, date_value(d))));
            out.push(Box::new(RangeQuery::new(lower, upper)));
        }
        if let Some(c) = &q.channel {
            out.push(Box::new(TermQuery::new(Term::from_field_text(f.channel, c), IndexRecordOption::Basic)));
        }
        if let Some(k) = q.kind {
            out.push(Box::new(TermQuery::new(Term::from_field_text(f.kind, k.as_str()), IndexRecordOption::Basic)));
        }
        out
    }

    /// The user's query text as a tantivy query (`None`: match everything).
    fn text_query(&self, ast: &UserInputAst, mode: Mode, marks: &mut MatchSpec) -> Box<dyn Query> {
        self.convert(ast, mode, marks)
    }

    fn convert(&self, ast: &UserInputAst, mode: Mode, marks: &mut MatchSpec) -> Box<dyn Query> {
        match ast {
            UserInputAst::Clause(clauses) => {
                let parts: Vec<(Occur, Box<dyn Query>)> =
                    clauses.iter().map(|(occur, sub)| (occur_of(*occur), self.convert(sub, mode, marks))).collect();
                if parts.iter().all(|(o, _)| *o == Occur::MustNot) {
                    // "-werbung" alone: everything except.
                    let mut parts = parts;
                    parts.push((Occur::Must, Box::new(AllQuery)));
                    return Box::new(BooleanQuery::new(parts));
                }
                Box::new(BooleanQuery::new(parts))
            }
            UserInputAst::Boost(sub, boost) => {
                Box::new(BoostQuery::new(self.convert(sub, mode, marks), boost.into_inner() as f32))
            }
            UserInputAst::Leaf(leaf) => match leaf.as_ref() {
                UserInputLeaf::Literal(literal) => self.literal(literal, mode, marks),
                UserInputLeaf::All => Box::new(AllQuery),
                UserInputLeaf::Set { field, elements } => {
                    let parts = elements
                        .iter()
                        .map(|e| {
                            let lit = UserInputLiteral {
                                field_name: field.clone(),
                                phrase: e.clone(),
                                delimiter: Delimiter::None,
                                slop: 0,
                                prefix: false,
                            };
                            (Occur::Should, self.literal(&lit, mode, marks))
                        })
                        .collect();
                    Box::new(BooleanQuery::new(parts))
                }
                // Ranges and the rest have CLI options (--from, --to); as
                // text they match nothing rather than everything.
                _ => Box::new(EmptyQuery),
            },
        }
    }

    fn literal(&self, literal: &UserInputLiteral, mode: Mode, marks: &mut MatchSpec) -> Box<dyn Query> {
        let f = &self.fields;
        let raw = |field: Field| -> Box<dyn Query> {
            if literal.prefix {
                prefix_query(field, &literal.phrase, true)
            } else {
                Box::new(TermQuery::new(Term::from_field_text(field, &literal.phrase), IndexRecordOption::Basic))
            }
        };
        let field_name = literal.field_name.as_deref().map(str::to_lowercase);
        let text_fields: Vec<(Field, f32)> = match field_name.as_deref() {
            None => vec![(f.title, TITLE_BOOST), (f.body, 1.0)],
            Some("title" | "titel") => vec![(f.title, 1.0)],
            Some("body" | "text") => vec![(f.body, 1.0)],
            Some("sender" | "absender") => vec![(f.sender, 1.0)],
            Some("az" | "aktenzeichen") => return raw(f.az),
            Some("vz" | "vorgangszeichen") => return raw(f.vz),
            Some("unit" | "oe") => return raw(f.unit),
            Some("channel" | "kanal") => return raw(f.channel),
            Some("kind" | "art") => return raw(f.kind),
            Some("id") => return raw(f.id),
            Some("plan" | "position") => {
                return match Kennzeichen::parse(&literal.phrase) {
                    Ok(k) => {
                        Box::new(TermQuery::new(Term::from_facet(f.plan, &facet_of(&k)), IndexRecordOption::Basic))
                    }
                    Err(_) => Box::new(EmptyQuery),
                };
            }
            // An unknown field name is taken as part of the text.
            Some(_) => vec![(f.title, TITLE_BOOST), (f.body, 1.0)],
        };
        let positioned = self.analyze_positions(&literal.phrase);
        let terms: Vec<String> = positioned.iter().map(|(_, t)| t.clone()).collect();
        let mut alternatives: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if field_name.is_none() {
            // An Aktenzeichen or Vorgangszeichen typed as it is.
            alternatives.push((Occur::Should, Box::new(BoostQuery::new(raw(f.az), 3.0))));
            alternatives.push((Occur::Should, Box::new(BoostQuery::new(raw(f.vz), 3.0))));
        }
        if terms.is_empty() {
            return if alternatives.is_empty() {
                Box::new(EmptyQuery)
            } else {
                Box::new(BooleanQuery::new(alternatives))
            };
        }
        for &(field, boost) in &text_fields {
            let q: Box<dyn Query> = if literal.prefix {
                // `straß*`: words that begin so, in their folded form.
                let last = fold(literal.phrase.split_whitespace().last().unwrap_or(""));
                let q = prefix_query(field, &last, true);
                marks.compound.push(last);
                q
            } else if terms.len() == 1 {
                let term = Term::from_field_text(field, &terms[0]);
                if mode.fuzzy && terms[0].chars().count() >= 4 {
                    Box::new(FuzzyTermQuery::new(term, 1, true))
                } else {
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
                }
            } else if literal.delimiter == Delimiter::None {
                let parts = terms
                    .iter()
                    .map(|t| {
                        let q: Box<dyn Query> =
                            Box::new(TermQuery::new(Term::from_field_text(field, t), IndexRecordOption::WithFreqs));
                        (Occur::Must, q)
                    })
                    .collect();
                Box::new(BooleanQuery::new(parts))
            } else if field == f.sender {
                Box::new(BooleanQuery::new_multiterms_query(
                    terms.iter().map(|t| Term::from_field_text(field, t)).collect(),
                ))
            } else {
                let terms = positioned.iter().map(|(p, t)| (*p, Term::from_field_text(field, t))).collect();
                Box::new(PhraseQuery::new_with_offset_and_slop(terms, literal.slop))
            };
            alternatives.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
        }
        marks.exact.extend(terms.iter().cloned());
        // Compounds: "antrag" finds "Bauantrag" and "Antragsteller".
        if mode.compounds
            && terms.len() == 1
            && !literal.prefix
            && field_name.is_none()
            && terms[0].chars().count() >= MIN_COMPOUND_PART
        {
            let stem = &terms[0];
            marks.compound.push(stem.clone());
            let reversed: String = stem.chars().rev().collect();
            for (prefix, field) in [(stem, f.title), (stem, f.body), (&reversed, f.compound)] {
                let q = prefix_query(field, prefix, false);
                alternatives.push((Occur::Should, Box::new(BoostQuery::new(q, COMPOUND_BOOST))));
            }
        }
        if alternatives.len() == 1 {
            return alternatives.pop().expect("one").1;
        }
        Box::new(BooleanQuery::new(alternatives))
    }

    /// The passage of `text` with the most matches, about `width` bytes,
    /// with the matched words marked.
    pub fn snippet(&self, text: &str, marks: &MatchSpec, width: usize) -> Option<Snippet> {
        if marks.exact.is_empty() && marks.compound.is_empty() {
            return None;
        }
        let mut analyzer = self.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut found: Vec<(usize, usize)> = Vec::new();
        while let Some(token) = stream.next() {
            let t = token.text.as_str();
            let hit = marks.exact.iter().any(|e| e == t || (marks.fuzzy && within_one_edit(e, t)))
                || marks
                    .compound
                    .iter()
                    .any(|c| t.len() > c.len() && (t.starts_with(c.as_str()) || t.ends_with(c.as_str())));
            if hit {
                found.push((token.offset_from, token.offset_to));
            }
        }
        if found.is_empty() {
            return None;
        }
        // The window starting at a match that covers the most matches.
        let (mut best, mut best_count) = (0, 0);
        for (i, &(start, _)) in found.iter().enumerate() {
            let count = found[i..].iter().take_while(|(_, end)| *end <= start + width).count();
            if count > best_count {
                best = i;
                best_count = count;
            }
        }
        let first = found[best].0;
        let mut start = floor_boundary(text, first.saturating_sub(width / 4));
        if start > 0
            && let Some(space) = text[start..first].find(char::is_whitespace)
        {
            start += space + 1;
        }
        let mut end = floor_boundary(text, (start + width).min(text.len()));
        if end < text.len()
            && let Some(space) = text[start..end].rfind(char::is_whitespace)
        {
            end = start + space;
        }
        let end = end.max(found[best].1.min(text.len()));
        let raw = &text[start..end];
        // Collapse whitespace, moving the marks along.
        let mut out = String::with_capacity(raw.len());
        let mut map = Vec::with_capacity(raw.len() + 1);
        let mut last_space = false;
        for (i, c) in raw.char_indices() {
            for _ in 0..c.len_utf8() {
                map.push(out.len());
            }
            let _ = i;
            if c.is_whitespace() {
                if !last_space && !out.is_empty() {
                    out.push(' ');
                }
                last_space = true;
            } else {
                out.push(c);
                last_space = false;
            }
        }
        map.push(out.len());
        let marks = found
            .iter()
            .filter(|(s, e)| *s >= start && *e <= end)
            .map(|(s, e)| (map[s - start], map[e - start].min(out.len())))
            .collect();
        Some(Snippet { text: out.trim_end().to_string(), marks })
    }
}

/// How a query's words are turned into term queries.
#[derive(Clone, Copy, Debug)]
struct Mode {
    /// One edit allowed per word.
    fuzzy: bool,
    /// Words also match the compounds they begin or end.
    compounds: bool,
}

/// The words and phrases of a parsed query.
fn literal_count(ast: &UserInputAst) -> usize {
    match ast {
        UserInputAst::Clause(clauses) => clauses.iter().map(|(_, sub)| literal_count(sub)).sum(),
        UserInputAst::Boost(sub, _) => literal_count(sub),
        UserInputAst::Leaf(leaf) => usize::from(matches!(leaf.as_ref(), UserInputLeaf::Literal(_))),
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn occur_of(occur: Option<tantivy::query_grammar::Occur>) -> Occur {
    match occur {
        Some(tantivy::query_grammar::Occur::Should) => Occur::Should,
        Some(tantivy::query_grammar::Occur::MustNot) => Occur::MustNot,
        // Words without an operator must all match (AND by default).
        Some(tantivy::query_grammar::Occur::Must) | None => Occur::Must,
    }
}

fn combine(text: Option<Box<dyn Query>>, filters: &[Box<dyn Query>]) -> Box<dyn Query> {
    let mut parts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    parts.push((Occur::Must, text.unwrap_or_else(|| Box::new(AllQuery))));
    for f in filters {
        parts.push((Occur::Must, f.box_clone()));
    }
    if parts.len() == 1 {
        return parts.pop().expect("one").1;
    }
    Box::new(BooleanQuery::new(parts))
}

/// Lower-cases and folds like the analyzer does (without stemming), for
/// prefixes the user typed.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.to_lowercase().chars() {
        match c {
            'ä' => out.push('a'),
            'ö' => out.push('o'),
            'ü' => out.push('u'),
            'ß' => out.push_str("ss"),
            c => out.push(c),
        }
    }
    out
}

/// Every term of `field` that starts with `prefix` (and is longer, unless
/// `or_equal`): a range over the term dictionary, no automaton to compile.
fn prefix_query(field: Field, prefix: &str, or_equal: bool) -> Box<dyn Query> {
    let lower = Term::from_field_text(field, prefix);
    let upper = Term::from_field_text(field, &format!("{prefix}\u{10FFFF}"));
    let lower = if or_equal { Bound::Included(lower) } else { Bound::Excluded(lower) };
    Box::new(RangeQuery::new(lower, Bound::Excluded(upper)))
}

fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        if a.len() > b.len() {
            i += 1;
        } else if b.len() > a.len() {
            j += 1;
        } else if i + 1 < a.len() && a[i] == b[j + 1] && a[i + 1] == b[j] {
            // A transposition counts as one edit, as in the fuzzy query.
            i += 2;
            j += 2;
        } else {
            i += 1;
            j += 1;
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_analysis_folds_and_stems() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        assert_eq!(index.analyze("Straße"), index.analyze("Strasse"));
        assert_eq!(index.analyze("Müller"), index.analyze("Mueller"));
        assert_eq!(index.analyze("Anträge"), index.analyze("Antrag"));
        assert!(index.analyze("und der die").is_empty());
    }

    #[test]
    fn snippets_mark_exact_and_compound_matches() {
        let dir = tempfile::tempdir().unwrap();
        let index = SearchIndex::open(dir.path()).unwrap();
        let text = "Sehr geehrte Damen und Herren,\n\nhiermit stelle ich einen Bauantrag. Die Anträge   der Nachbarn liegen bei.";
        let marks = MatchSpec { exact: index.analyze("antrag"), compound: index.analyze("antrag"), fuzzy: false };
        let s = index.snippet(text, &marks, 60).unwrap();
        let marked: Vec<&str> = s.marks.iter().map(|&(a, b)| &s.text[a..b]).collect();
        assert_eq!(marked, ["Bauantrag", "Anträge"], "{s:?}");
        assert!(!s.text.contains("  "), "whitespace collapsed: {s:?}");
        let none = MatchSpec { exact: index.analyze("gebühr"), compound: vec![], fuzzy: false };
        assert_eq!(index.snippet(text, &none, 60), None);
    }

    #[test]
    fn fold_matches_the_analyzer_for_prefixes() {
        assert_eq!(fold("Straß"), "strass");
        assert_eq!(fold("ÜBERWEIS"), "uberweis");
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit("antrag", "antrga"));
        assert!(!within_one_edit("antrag", "natrga"));
        assert!(within_one_edit("antrag", "antrg"));
        assert!(within_one_edit("antrag", "antrax"));
        assert!(within_one_edit("antrag", "antrags"));
        assert!(!within_one_edit("antrag", "vertrag"));
    }
}
