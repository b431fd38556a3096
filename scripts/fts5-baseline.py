#!/usr/bin/env python3
"""SQLite FTS5 baseline for akten's full-text search: load documents, time queries.

What it does
    Loads the JSON Lines documents of scripts/gen-docs.py into SQLite FTS5, set up as
    well as FTS5 allows (the team's rust-stack.md notes, section 10, "A fair SQLite
    FTS5 baseline"), and runs the query set of scripts/bench-queries.json against it:

    * table  docs USING fts5(title, body, tokenize='unicode61 remove_diacritics 2'),
      rowid = line number; the text is stored (like tantivy's STORED fields, needed for
      snippets). After loading: INSERT INTO docs(docs) VALUES('optimize') and VACUUM.
    * plan filter through a separate table plan(id INTEGER PRIMARY KEY, code TEXT) with
      an index on code (covering: the index holds the rowid). A subtree of the Aktenplan
      is selected with index ranges, correct for its hierarchy (Kennzeichen::parent in
      src/model.rs: "610.07" -> "610" -> "61" -> "6"):
          code = :x OR (code > :lo AND code < :hi)
      with lo/hi = x + "." / x + "/" for a Betreffseinheit ("610.07": itself and any
      "610.07.*") and lo/hi = x / x with its last digit raised for a group ("61":
      "61" <= code < "62"). A plain prefix is right for groups but not for a
      Betreffseinheit ('610.07%' also takes "610.071"), and code LIKE 'x%' scans the
      whole plan table: LIKE is case-insensitive, so SQLite cannot use the BINARY
      index for it (EXPLAIN QUERY PLAN: SCAN plan; GLOB or ranges use the index).
      Two ways of applying the filter are timed:
      "in"   ... AND +rowid IN (SELECT id FROM plan WHERE <subtree>)
      (section 10's form; the subquery runs once per query) and "join" (FTS5 drives,
      each match looks its plan code up by primary key).
    * ranking ORDER BY bm25(docs) LIMIT 10 (measured 25-35 % faster here than the
      equivalent ORDER BY rank on SQLite 3.40). The total count is a second query,
      SELECT count(*) ... MATCH; "top 10 + count" times both back to back. Only rowids
      are fetched (tantivy's TopDocs gives addresses too).
    * query syntax: term "w"; two terms "a" AND "b"; phrase "w1 w2 w3"; prefix "p"*;
      words are quoted so AND/OR/NOT/NEAR in data are never operators.
    * fuzzy: FTS5 has none. Emulated and labelled as such: all strings at Levenshtein
      distance 1 from the folded query word (deletions, substitutions, insertions over
      a-z and ß) are looked up in an fts5vocab table; the terms that exist are ORed.
      Timed including the expansion.

    Reported: load speed (docs/s for the inserts alone, JSON parsing excluded, and for
    the whole load including optimize and VACUUM), database size after VACUUM (and
    per table, from dbstat), peak RSS (getrusage), and per query type p50/p99 latency
    over all queries x rounds (warm: one untimed round first; the file is mmapped,
    up to 2 GB, so RSS after the queries is mostly the database's file pages: the
    split into heap and file pages is shown), with the hit counts. Latencies include
    Python's call overhead, reported as "SELECT 1" (about 1 us); time from C or Rust
    for cold-process figures. The machine's other load shows in p99: note it.

Usage
    python3 scripts/gen-docs.py --n 100000 --out /tmp/docs-100k.jsonl
    python3 scripts/fts5-baseline.py --docs /tmp/docs-100k.jsonl --json /tmp/fts5-100k.json
    python3 scripts/fts5-baseline.py --docs D.jsonl --db /tmp/d.db            # keep the database
    python3 scripts/fts5-baseline.py --db /tmp/d.db --reuse                   # query it again

    Python 3.11+ standard library only; the SQLite is the one Python links
    (its version is printed).
"""
import argparse
import json
import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_QUERIES = os.path.join(ROOT, "scripts", "bench-queries.json")
QUERY_TYPES = ["term", "and", "phrase", "prefix", "filtered", "fuzzy"]
BATCH = 10_000
FUZZY_ALPHABET = "abcdefghijklmnopqrstuvwxyzß"

