//! Search benchmark: indexing speed, index size, peak memory and query
//! latency (p50/p99) of the tantivy index (`akten::index`) at 10k, 100k and
//! 1M documents, plus criterion groups for indexing and for each query type.
//!
//! Documents are the JSON Lines of `scripts/gen-docs.py`; queries are
//! `scripts/bench-queries.json` (term, and, phrase, prefix, filtered, fuzzy).
//! Every query goes through `SearchIndex::search`, i.e. exactly what
//! `akten search` runs: compound expansion, fuzzy retry below 3 hits, the
//! hit count and the top 10 with their stored fields. Indexing goes through
//! `SearchIndex::stage`/`commit` with the engine's default writer budget,
//! the way `akten reindex` fills the index.
//!
//! Each scale size runs in two child processes, so each peak RSS (VmHWM) is
//! its own: one indexes (peak while indexing), the other opens the finished
//! index and queries it, as a fresh `akten search` process would. The query
//! process then splits a query's time into compiling its regexes and running
//! it (tantivy directly on the same index), and the indexing process
//! measures what a pending `delete_term` (one per staged document) holds.
//! `scripts/bench-search.py` runs this and the SQLite FTS5 baseline on the
//! same documents and queries and prints one comparison table.
//!
//!     cargo bench --bench search                         # 10k, 100k, 1M + criterion at 100k
//!     AKTEN_BENCH_DOCS=10000,100000 AKTEN_BENCH_ONLY=scale cargo bench --bench search
//!     AKTEN_BENCH_ONLY=criterion cargo bench --bench search -- query/term
//!
//! Knobs (environment):
//!   AKTEN_BENCH_DOCS            sizes of the scale runs (default 10000,100000,1000000)
//!   AKTEN_BENCH_DOCS_FILE       JSONL to read (the first N lines are used); default:
//!                               generated with `gen-docs.py --seed 1` into a temp file
//!   AKTEN_BENCH_QUERIES         query set (default scripts/bench-queries.json)
//!   AKTEN_BENCH_ROUNDS          timed rounds over all queries (default 20, after 1 warm-up)
//!   AKTEN_BENCH_BUDGET          writer budget in bytes (default 256 MiB, what `akten reindex` uses)
//!   AKTEN_BENCH_ONLY            scale | criterion (default: both)
//!   AKTEN_BENCH_CRITERION_DOCS  index size for the criterion query groups (default 100000)
//!   AKTEN_BENCH_INDEX_DOCS      documents per iteration of the criterion index group (default 10000)
//!   AKTEN_BENCH_JSON            write the scale figures (and per-query times) as JSON here
//!   AKTEN_BENCH_DIR             where the temporary indexes go (default: the temp dir)
//!   AKTEN_BENCH_MERGE_INDEX     only merge the segments of the index in this folder into one
//!                               (used by scripts/bench-search.py on a real store), then exit
//!
//! Without `--bench` (`cargo test --benches`) it indexes 300 documents,
//! runs every query type once and exits.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use akten::index::{IndexDoc, SearchIndex, SearchQuery};
use akten::model::{Aktenzeichen, DocId, DocKind, Kennzeichen, OrgUnit, Vorgangszeichen};
use criterion::{BatchSize, Criterion, Throughput};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

const QUERY_TYPES: [&str; 6] = ["term", "and", "phrase", "prefix", "filtered", "fuzzy"];
const BATCH: usize = 10_000;
/// The scale runs fill an index as `akten reindex` does.
const DEFAULT_BUDGET: usize = akten::index::REBUILD_WRITER_BUDGET;
const CHILD_ENV: &str = "AKTEN_BENCH_SEARCH_CHILD";

// ---------------------------------------------------------------------------- input

/// One line of gen-docs.py.
#[derive(Deserialize)]
struct Line {
    id: String,
    title: String,
    body: String,
    aktenzeichen: Option<String>,
    vorgangszeichen: Option<String>,
    plan: Option<String>,
    unit: Option<String>,
    channel: String,
    kind: DocKind,
    sender: Option<String>,
    received: Date,
    date: Option<Date>,
}

impl Line {
    fn into_doc(self) -> IndexDoc {
        IndexDoc {
            id: self.id.parse::<DocId>().unwrap_or_else(|e| panic!("id {:?}: {e}", self.id)),
            version: 1,
            title: self.title,
            body: self.body,
            aktenzeichen: self.aktenzeichen.map(Aktenzeichen::new),
            vorgangszeichen: self.vorgangszeichen.map(Vorgangszeichen::new),
            position: self.plan.map(|p| Kennzeichen::parse(&p).unwrap_or_else(|e| panic!("{e}"))),
            unit: self.unit.map(OrgUnit::new),
            channel: self.channel,
            kind: self.kind,
            sender: self.sender,
            received: self.received,
            date: self.date,
        }
    }
}