SCHEMA = """
CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE plan(id INTEGER PRIMARY KEY, code TEXT NOT NULL);
CREATE INDEX plan_code ON plan(code);
CREATE VIRTUAL TABLE docs_vocab USING fts5vocab(docs, 'row');
"""
SUBTREE = "(code = :x OR (code > :lo AND code < :hi))"
SQL = {
    "top10": "SELECT rowid FROM docs WHERE docs MATCH :q ORDER BY bm25(docs) LIMIT 10",
    "count": "SELECT count(*) FROM docs WHERE docs MATCH :q",
    "in_top10": "SELECT rowid FROM docs WHERE docs MATCH :q AND +rowid IN "
                f"(SELECT id FROM plan WHERE {SUBTREE}) ORDER BY bm25(docs) LIMIT 10",
    "in_count": "SELECT count(*) FROM docs WHERE docs MATCH :q AND +rowid IN "
                f"(SELECT id FROM plan WHERE {SUBTREE})",
    "join_top10": "SELECT docs.rowid FROM docs CROSS JOIN plan AS p ON p.id = docs.rowid "
                  f"WHERE docs MATCH :q AND {SUBTREE.replace('code', 'p.code')} ORDER BY bm25(docs) LIMIT 10",
    "join_count": "SELECT count(*) FROM docs CROSS JOIN plan AS p ON p.id = docs.rowid "
                  f"WHERE docs MATCH :q AND {SUBTREE.replace('code', 'p.code')}",
    "vocab": "SELECT term FROM docs_vocab WHERE term IN (SELECT value FROM json_each(:terms))",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_split_mb():
    """Current resident memory split into anonymous (heap) and file-backed (the mmapped
    database) pages, from /proc/self/status; empty where that does not exist."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def quote(word):
    return '"' + word.replace('"', '""') + '"'


def plan_range(code):
    """Bounds for SUBTREE: the code itself and everything below it in the Aktenplan."""
    if "." in code:
        return {"x": code, "lo": code + ".", "hi": code + "/"}
    return {"x": code, "lo": code, "hi": code[:-1] + chr(ord(code[-1]) + 1)}


def within(plan_code, code):
    """Kennzeichen::is_within from src/model.rs, to check plan_range against."""
    while plan_code:
        if plan_code == code:
            return True
        plan_code = plan_code.rsplit(".", 1)[0] if "." in plan_code else plan_code[:-1]
    return False


def fold(word):
    """What unicode61 remove_diacritics 2 makes of a word: lower case, no diacritics."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def edits1(word):
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + c + b[1:] for a, b in splits if b for c in FUZZY_ALPHABET}
    out |= {a + c + b for a, b in splits for c in FUZZY_ALPHABET}
    out.discard(word)
    return sorted(out)


# ---------------------------------------------------------------------------- loading

def read_batches(path):
    """Batches of (rowid, title, body, plan) from a JSON Lines file, with parse time."""
    batch, parse_s = [], 0.0
    with open(path, encoding="utf-8") as f:
        for rowid, line in enumerate(f, 1):
            t = time.perf_counter()
            try:
                doc = json.loads(line)
                row = (rowid, doc["title"], doc["body"], doc["plan"])
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                sys.exit(f"{path}:{rowid}: not a document line ({e.__class__.__name__}: {e})")
            parse_s += time.perf_counter() - t
            batch.append(row)
            if len(batch) == BATCH:
                yield batch, parse_s
                batch, parse_s = [], 0.0
    if batch:
        yield batch, parse_s