/// Reads the first `n` documents, in batches; returns the time spent parsing.
fn for_each_batch(path: &Path, n: usize, mut f: impl FnMut(&[IndexDoc])) -> (usize, Duration) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = BufReader::with_capacity(1 << 20, file).lines();
    let mut parse = Duration::ZERO;
    let mut count = 0;
    let mut batch = Vec::with_capacity(BATCH.min(n));
    while count < n {
        let started = Instant::now();
        let Some(line) = lines.next() else { break };
        let line = line.unwrap();
        let doc = serde_json::from_str::<Line>(&line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), count + 1))
            .into_doc();
        parse += started.elapsed();
        batch.push(doc);
        count += 1;
        if batch.len() == BATCH {
            f(&batch);
            batch.clear();
        }
    }
    if !batch.is_empty() {
        f(&batch);
    }
    (count, parse)
}

fn load_docs(path: &Path, n: usize) -> Vec<IndexDoc> {
    let mut out = Vec::with_capacity(n);
    for_each_batch(path, n, |b| out.extend_from_slice(b));
    assert_eq!(out.len(), n, "{} has fewer than {n} documents", path.display());
    out
}

#[derive(Deserialize)]
struct Filtered {
    q: String,
    plan: String,
}

#[derive(Deserialize)]
struct QueryFile {
    term: Vec<String>,
    and: Vec<Vec<String>>,
    phrase: Vec<String>,
    prefix: Vec<String>,
    filtered: Vec<Filtered>,
    fuzzy: Vec<String>,
}

/// A query of the set as `akten search` would get it.
#[derive(Clone)]
struct Bench {
    kind: &'static str,
    label: String,
    query: SearchQuery,
}

fn search_query(text: String, position: Option<Kennzeichen>) -> SearchQuery {
    SearchQuery { text, position, limit: 10, ..SearchQuery::default() }
}

fn read_queries(path: &Path) -> Vec<Bench> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let q: QueryFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut push = |kind: &'static str, label: String, query: SearchQuery| out.push(Bench { kind, label, query });
    for w in q.term {
        push("term", w.clone(), search_query(w, None));
    }
    for pair in q.and {
        let text = pair.join(" ");
        push("and", text.clone(), search_query(text, None));
    }
    for p in q.phrase {
        push("phrase", p.clone(), search_query(format!("\"{p}\""), None));
    }
    for p in q.prefix {
        push("prefix", p.clone(), search_query(format!("{p}*"), None));
    }
    for f in q.filtered {
        let k = Kennzeichen::parse(&f.plan).unwrap_or_else(|e| panic!("{e}"));
        push("filtered", format!("{} in {}", f.q, f.plan), search_query(f.q, Some(k)));
    }
    for w in q.fuzzy {
        push("fuzzy", w.clone(), search_query(w, None));
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn base_dir() -> PathBuf {
    std::env::var_os("AKTEN_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{name}: not a number"))).unwrap_or(default)
}

/// Runs gen-docs.py into `out` (the corpus vocabulary when it is there).
fn generate(n: usize, out: &Path, wortliste_only: bool) {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(root().join("scripts/gen-docs.py")).args(["--n", &n.to_string(), "--seed", "1", "--out"]).arg(out);
    if wortliste_only {
        cmd.arg("--wortliste-only");
    }
    eprintln!("generating {n} documents with scripts/gen-docs.py ...");
    let status = cmd.status().expect("python3 runs scripts/gen-docs.py");
    assert!(status.success(), "gen-docs.py failed");
}

// ---------------------------------------------------------------------------- measuring

/// Peak and current resident memory of this process in KiB, from /proc.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() { dir_size(&entry.path()) } else { meta.len() };
    }
    total
}