def load(db_path, docs_path):
    size = os.path.getsize(docs_path)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA cache_size = -65536")  # 64 MiB
    con.executescript(SCHEMA)
    insert_s = parse_s = 0.0
    n = 0
    last_report = time.perf_counter()
    t_start = time.perf_counter()
    for batch, batch_parse_s in read_batches(docs_path):
        t = time.perf_counter()
        con.execute("BEGIN")
        con.executemany("INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)",
                        [(r, ti, bo) for r, ti, bo, _ in batch])
        con.executemany("INSERT INTO plan(id, code) VALUES (?, ?)", [(r, p) for r, _, _, p in batch])
        con.execute("COMMIT")
        insert_s += time.perf_counter() - t
        parse_s += batch_parse_s
        n += len(batch)
        if time.perf_counter() - last_report > 10:
            last_report = time.perf_counter()
            log(f"  loaded {n:,} documents, {n / insert_s:,.0f} docs/s, "
                f"{time.perf_counter() - t_start:.0f} s (file {size / 1e6:,.0f} MB)")
    if n == 0:
        sys.exit(f"{docs_path}: no documents")
    log(f"  inserted {n:,} documents in {insert_s:.1f} s; optimize ...")
    t = time.perf_counter()
    con.execute("INSERT INTO docs(docs) VALUES ('optimize')")
    optimize_s = time.perf_counter() - t
    log(f"  optimize {optimize_s:.1f} s; VACUUM ...")
    t = time.perf_counter()
    con.execute("VACUUM")
    vacuum_s = time.perf_counter() - t
    con.close()
    total_s = insert_s + parse_s + optimize_s + vacuum_s
    return {
        "docs": n,
        "input_mb": round(size / 1e6, 1),
        "parse_s": round(parse_s, 2),
        "insert_s": round(insert_s, 2),
        "optimize_s": round(optimize_s, 2),
        "vacuum_s": round(vacuum_s, 2),
        "insert_docs_per_s": round(n / insert_s),
        "total_docs_per_s": round(n / total_s),
        "peak_rss_mb_load": round(peak_rss_mb(), 1),
    }


def table_sizes(con):
    try:
        rows = con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        return {}
    groups = {"fts index (docs_data, docs_idx)": ("docs_data", "docs_idx"),
              "stored text (docs_content)": ("docs_content",),
              "doc lengths (docs_docsize)": ("docs_docsize",),
              "plan table + index": ("plan", "plan_code")}
    out = {}
    for label, names in groups.items():
        out[label] = round(sum(s for n, s in rows if n in names) / 1e6, 1)
    out["other"] = round(sum(s for n, s in rows if not any(n in g for g in groups.values())) / 1e6, 1)
    return out


# ---------------------------------------------------------------------------- queries

class Runner:
    def __init__(self, con):
        self.con = con

    def rows(self, sql, params):
        return self.con.execute(sql, params).fetchall()

    def fuzzy_match(self, word):
        """The emulated fuzzy query: distance-1 terms that exist, ORed."""
        candidates = edits1(fold(word))
        terms = [t for (t,) in self.rows(SQL["vocab"], {"terms": json.dumps(candidates)})]
        return " OR ".join(quote(t) for t in terms)

    def plan(self, qtype, query):
        """A list of (label, function) to time for one query; each returns the hit count or rows."""
        if qtype == "fuzzy":
            def top10(q=query):
                m = self.fuzzy_match(q)
                return self.rows(SQL["top10"], {"q": m}) if m else []

            def both(q=query):
                m = self.fuzzy_match(q)
                if not m:
                    return [], 0
                return self.rows(SQL["top10"], {"q": m}), self.rows(SQL["count"], {"q": m})[0][0]
            return [("", top10, both)]
        if qtype == "filtered":
            params = {"q": quote(query["q"]), **plan_range(query["plan"])}
            out = []
            for how in ("in", "join"):
                t_sql, c_sql = SQL[f"{how}_top10"], SQL[f"{how}_count"]
                out.append((how,
                            lambda t_sql=t_sql: self.rows(t_sql, params),
                            lambda t_sql=t_sql, c_sql=c_sql: (self.rows(t_sql, params),
                                                              self.rows(c_sql, params)[0][0])))
            return out
        if qtype == "term":
            match = quote(query)
        elif qtype == "and":
            match = " AND ".join(quote(w) for w in query)
        elif qtype == "phrase":
            match = quote(query)
        elif qtype == "prefix":
            match = quote(query) + "*"
        else:
            raise ValueError(qtype)
        params = {"q": match}
        return [("", lambda: self.rows(SQL["top10"], params),
                 lambda: (self.rows(SQL["top10"], params), self.rows(SQL["count"], params)[0][0]))]