/// Nearest-rank percentile of sorted values (as scripts/fts5-baseline.py).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let k = ((p / 100.0 * n as f64 + 0.5).round() as usize).saturating_sub(1).min(n - 1);
    sorted[k]
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct TypeResult {
    queries: usize,
    samples: usize,
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
    max_ms: f64,
    hits_min: usize,
    hits_median: usize,
    hits_max: usize,
    /// Queries answered by the fuzzy retry.
    fuzzy_answers: usize,
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct PerQuery {
    kind: String,
    query: String,
    hits: usize,
    fuzzy: bool,
    median_ms: f64,
    max_ms: f64,
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct ScaleResult {
    docs: usize,
    writer_budget: usize,
    parse_s: f64,
    stage_s: f64,
    commit_s: f64,
    /// stage() of all batches + commit(): what `akten reindex` waits for.
    index_s: f64,
    docs_per_s: f64,
    /// close_writer(): waiting for the background merges after the commit.
    merge_wait_s: f64,
    segments_at_commit: usize,
    segments: usize,
    index_bytes: u64,
    bytes_per_doc: f64,
    /// Per field (title, body, compound, ...), bytes over all components.
    field_bytes: BTreeMap<String, u64>,
    /// Per component (termdict, postings, positions, fieldnorms, fast, store).
    component_bytes: BTreeMap<String, u64>,
    /// Bytes of the `compound` field (reversed stems) in all its files.
    compound_bytes: u64,
    /// One extra analysis pass over title + body (what reversed_stems adds
    /// per document), measured on up to 20,000 documents, µs per document.
    analysis_us_per_doc: f64,
    index_us_per_doc: f64,
    rss_before_kib: u64,
    peak_rss_index_kib: u64,
    /// Bytes of anonymous memory per pending delete_term (see delete_op_cost).
    delete_op_bytes: f64,
    open_ms: f64,
    rss_before_query_kib: u64,
    peak_rss_query_kib: u64,
    rss_after_queries_kib: u64,
    rounds: usize,
    types: BTreeMap<String, TypeResult>,
    per_query: Vec<PerQuery>,
    diag: Diag,
}

/// Where a query's time goes, measured with tantivy directly on the same
/// index (see `diagnose`).
#[derive(Serialize, Deserialize, Clone, Default)]
struct Diag {
    /// Compiling the RegexQuery objects `SearchIndex::search` builds for a
    /// query of the type (compound and prefix patterns): ms p50, p99, and
    /// the number of patterns.
    regex_compile: BTreeMap<String, (f64, f64, usize)>,
    /// "term" and "and" queries built like SearchIndex::literal does, count +
    /// top 10 + stored fields: "plain" (title^2 + body terms only),
    /// "ranges" (+ the compound alternatives as term-range queries),
    /// "regex" (+ the compound alternatives as the RegexQuery the index
    /// uses, compiled beforehand).
    variants: BTreeMap<String, BTreeMap<String, Variant>>,
}

#[derive(Serialize, Deserialize, Clone, Default)]
struct Variant {
    p50_ms: f64,
    p99_ms: f64,
    hits_median: usize,
}

fn segments_in(dir: &Path) -> usize {
    let meta = std::fs::read_to_string(dir.join("meta.json")).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&meta)
        .ok()
        .and_then(|v| v.get("segments").and_then(|s| s.as_array()).map(Vec::len))
        .unwrap_or(0)
}

/// Bytes per field and per component, from tantivy's own accounting.
fn space_usage(dir: &Path) -> (BTreeMap<String, u64>, BTreeMap<String, u64>, u64) {
    let index = tantivy::Index::open_in_dir(dir).unwrap();
    let reader = index.reader().unwrap();
    let usage = reader.searcher().space_usage().unwrap();
    let mut fields: BTreeMap<String, u64> = BTreeMap::new();
    let mut components: BTreeMap<String, u64> = BTreeMap::new();
    for seg in usage.segments() {
        for (name, part) in [
            ("termdict", seg.termdict()),
            ("postings", seg.postings()),
            ("positions", seg.positions()),
            ("fast_fields", seg.fast_fields()),
            ("fieldnorms", seg.fieldnorms()),
        ] {
            *components.entry(name.into()).or_default() += part.total().get_bytes();
            for f in part.fields() {
                *fields.entry(f.field_name().to_string()).or_default() += f.total().get_bytes();
            }
        }
        *components.entry("store".into()).or_default() += seg.store().total().get_bytes();
        *components.entry("deletes".into()).or_default() += seg.deletes().get_bytes();
    }
    (fields, components, usage.total().get_bytes())
}

/// Runs every query once (warm-up, hit counts), then `rounds` timed rounds.
fn run_queries(index: &SearchIndex, queries: &[Bench], rounds: usize) -> (BTreeMap<String, TypeResult>, Vec<PerQuery>) {
    let mut hits = Vec::with_capacity(queries.len());
    for b in queries {
        let r = index.search(&b.query).unwrap();
        hits.push((r.total, r.fuzzy));
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); queries.len()];
    for round in 0..rounds {
        // Alternate the order so no query always follows the same one.
        let order: Vec<usize> =
            if round % 2 == 0 { (0..queries.len()).collect() } else { (0..queries.len()).rev().collect() };
        for i in order {
            let started = Instant::now();
            let r = index.search(&queries[i].query).unwrap();
            times[i].push(started.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(r);
        }
    }
    let mut types = BTreeMap::new();
    let mut per_query = Vec::new();
    for kind in QUERY_TYPES {
        let idx: Vec<usize> = (0..queries.len()).filter(|&i| queries[i].kind == kind).collect();
        if idx.is_empty() {
            continue;
        }
        let mut all: Vec<f64> = idx.iter().flat_map(|&i| times[i].iter().copied()).collect();
        all.sort_by(f64::total_cmp);
        let mut h: Vec<usize> = idx.iter().map(|&i| hits[i].0).collect();
        h.sort_unstable();
        types.insert(
            kind.to_string(),
            TypeResult {
                queries: idx.len(),
                samples: all.len(),
                p50_ms: percentile(&all, 50.0),
                p99_ms: percentile(&all, 99.0),
                mean_ms: all.iter().sum::<f64>() / all.len() as f64,
                max_ms: *all.last().unwrap(),
                hits_min: h[0],
                hits_median: h[h.len() / 2],
                hits_max: *h.last().unwrap(),
                fuzzy_answers: idx.iter().filter(|&&i| hits[i].1).count(),
            },
        );
        for &i in &idx {
            let mut t = times[i].clone();
            t.sort_by(f64::total_cmp);
            per_query.push(PerQuery {
                kind: kind.to_string(),
                query: queries[i].label.clone(),
                hits: hits[i].0,
                fuzzy: hits[i].1,
                median_ms: t[t.len() / 2],
                max_ms: *t.last().unwrap(),
            });
        }
    }
    (types, per_query)
}

/// The indexing half of a scale run: index `n` documents into `dir` and
/// measure. Meant to run alone in its process (peak RSS).
fn index_phase(docs_file: &Path, n: usize, budget: usize, dir: &Path) -> ScaleResult {
    // First, on a fresh heap (freed memory would be reused and hide it):
    // what one pending delete_term holds.
    let delete_op_bytes = {
        let scratch = tempfile::tempdir_in(base_dir()).unwrap();
        drop(SearchIndex::open(scratch.path()).unwrap());
        delete_op_cost(scratch.path(), n.clamp(1_000, 100_000))
    };
    let (_, rss_before) = memory_kib();
    let mut index = SearchIndex::open(dir).unwrap();
    index.set_writer_budget(budget);
    let mut stage = Duration::ZERO;
    let mut last_report = Instant::now();
    let mut done = 0;
    let (count, parse) = for_each_batch(docs_file, n, |batch| {
        let started = Instant::now();
        // As `akten reindex` fills an index: no per-document deletes, and a
        // commit (marked incomplete) every 100,000 documents.
        index.stage_new(batch).unwrap();
        done += batch.len();
        if done % 100_000 == 0 {
            index.commit_partial().unwrap();
        }
        stage += started.elapsed();
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let (_, rss) = memory_kib();
            eprintln!(
                "  staged {done} documents, {:.0} docs/s, RSS {} MiB",
                done as f64 / stage.as_secs_f64(),
                rss >> 10
            );
        }
    });
    assert_eq!(count, n, "{} has only {count} documents, {n} asked for", docs_file.display());
    let started = Instant::now();
    index.commit(1).unwrap();
    let commit = started.elapsed();
    let index_time = stage + commit;
    let segments_at_commit = segments_in(dir);
    let started = Instant::now();
    index.close_writer().unwrap();
    let merge_wait = started.elapsed();
    let (peak_index, _) = memory_kib();
    drop(index);
    let index_bytes = dir_size(dir);
    let segments = segments_in(dir);
    let (field_bytes, component_bytes, _) = space_usage(dir);
    let compound_bytes = field_bytes.get("compound").copied().unwrap_or(0);
    eprintln!(
        "  {n} documents indexed in {:.1} s ({:.0} docs/s; commit {:.1} s), merges {:.1} s, {} MiB, {segments} segments, peak RSS {} MiB",
        index_time.as_secs_f64(),
        n as f64 / index_time.as_secs_f64(),
        commit.as_secs_f64(),
        merge_wait.as_secs_f64(),
        index_bytes / (1 << 20),
        peak_index >> 10
    );

    // The cost of the extra analysis pass of reversed_stems, measured apart.
    let sample = n.min(20_000);
    let scratch = tempfile::tempdir_in(base_dir()).unwrap();
    let analyzer = SearchIndex::open(scratch.path()).unwrap();
    let mut analysis = Duration::ZERO;
    for_each_batch(docs_file, sample, |batch| {
        let started = Instant::now();
        for d in batch {
            std::hint::black_box(analyzer.analyze(&d.title));
            std::hint::black_box(analyzer.analyze(&d.body));
        }
        analysis += started.elapsed();
    });
    drop(analyzer);
    ScaleResult {
        docs: n,
        writer_budget: budget,
        parse_s: parse.as_secs_f64(),
        stage_s: stage.as_secs_f64(),
        commit_s: commit.as_secs_f64(),
        index_s: index_time.as_secs_f64(),
        docs_per_s: n as f64 / index_time.as_secs_f64(),
        merge_wait_s: merge_wait.as_secs_f64(),
        segments_at_commit,
        segments,
        index_bytes,
        bytes_per_doc: index_bytes as f64 / n as f64,
        field_bytes,
        component_bytes,
        compound_bytes,
        analysis_us_per_doc: analysis.as_secs_f64() * 1e6 / sample as f64,
        index_us_per_doc: index_time.as_secs_f64() * 1e6 / n as f64,
        rss_before_kib: rss_before,
        peak_rss_index_kib: peak_index,
        delete_op_bytes,
        ..ScaleResult::default()
    }
}

/// Anonymous memory held per pending `IndexWriter::delete_term`, which
/// `SearchIndex::stage` issues for every document it adds (upsert): `ops`
/// deletes of fresh ids on the (empty) index in `dir`, never committed.
fn delete_op_cost(dir: &Path, ops: usize) -> f64 {
    let anon = || {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let index = tantivy::Index::open_in_dir(dir).unwrap();
    let id = index.schema().get_field("id").unwrap();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
    let before = anon();
    for _ in 0..ops {
        writer.delete_term(tantivy::Term::from_field_text(id, &DocId::new_random().to_string()));
    }
    let after = anon();
    writer.rollback().unwrap();
    drop(writer);
    (after.saturating_sub(before) * 1024) as f64 / ops as f64
}

/// The query half: a fresh process opens the index, as `akten search`
/// does, and runs every query; then the diagnosis.
fn query_phase(dir: &Path, n: usize, queries: &[Bench], rounds: usize) -> ScaleResult {
    let (_, rss_before) = memory_kib();
    let started = Instant::now();
    let index = SearchIndex::open(dir).unwrap();
    let open = started.elapsed();
    assert_eq!(index.len(), n as u64);
    let (types, per_query) = run_queries(&index, queries, rounds);
    let (peak_query, rss_after) = memory_kib();
    let diag = diagnose(dir, &index, queries, rounds.min(10));
    drop(index);
    ScaleResult {
        open_ms: open.as_secs_f64() * 1000.0,
        rss_before_query_kib: rss_before,
        peak_rss_query_kib: peak_query,
        rss_after_queries_kib: rss_after,
        rounds,
        types,
        per_query,
        diag,
        ..ScaleResult::default()
    }
}

/// Both halves in this process (the smoke test).
fn scale_run(docs_file: &Path, n: usize, queries: &[Bench], rounds: usize, budget: usize) -> ScaleResult {
    let tmp = tempfile::tempdir_in(base_dir()).unwrap();
    let dir = tmp.path().join("index");
    let index = index_phase(docs_file, n, budget, &dir);
    merge_results(index, query_phase(&dir, n, queries, rounds))
}

fn merge_results(index: ScaleResult, query: ScaleResult) -> ScaleResult {
    ScaleResult {
        open_ms: query.open_ms,
        rss_before_query_kib: query.rss_before_query_kib,
        peak_rss_query_kib: query.peak_rss_query_kib,
        rss_after_queries_kib: query.rss_after_queries_kib,
        rounds: query.rounds,
        types: query.types,
        per_query: query.per_query,
        diag: query.diag,
        ..index
    }
}

fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(&v, 50.0), percentile(&v, 99.0))
}