def percentile(sorted_values, p):
    """Nearest-rank percentile of a sorted list."""
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def run_queries(con, queries, rounds):
    runner = Runner(con)
    jobs = []  # (row label, query, top10 fn, both fn)
    for qtype in QUERY_TYPES:
        for query in queries.get(qtype, []):
            for how, top10, both in runner.plan(qtype, query):
                label = qtype if not how else f"{qtype} ({how})"
                if qtype == "fuzzy":
                    label = "fuzzy (emulated)"
                jobs.append((label, query, top10, both))
    counts = {}
    for label, query, _, both in jobs:  # warm-up round, also gives the hit counts
        counts[(label, json.dumps(query, ensure_ascii=False))] = both()[1]
    samples = {label: {"top10": [], "both": []} for label, *_ in jobs}
    per_query = {}
    clock = time.perf_counter_ns
    for r in range(rounds):
        for label, query, top10, both in jobs:
            key = (label, json.dumps(query, ensure_ascii=False))
            if r % 2:  # alternate the order so neither measurement warms the other
                t = clock()
                top10()
                top10_ns = clock() - t
                t = clock()
                both()
                both_ns = clock() - t
            else:
                t = clock()
                both()
                both_ns = clock() - t
                t = clock()
                top10()
                top10_ns = clock() - t
            samples[label]["top10"].append(top10_ns)
            samples[label]["both"].append(both_ns)
            per_query.setdefault(key, []).append(top10_ns)
    overhead = []
    for _ in range(2000):
        t = clock()
        con.execute("SELECT 1").fetchall()
        overhead.append(clock() - t)
    overhead.sort()

    results = {}
    for label in samples:
        top = sorted(samples[label]["top10"])
        both = sorted(samples[label]["both"])
        hits = sorted(v for (lab, _), v in counts.items() if lab == label)
        results[label] = {
            "queries": len(hits),
            "samples": len(top),
            "top10_p50_ms": round(percentile(top, 50) / 1e6, 4),
            "top10_p99_ms": round(percentile(top, 99) / 1e6, 4),
            "top10_count_p50_ms": round(percentile(both, 50) / 1e6, 4),
            "top10_count_p99_ms": round(percentile(both, 99) / 1e6, 4),
            "hits_min": hits[0],
            "hits_median": hits[len(hits) // 2],
            "hits_max": hits[-1],
        }
    queries_out = []
    for (label, q), times in per_query.items():
        times.sort()
        queries_out.append({"type": label, "query": json.loads(q), "hits": counts[(label, q)],
                            "top10_median_ms": round(times[len(times) // 2] / 1e6, 4)})
    return results, queries_out, round(percentile(overhead, 50) / 1e3, 2)


# ---------------------------------------------------------------------------- main

def check_plan_filter(con, queries):
    """The SQL subtree ranges select exactly the codes Kennzeichen::is_within would."""
    codes = [c for (c,) in con.execute("SELECT DISTINCT code FROM plan")]
    for q in queries.get("filtered", []):
        want = sorted(c for c in codes if within(c, q["plan"]))
        got = sorted(c for (c,) in con.execute(f"SELECT DISTINCT code FROM plan WHERE {SUBTREE}",
                                               plan_range(q["plan"])))
        if want != got:
            sys.exit(f"plan filter for {q['plan']!r} is wrong: SQL gives {got[:5]}..., expected {want[:5]}...")


def print_report(info):
    load_info = info.get("load")
    print(f"\nSQLite FTS5 baseline: {info['docs']:,} documents, SQLite {info['sqlite_version']}, "
          f"Python {info['python_version']}")
    if load_info:
        print(f"load        {load_info['insert_docs_per_s']:,} docs/s inserting "
              f"({load_info['insert_s']} s; JSON parsing {load_info['parse_s']} s not included), "
              f"optimize {load_info['optimize_s']} s, VACUUM {load_info['vacuum_s']} s "
              f"-> {load_info['total_docs_per_s']:,} docs/s overall")
    size = info["db_size_mb"]
    parts = ", ".join(f"{k} {v} MB" for k, v in info["table_sizes_mb"].items())
    print(f"size        {size:,.1f} MB after VACUUM ({size * 1e6 / info['docs']:,.0f} B/doc): {parts}")
    split = info.get("rss_after_queries_mb", {})
    print(f"peak RSS    {info['peak_rss_mb']:,.0f} MB"
          + (f"; {load_info['peak_rss_mb_load']:,.0f} MB while loading" if load_info else "")
          + (f"; after the queries {split['RssAnon']:,.0f} MB heap + {split['RssFile']:,.0f} MB "
             "file pages (mmapped database, Python)" if split else ""))
    print(f"queries     {info['rounds']} timed rounds after 1 warm-up round; ms per query; "
          f"Python call overhead ('SELECT 1') {info['overhead_us']} us")
    head = f"{'type':<18}{'n':>3}  {'top10 p50':>10}{'p99':>9}  {'+count p50':>11}{'p99':>9}   hits min / median / max"
    print(head)
    print("-" * len(head))
    for label, r in info["results"].items():
        print(f"{label:<18}{r['queries']:>3}  {r['top10_p50_ms']:>10.3f}{r['top10_p99_ms']:>9.3f}  "
              f"{r['top10_count_p50_ms']:>11.3f}{r['top10_count_p99_ms']:>9.3f}   "
              f"{r['hits_min']:,} / {r['hits_median']:,} / {r['hits_max']:,}")
    print("fuzzy: FTS5 has no fuzzy query; emulated by distance-1 expansion over fts5vocab + OR.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring for the setup and what is measured.")
    ap.add_argument("--docs", help="documents (JSON Lines from scripts/gen-docs.py)")
    ap.add_argument("--db", help="database file, kept afterwards (default: in a temporary folder, deleted)")
    ap.add_argument("--reuse", action="store_true", help="query an existing --db without loading")
    ap.add_argument("--queries", default=DEFAULT_QUERIES, help="query set (default scripts/bench-queries.json)")
    ap.add_argument("--rounds", type=int, default=20, help="timed rounds over all queries (default 20)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    args = ap.parse_args()

    if args.reuse:
        if not args.db or not os.path.isfile(args.db):
            ap.error("--reuse needs an existing --db file")
    elif not args.docs:
        ap.error("--docs FILE.jsonl is required (make one with scripts/gen-docs.py)")
    elif not os.path.isfile(args.docs):
        sys.exit(f"{args.docs}: no such file (make one with: python3 scripts/gen-docs.py --n 10000 --out {args.docs})")
    if not os.path.isfile(args.queries):
        sys.exit(f"{args.queries}: no such file "
                 f"(make one with: python3 scripts/gen-docs.py --n 0 --queries {args.queries})")
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    try:
        with open(args.queries, encoding="utf-8") as f:
            queries = json.load(f)
    except json.JSONDecodeError as e:
        sys.exit(f"{args.queries}: not valid JSON: {e}")
    missing = [t for t in QUERY_TYPES if not isinstance(queries.get(t), list)]
    if missing:
        sys.exit(f"{args.queries}: no list for query type(s) {', '.join(missing)}")
    if args.db and os.path.exists(args.db) and not args.reuse:
        sys.exit(f"{args.db} exists: delete it, or pass --reuse to query it without loading")

    tmp = None
    if args.db:
        db_path = args.db
        os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="fts5-baseline-")
        db_path = os.path.join(tmp, "fts5.db")
    try:
        info = {"sqlite_version": sqlite3.sqlite_version, "python_version": sys.version.split()[0],
                "docs_file": args.docs, "queries_file": args.queries, "rounds": args.rounds}
        if not args.reuse:
            log(f"loading {args.docs} into {db_path} ...")
            try:
                info["load"] = load(db_path, args.docs)
            except BaseException:
                if os.path.exists(db_path):  # no half-loaded database to trip over later
                    os.remove(db_path)
                raise
        info["db_size_mb"] = round(os.path.getsize(db_path) / 1e6, 1)

        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
        con.execute("PRAGMA mmap_size = 2147418112")  # SQLITE_MAX_MMAP_SIZE of the usual builds
        con.execute("PRAGMA cache_size = -65536")
        info["docs"] = con.execute("SELECT count(*) FROM plan").fetchone()[0]
        info["table_sizes_mb"] = table_sizes(con)
        check_plan_filter(con, queries)
        log(f"running {sum(len(queries[t]) for t in QUERY_TYPES)} queries, {args.rounds} rounds ...")
        t = time.perf_counter()
        info["results"], info["per_query"], info["overhead_us"] = run_queries(con, queries, args.rounds)
        info["query_time_s"] = round(time.perf_counter() - t, 1)
        info["rss_after_queries_mb"] = rss_split_mb()
        con.close()
        info["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print_report(info)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(info, f, ensure_ascii=False, indent=1)
                f.write("\n")
            log(f"figures written to {args.json}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