/// The regex patterns `SearchIndex::search` compiles for a query (see
/// `SearchIndex::literal`): per word of 4+ letters `stem.+` on title and
/// body and the reversed stem `.+` on compound; for `prefix*` the folded
/// prefix `.*` on az, vz, title and body. The fuzzy retry (fewer than 3
/// hits) compiles the word's patterns a second time; not counted here.
fn regex_patterns(analyzer: &SearchIndex, b: &Bench) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if b.kind == "prefix" {
        let p = akten::index::fold(&b.label);
        for field in ["az", "vz", "title", "body"] {
            out.push((field, format!("{p}.*")));
        }
        return out;
    }
    if b.kind == "phrase" {
        return out;
    }
    for word in b.query.text.split_whitespace() {
        let terms = analyzer.analyze(word);
        if terms.len() == 1 && terms[0].chars().count() >= akten::index::MIN_COMPOUND_PART {
            let stem = &terms[0];
            let reversed: String = stem.chars().rev().collect();
            out.push(("title", format!("{stem}.+")));
            out.push(("body", format!("{stem}.+")));
            out.push(("compound", format!("{reversed}.+")));
        }
    }
    out
}

/// Splits the time of a query into building its regexes and running it,
/// and times what term and AND queries cost with the compound alternatives
/// as term-range queries (no regex to compile) or left out.
fn diagnose(dir: &Path, akten_index: &SearchIndex, queries: &[Bench], rounds: usize) -> Diag {
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RangeQuery, RegexQuery, TermQuery};
    use tantivy::schema::IndexRecordOption;
    use tantivy::{TantivyDocument, Term};

    let index = tantivy::Index::open_in_dir(dir).unwrap();
    index.tokenizers().register(akten::index::GERMAN, akten::index::german_analyzer());
    let schema = index.schema();
    let field = |name: &str| schema.get_field(name).unwrap();
    let (title, body, compound) = (field("title"), field("body"), field("compound"));
    let searcher = index.reader().unwrap().searcher();
    let mut diag = Diag::default();

    for kind in QUERY_TYPES {
        let mut times = Vec::new();
        let mut count = 0;
        for b in queries.iter().filter(|b| b.kind == kind) {
            let patterns = regex_patterns(akten_index, b);
            count = count.max(patterns.len());
            for _ in 0..rounds {
                let started = Instant::now();
                for (f, p) in &patterns {
                    std::hint::black_box(RegexQuery::from_pattern(p, field(f)).ok());
                }
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        if !times.is_empty() {
            let (p50, p99) = p50_p99(times);
            diag.regex_compile.insert(kind.to_string(), (p50, p99, count));
        }
    }

    let run = |q: &dyn Query| {
        let (n, top) = searcher.search(q, &(Count, TopDocs::with_limit(10).order_by_score())).unwrap();
        for (_, address) in top {
            std::hint::black_box(searcher.doc::<TantivyDocument>(address).unwrap());
        }
        n
    };
    let boosted = |q: Box<dyn Query>, boost: f32| -> (Occur, Box<dyn Query>) {
        (Occur::Should, Box::new(BoostQuery::new(q, boost)))
    };
    // One word as SearchIndex::literal builds it (without the az/vz
    // alternatives): title^2 and body, plus the three compound matches.
    let word = |stem: &str, variant: &str| -> Box<dyn Query> {
        let term_q = |f| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(f, stem), IndexRecordOption::WithFreqs))
        };
        let mut parts = vec![boosted(term_q(title), 2.0), boosted(term_q(body), 1.0)];
        if variant != "plain" && stem.chars().count() >= akten::index::MIN_COMPOUND_PART {
            let reversed: String = stem.chars().rev().collect();
            for (f, s) in [(title, stem), (body, stem), (compound, reversed.as_str())] {
                let q: Box<dyn Query> = if variant == "ranges" {
                    Box::new(RangeQuery::new(
                        std::ops::Bound::Excluded(Term::from_field_text(f, s)),
                        std::ops::Bound::Excluded(Term::from_field_text(f, &format!("{s}\u{10FFFF}"))),
                    ))
                } else {
                    Box::new(RegexQuery::from_pattern(&format!("{s}.+"), f).unwrap())
                };
                parts.push(boosted(q, 0.3));
            }
        }
        Box::new(BooleanQuery::new(parts))
    };
    for kind in ["term", "and"] {
        let mut samples: BTreeMap<&str, (Vec<f64>, Vec<usize>)> = BTreeMap::new();
        for b in queries.iter().filter(|b| b.kind == kind) {
            let stems: Vec<String> = b.query.text.split_whitespace().flat_map(|w| akten_index.analyze(w)).collect();
            if stems.is_empty() {
                continue;
            }
            let build = |variant: &str| -> Box<dyn Query> {
                if stems.len() == 1 {
                    word(&stems[0], variant)
                } else {
                    Box::new(BooleanQuery::new(stems.iter().map(|s| (Occur::Must, word(s, variant))).collect()))
                }
            };
            let variants = [("plain", build("plain")), ("ranges", build("ranges")), ("regex", build("regex"))];
            let hits: Vec<usize> = variants.iter().map(|(_, q)| run(q.as_ref())).collect();
            assert_eq!(hits[1], hits[2], "term ranges and regexes match the same for {}", b.label);
            for ((name, _), h) in variants.iter().zip(&hits) {
                samples.entry(name).or_default().1.push(*h);
            }
            for _ in 0..rounds {
                for (name, q) in &variants {
                    let started = Instant::now();
                    std::hint::black_box(run(q.as_ref()));
                    samples.entry(name).or_default().0.push(started.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
        let mut out = BTreeMap::new();
        for (name, (times, mut hits)) in samples {
            let (p50, p99) = p50_p99(times);
            hits.sort_unstable();
            out.insert(name.to_string(), Variant { p50_ms: p50, p99_ms: p99, hits_median: hits[hits.len() / 2] });
        }
        diag.variants.insert(kind.to_string(), out);
    }
    diag
}

// ---------------------------------------------------------------------------- reporting

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn print_scale(results: &[ScaleResult]) {
    println!("\n### Indexing (SearchIndex::stage + commit, writer budget {} MiB)\n", results[0].writer_budget >> 20);
    println!(
        "| documents | index time | docs/s | merge wait | segments (commit / merged) | index size | B/doc | compound field | peak RSS indexing | open | peak RSS querying |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        println!(
            "| {} | {:.1} s | {:.0} | {:.1} s | {} / {} | {:.1} MiB | {:.0} | {:.1} MiB ({:.1} %) | {} | {:.1} ms | {} |",
            r.docs,
            r.index_s,
            r.docs_per_s,
            r.merge_wait_s,
            r.segments_at_commit,
            r.segments,
            r.index_bytes as f64 / (1 << 20) as f64,
            r.bytes_per_doc,
            r.compound_bytes as f64 / (1 << 20) as f64,
            100.0 * r.compound_bytes as f64 / r.index_bytes as f64,
            mib(r.peak_rss_index_kib),
            r.open_ms,
            mib(r.peak_rss_query_kib),
        );
    }
    println!("\n### Query latency (SearchIndex::search: count + top 10 with stored fields), ms\n");
    println!(
        "| documents | type | queries × rounds | p50 | p99 | mean | max | hits min / median / max | fuzzy retries |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in results {
        for (kind, t) in &r.types {
            println!(
                "| {} | {kind} | {} × {} | {:.3} | {:.3} | {:.3} | {:.3} | {} / {} / {} | {} |",
                r.docs,
                t.queries,
                r.rounds,
                t.p50_ms,
                t.p99_ms,
                t.mean_ms,
                t.max_ms,
                t.hits_min,
                t.hits_median,
                t.hits_max,
                t.fuzzy_answers
            );
        }
    }
    println!("\n### Index size by field (tantivy space_usage), MiB\n");
    println!("| documents | {} |", results[0].field_bytes.keys().cloned().collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---|".repeat(results[0].field_bytes.len()));
    for r in results {
        let cells: Vec<String> =
            r.field_bytes.values().map(|b| format!("{:.1}", *b as f64 / (1 << 20) as f64)).collect();
        println!("| {} | {} |", r.docs, cells.join(" | "));
    }
    println!("\n| documents | {} |", results[0].component_bytes.keys().cloned().collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---|".repeat(results[0].component_bytes.len()));
    for r in results {
        let cells: Vec<String> =
            r.component_bytes.values().map(|b| format!("{:.1}", *b as f64 / (1 << 20) as f64)).collect();
        println!("| {} | {} |", r.docs, cells.join(" | "));
    }
    println!("\n### Where query time goes (tantivy directly on the same index), ms p50 / p99\n");
    println!("| documents | regex compile per query: {} |", QUERY_TYPES.join(" / "));
    println!("|---|---|");
    for r in results {
        let compile: Vec<String> = QUERY_TYPES
            .iter()
            .map(|k| r.diag.regex_compile.get(*k).map_or("-".into(), |(a, b, n)| format!("{a:.2} / {b:.2} ({n})")))
            .collect();
        println!("| {} | {} |", r.docs, compile.join(" · "));
    }
    println!(
        "\n| documents | type | title+body terms only | + compound as term ranges | + compound as regex, precompiled | hits median (plain / compound) |"
    );
    println!("|---|---|---|---|---|---|");
    for r in results {
        for (kind, v) in &r.diag.variants {
            let cell = |name: &str| v.get(name).map_or("-".into(), |x| format!("{:.3} / {:.3}", x.p50_ms, x.p99_ms));
            let hits = |name: &str| v.get(name).map_or(0, |x| x.hits_median);
            println!(
                "| {} | {kind} | {} | {} | {} | {} / {} |",
                r.docs,
                cell("plain"),
                cell("ranges"),
                cell("regex"),
                hits("plain"),
                hits("ranges")
            );
        }
    }
    println!(
        "\n| documents | indexing µs/doc | stage / commit s | one extra analysis pass of title + body, µs/doc | bytes per pending delete_term |"
    );
    println!("|---|---|---|---|---|");
    for r in results {
        println!(
            "| {} | {:.1} | {:.1} / {:.1} | {:.1} | {:.0} |",
            r.docs, r.index_us_per_doc, r.stage_s, r.commit_s, r.analysis_us_per_doc, r.delete_op_bytes
        );
    }
}

// ---------------------------------------------------------------------------- criterion

fn criterion_groups(docs_file: &Path, queries: &[Bench]) {
    let mut c = Criterion::default().configure_from_args();
    let index_docs = env_usize("AKTEN_BENCH_INDEX_DOCS", 10_000);
    let budget = env_usize("AKTEN_BENCH_BUDGET", DEFAULT_BUDGET);
    let docs = load_docs(docs_file, index_docs);
    {
        let mut group = c.benchmark_group("index");
        group.sample_size(10);
        group.throughput(Throughput::Elements(docs.len() as u64));
        group.bench_function(format!("stage_commit_{index_docs}_docs"), |b| {
            b.iter_batched(
                || tempfile::tempdir_in(base_dir()).unwrap(),
                |tmp| {
                    let mut index = SearchIndex::open(&tmp.path().join("index")).unwrap();
                    index.set_writer_budget(budget);
                    for batch in docs.chunks(BATCH) {
                        index.stage(batch, &[]).unwrap();
                    }
                    index.commit(1).unwrap();
                    index.close_writer().unwrap();
                    tmp
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
    drop(docs);

    let n = env_usize("AKTEN_BENCH_CRITERION_DOCS", 100_000);
    let tmp = tempfile::tempdir_in(base_dir()).unwrap();
    let dir = tmp.path().join("index");
    eprintln!("criterion: indexing {n} documents for the query groups ...");
    let mut index = SearchIndex::open(&dir).unwrap();
    index.set_writer_budget(budget);
    let (count, _) = for_each_batch(docs_file, n, |batch| index.stage(batch, &[]).unwrap());
    assert_eq!(count, n, "{} has fewer than {n} documents", docs_file.display());
    index.commit(1).unwrap();
    index.close_writer().unwrap();
    drop(index);
    let index = SearchIndex::open(&dir).unwrap();
    let mut group = c.benchmark_group(format!("query_{}k", n / 1000));
    group.measurement_time(Duration::from_secs(5));
    for kind in QUERY_TYPES {
        let set: Vec<&SearchQuery> = queries.iter().filter(|b| b.kind == kind).map(|b| &b.query).collect();
        if set.is_empty() {
            continue;
        }
        // One iteration = the next query of the type, round robin: the
        // estimate is the mean over the type's queries.
        group.bench_function(kind, |b| {
            let mut i = 0;
            b.iter(|| {
                let q = set[i % set.len()];
                i += 1;
                index.search(q).unwrap()
            })
        });
    }
    group.finish();
    c.final_summary();
}

// ---------------------------------------------------------------------------- main

fn child(spec: &str) -> ! {
    // phase:n:rounds:budget:docs_file:queries_file:index_dir:out
    let mut parts = spec.splitn(8, ':');
    let phase = parts.next().unwrap().to_string();
    let n: usize = parts.next().unwrap().parse().unwrap();
    let rounds: usize = parts.next().unwrap().parse().unwrap();
    let budget: usize = parts.next().unwrap().parse().unwrap();
    let docs = PathBuf::from(parts.next().unwrap());
    let queries = read_queries(Path::new(parts.next().unwrap()));
    let dir = PathBuf::from(parts.next().unwrap());
    let out = PathBuf::from(parts.next().unwrap());
    let result = match phase.as_str() {
        "index" => index_phase(&docs, n, budget, &dir),
        "query" => query_phase(&dir, n, &queries, rounds),
        other => panic!("unknown phase {other}"),
    };
    std::fs::write(&out, serde_json::to_vec(&result).unwrap()).unwrap();
    std::process::exit(0);
}

fn run_child(n: usize, rounds: usize, budget: usize, docs: &Path, queries: &Path) -> ScaleResult {
    let tmp = tempfile::tempdir_in(base_dir()).unwrap();
    let dir = tmp.path().join("index");
    let phase = |phase: &str| -> ScaleResult {
        let out = tmp.path().join(format!("{phase}.json"));
        eprintln!("scale run: {n} documents, {phase} (child process)");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env(
                CHILD_ENV,
                format!(
                    "{phase}:{n}:{rounds}:{budget}:{}:{}:{}:{}",
                    docs.display(),
                    queries.display(),
                    dir.display(),
                    out.display()
                ),
            )
            .status()
            .unwrap();
        assert!(status.success(), "{phase} run of {n} documents failed");
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
    };
    let index = phase("index");
    let query = phase("query");
    merge_results(index, query)
}

/// Merges all segments of the index in `dir` into one (for the fresh-process
/// comparison in scripts/bench-search.py); the commit payload is kept.
fn merge_index(dir: &Path) {
    let index = tantivy::Index::open_in_dir(dir).unwrap();
    let ids = index.searchable_segment_ids().unwrap();
    let before = ids.len();
    let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 64 * 1024 * 1024).unwrap();
    if ids.len() > 1 {
        writer.merge(&ids).wait().unwrap();
    }
    writer.wait_merging_threads().unwrap();
    let after = index.searchable_segment_ids().unwrap().len();
    println!("{{\"segments_before\": {before}, \"segments_after\": {after}}}");
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
    }
    if let Some(dir) = std::env::var_os("AKTEN_BENCH_MERGE_INDEX") {
        merge_index(Path::new(&dir));
        return;
    }
    let queries_path = std::env::var_os("AKTEN_BENCH_QUERIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("scripts/bench-queries.json"));
    let queries = read_queries(&queries_path);
    let args: Vec<String> = std::env::args().collect();
    let scratch = tempfile::tempdir_in(base_dir()).unwrap();

    // `cargo test --benches` runs this without --bench: keep it small.
    if !args.iter().any(|a| a == "--bench") {
        let docs = scratch.path().join("docs.jsonl");
        generate(300, &docs, true);
        let r = scale_run(&docs, 300, &queries, 1, DEFAULT_BUDGET);
        assert_eq!(r.types.len(), QUERY_TYPES.len());
        print_scale(&[r]);
        return;
    }

    let sizes: Vec<usize> = std::env::var("AKTEN_BENCH_DOCS")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("AKTEN_BENCH_DOCS: comma-separated counts"))
        .collect();
    let criterion_docs = env_usize("AKTEN_BENCH_CRITERION_DOCS", 100_000);
    let only = std::env::var("AKTEN_BENCH_ONLY").unwrap_or_default();
    let (scale, crit) = match only.as_str() {
        "" => (true, true),
        "scale" => (true, false),
        "criterion" => (false, true),
        other => panic!("AKTEN_BENCH_ONLY: scale or criterion, not {other:?}"),
    };
    let mut needed = if scale { sizes.iter().copied().max().unwrap_or(0) } else { 0 };
    if crit {
        needed = needed.max(criterion_docs).max(env_usize("AKTEN_BENCH_INDEX_DOCS", 10_000));
    }
    let docs_file = match std::env::var_os("AKTEN_BENCH_DOCS_FILE") {
        Some(path) => PathBuf::from(path),
        None => {
            let path = scratch.path().join("docs.jsonl");
            generate(needed, &path, false);
            path
        }
    };
    let rounds = env_usize("AKTEN_BENCH_ROUNDS", 20);
    let budget = env_usize("AKTEN_BENCH_BUDGET", DEFAULT_BUDGET);

    if scale {
        let mut results = Vec::new();
        for &n in &sizes {
            results.push(run_child(n, rounds, budget, &docs_file, &queries_path));
        }
        print_scale(&results);
        if let Some(out) = std::env::var_os("AKTEN_BENCH_JSON") {
            std::fs::write(&out, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
            eprintln!("figures written to {}", PathBuf::from(out).display());
        }
    }
    if crit {
        criterion_groups(&docs_file, &queries);
    }
}
