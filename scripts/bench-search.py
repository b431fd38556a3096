#!/usr/bin/env python3
"""Search benchmark driver: akten's tantivy index against SQLite FTS5, in one run.

What it does
    1. Makes (or reuses) the documents: scripts/gen-docs.py --n MAX --seed SEED, cached in
       target/bench-search/docs-seed{SEED}-{N}.jsonl (document i does not depend on --n,
       so the first N lines of a larger file are the N-document set).
    2. Builds once and then runs fixed executables, so a source edit during the run cannot
       change what is measured: the bench binary of benches/search.rs and target/release/akten
       (copied into the work folder).
    3. Per size (default 10k, 100k, 1M), one after the other on the same documents and the
       same queries (scripts/bench-queries.json):
         akten  benches/search.rs scale run (child process: SearchIndex::stage + commit,
                size, peak RSS, then SearchIndex::search for every query, 1 warm-up + R rounds)
         FTS5   scripts/fts5-baseline.py (load, optimize, VACUUM, the same queries, R rounds)
    4. Criterion groups of benches/search.rs (indexing 10k docs; one group per query type at
       100k documents), unless --no-criterion.
    5. Fresh process at 100k documents: a real store (akten init; akte open for every plan
       position the documents use; akten add of the documents as .txt files, a few thousand
       per call), then hyperfine --warmup 3 -N over `akten --store S search ...` (one query
       per type) against `akten --version` and `akten --store S show AZ` in the same run;
       then the same commands again after merging the store's index into one segment
       (the bench binary with AKTEN_BENCH_MERGE_INDEX), to show what the segment count costs.
    6. Prints Markdown tables (also written to --markdown) and writes all figures as JSON.

Usage
    python3 scripts/bench-search.py                                  # 10k, 100k, 1M: ~45-60 min
    python3 scripts/bench-search.py --sizes 10000,100000 --no-fresh  # quicker
    python3 scripts/bench-search.py --sizes 2000 --fresh-docs 2000 --rounds 3   # smoke test
    python3 scripts/bench-search.py --only-fresh --fresh-docs 100000
    python3 scripts/bench-search.py --only-fresh --work /tmp/w --keep-store    # keep the store

    Output: the tables on stdout and in target/bench-search/results.md, all figures in
    target/bench-search/results.json (--markdown, --json to change).

    Needs python3 (3.11+), cargo, hyperfine (for the fresh-process part).
"""
import argparse
import collections
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERY_TYPES = ["term", "and", "phrase", "prefix", "filtered", "fuzzy"]
FTS5_LABEL = {"term": "term", "and": "and", "phrase": "phrase", "prefix": "prefix",
              "fuzzy": "fuzzy (emulated)"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(shlex.quote(str(c)) for c in cmd))
    return subprocess.run(cmd, check=True, **kw)


def mb(nbytes):
    return nbytes / 1e6


def fmt_ms(x):
    if x is None:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}×"


# ---------------------------------------------------------------------------- setup

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def machine_info():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass

    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"
    diff = out(["git", "diff", "HEAD", "--", "src", "Cargo.toml", "Cargo.lock"])
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "loadavg_start": loadavg(),
        "cpu": cpu, "cores": os.cpu_count(), "memory": mem,
        "kernel": platform.release(),
        "rustc": out(["rustc", "--version"]),
        "python": sys.version.split()[0],
        "git_head": out(["git", "rev-parse", "--short", "HEAD"]),
        "src_uncommitted_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None,
        "src_uncommitted_files": out(["git", "diff", "HEAD", "--name-only", "--", "src", "Cargo.toml",
                                      "Cargo.lock"]).split(),
    }


def docs_file(args, n_max):
    """A JSONL with at least n_max documents of the given seed (cached)."""
    if args.docs:
        return args.docs
    cache = os.path.join(ROOT, "target", "bench-search")
    os.makedirs(cache, exist_ok=True)
    best = None
    for name in os.listdir(cache):
        prefix = f"docs-seed{args.seed}-"
        if name.startswith(prefix) and name.endswith(".jsonl"):
            n = int(name[len(prefix):-len(".jsonl")])
            if n >= n_max and (best is None or n < best[0]):
                best = (n, os.path.join(cache, name))
    if best:
        log(f"documents: reusing {os.path.relpath(best[1], ROOT)}")
        return best[1]
    path = os.path.join(cache, f"docs-seed{args.seed}-{n_max}.jsonl")
    run([sys.executable, os.path.join(ROOT, "scripts", "gen-docs.py"), "--n", str(n_max),
         "--seed", str(args.seed), "--out", path + ".part"])
    os.replace(path + ".part", path)
    return path


def first_lines(src, n, dest):
    """The first n lines of src in dest; src itself when it has exactly n."""
    with open(src, encoding="utf-8") as f, open(dest, "w", encoding="utf-8") as out:
        count = 0
        for line in f:
            if count == n:
                break
            out.write(line)
            count += 1
    if count < n:
        sys.exit(f"{src} has only {count} documents, {n} asked for")
    return dest


def build(work):
    """Builds the bench and the binary; returns fixed copies of both."""
    proc = run(["cargo", "bench", "--bench", "search", "--no-run", "--message-format=json"],
               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    bench = None
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == "search":
            bench = msg["executable"]
    if not bench:
        sys.exit("cargo did not report the search bench executable")
    run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    fixed_bench = os.path.join(work, "search-bench")
    fixed_akten = os.path.join(work, "akten")
    shutil.copy2(bench, fixed_bench)
    shutil.copy2(os.path.join(ROOT, "target", "release", "akten"), fixed_akten)
    return fixed_bench, fixed_akten


# ---------------------------------------------------------------------------- runs

def run_akten_scale(bench, docs, n, args, work):
    out = os.path.join(work, f"akten-{n}.json")
    env = dict(os.environ, AKTEN_BENCH_DOCS=str(n), AKTEN_BENCH_DOCS_FILE=docs, AKTEN_BENCH_ONLY="scale",
               AKTEN_BENCH_ROUNDS=str(args.rounds), AKTEN_BENCH_JSON=out, AKTEN_BENCH_DIR=work,
               AKTEN_BENCH_QUERIES=args.queries)
    # The bench binary's own working directory is the package root under cargo.
    run([bench, "--bench"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)[0]


def run_fts5(docs, n, n_file, args, work):
    subset = docs if n == n_file else first_lines(docs, n, os.path.join(work, f"docs-{n}.jsonl"))
    out = os.path.join(work, f"fts5-{n}.json")
    db_dir = tempfile.mkdtemp(prefix="fts5-", dir=work)
    try:
        run([sys.executable, os.path.join(ROOT, "scripts", "fts5-baseline.py"), "--docs", subset,
             "--queries", args.queries, "--rounds", str(args.rounds), "--json", out,
             "--db", os.path.join(db_dir, "fts5.db")], stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(db_dir, ignore_errors=True)
        if subset != docs:
            os.remove(subset)
    with open(out) as f:
        return json.load(f)


def run_criterion(bench, docs, args, work):
    base = os.path.join(ROOT, "target", "criterion")
    group_q = f"query_{args.criterion_docs // 1000}k"
    for group in ("index", group_q):  # results of earlier runs with other sizes would be read back
        shutil.rmtree(os.path.join(base, group), ignore_errors=True)
    env = dict(os.environ, AKTEN_BENCH_DOCS_FILE=docs, AKTEN_BENCH_ONLY="criterion", AKTEN_BENCH_DIR=work,
               AKTEN_BENCH_QUERIES=args.queries, AKTEN_BENCH_CRITERION_DOCS=str(args.criterion_docs))
    run([bench, "--bench", "--noplot"], cwd=ROOT, env=env)
    out = {}
    for group in ("index", group_q):
        gdir = os.path.join(base, group)
        if not os.path.isdir(gdir):
            continue
        for fn in sorted(os.listdir(gdir)):
            est = os.path.join(gdir, fn, "new", "estimates.json")
            if not os.path.isfile(est):
                continue
            with open(est) as f:
                e = json.load(f)
            out[f"{group}/{fn}"] = {
                "mean_ms": e["mean"]["point_estimate"] / 1e6,
                "mean_ci_ms": [e["mean"]["confidence_interval"]["lower_bound"] / 1e6,
                               e["mean"]["confidence_interval"]["upper_bound"] / 1e6],
                "median_ms": e["median"]["point_estimate"] / 1e6,
            }
    return out


def build_store(akten, docs, n, work):
    """A real store with n documents added as .txt files through the binary."""
    store = os.path.join(work, "store")
    files = os.path.join(work, "files")
    shutil.rmtree(store, ignore_errors=True)
    shutil.rmtree(files, ignore_errors=True)
    os.makedirs(files)
    run([akten, "init", store], stdout=subprocess.DEVNULL)
    by_plan = collections.defaultdict(list)
    with open(docs, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == n:
                break
            d = json.loads(line)
            name = f"{i:07d} {d['title'][:80]}.txt".replace("/", "-")
            with open(os.path.join(files, name), "w", encoding="utf-8") as out:
                out.write(d["title"] + "\n\n" + d["body"] + "\n")
            by_plan[d["plan"]].append(name)
    akten_of = {}
    for plan in sorted(by_plan):
        r = subprocess.run([akten, "--store", store, "--json", "akte", "open", plan, "--title", f"Bench {plan}"],
                           check=True, capture_output=True, text=True)
        akten_of[plan] = json.loads(r.stdout)["aktenzeichen"]
    log(f"fresh process: adding {n} .txt files to {len(akten_of)} Akten ...")
    started = time.perf_counter()
    chunk = 3000
    added = 0
    for plan, names in sorted(by_plan.items()):
        for k in range(0, len(names), chunk):
            part = names[k:k + chunk]
            subprocess.run([akten, "--store", store, "add", "--allow-duplicate", "--to", akten_of[plan], *part],
                           check=True, cwd=files, stdout=subprocess.DEVNULL)
            added += len(part)
            if added // 20000 != (added - len(part)) // 20000:
                log(f"  {added} added, {time.perf_counter() - started:.0f} s")
    add_s = time.perf_counter() - started
    shutil.rmtree(files, ignore_errors=True)
    smallest = min(by_plan, key=lambda k: len(by_plan[k]))
    akten_of = dict([(smallest, akten_of.pop(smallest))] + list(akten_of.items()))  # show the smallest Akte
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(os.path.join(store, "index"))
               for fn in fns)
    with open(os.path.join(store, "index", "meta.json")) as f:
        segments = len(json.load(f)["segments"])
    return store, akten_of, add_s, size, segments


def fresh_process(akten, bench, docs, n, queries, work, keep_store=False):
    store, akten_of, add_s, index_bytes, segments = build_store(akten, docs, n, work)
    az = next(iter(akten_of.values()))
    chosen = [
        ("term (common)", [queries["term"][1]], []),
        ("term (rare)", [queries["term"][-1]], []),
        ("and", queries["and"][0], []),
        ("phrase", ['"' + queries["phrase"][0] + '"'], []),
        ("prefix", [queries["prefix"][1] + "*"], []),
        ("filtered", [queries["filtered"][1]["q"]], ["--plan", queries["filtered"][1]["plan"]]),
        ("fuzzy", [queries["fuzzy"][0]], []),
    ]
    cmds = [("akten --version", [akten, "--version"]),
            (f"akten show {az}", [akten, "--store", store, "show", az])]
    for label, words, extra in chosen:
        cmds.append((f"search {label}: {' '.join(words)} {' '.join(extra)}".strip(),
                     [akten, "--store", store, "search", *extra, *words]))
    hits, rss = {}, {}
    for label, cmd in cmds[2:]:
        r = subprocess.run(cmd[:3] + ["--json"] + cmd[3:], check=True, capture_output=True, text=True)
        hits[label] = json.loads(r.stdout)["total"]
    for label, cmd in cmds:
        if os.path.exists("/usr/bin/time"):  # peak RSS of one run, KiB
            r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, capture_output=True, text=True)
            rss[label] = int(r.stderr.strip().splitlines()[-1])
    rows = hyperfine(cmds, hits, rss, os.path.join(work, "hyperfine.json"))
    # The same store after merging its index into one segment (the index as
    # `akten add` leaves it has one or two segments per add call).
    env = dict(os.environ, AKTEN_BENCH_MERGE_INDEX=os.path.join(store, "index"))
    merged = json.loads(run([bench, "--bench"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True).stdout)
    with open(os.path.join(store, "index", "meta.json")) as f:
        payload_kept = json.load(f).get("payload") is not None
    for label, cmd in cmds[2:]:
        r = subprocess.run(cmd[:3] + ["--json"] + cmd[3:], check=True, capture_output=True, text=True)
        if json.loads(r.stdout)["total"] != hits[label]:
            sys.exit(f"{label}: the merged index gives other hits")
    rows_merged = hyperfine(cmds[1:], hits, {}, os.path.join(work, "hyperfine-merged.json"))
    if keep_store:
        log(f"store kept: {store}")
    else:
        shutil.rmtree(store, ignore_errors=True)
    return {"docs": n, "akten": len(akten_of), "add_s": add_s, "index_bytes": index_bytes, "segments": segments,
            "rows": rows, "merged": merged, "payload_kept": payload_kept, "rows_merged": rows_merged}


def hyperfine(cmds, hits, rss, out):
    hf = ["hyperfine", "--warmup", "3", "-N", "--min-runs", "20", "--export-json", out]
    for label, cmd in cmds:
        hf += ["--command-name", label, " ".join(shlex.quote(c) for c in cmd)]
    run(hf, stdout=subprocess.DEVNULL)
    with open(out) as f:
        results = json.load(f)["results"]
    return [{"command": r["command"], "mean_ms": r["mean"] * 1e3, "stddev_ms": r["stddev"] * 1e3,
             "median_ms": r["median"] * 1e3, "min_ms": r["min"] * 1e3, "max_ms": r["max"] * 1e3,
             "runs": len(r["times"]), "hits": hits.get(r["command"]), "max_rss_kib": rss.get(r["command"])}
            for r in results]


# ---------------------------------------------------------------------------- report

def fts5_filtered(f):
    """FTS5's better plan filter form (by p50 of top 10 + count)."""
    forms = [k for k in f["results"] if k.startswith("filtered")]
    best = min(forms, key=lambda k: f["results"][k]["top10_count_p50_ms"])
    return best, f["results"][best]


def report(info, scale, crit, fresh, args):
    lines = []
    p = lines.append
    p(f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} RAM, Linux {info['kernel']}; "
      f"{info['rustc']}; Python {info['python']}; SQLite {sqlite3.sqlite_version}.")
    p(f"Date: {info['date']}. Source: git {info['git_head']}"
      + (f" + uncommitted changes in {', '.join(info['src_uncommitted_files'])} "
         f"(diff sha256 {info['src_uncommitted_diff_sha256']})" if info["src_uncommitted_diff_sha256"] else "")
      + ".")
    p(f"Load average (1/5/15 min) at start {info['loadavg_start']}, at end {info.get('loadavg_end', '?')}"
      + "".join(f"; before {s['akten']['docs']:,} akten {s['loadavg_before']['akten']}, FTS5 {s['loadavg_before']['fts5']}"
                for s in scale) + f". Run took {info.get('run_minutes', '?')} min.")
    p(f"Documents: scripts/gen-docs.py --seed {args.seed} (first N lines); queries: "
      f"{os.path.relpath(args.queries, ROOT)}, 20 per type; {args.rounds} timed rounds after 1 warm-up round.")
    p("")
    if scale:
        p("### Indexing, size, memory\n")
        p("| documents | | docs/s | load time | index size | B/doc | peak RSS (load) | peak RSS (query process) |")
        p("|---|---|---|---|---|---|---|---|")
        for s in scale:
            a, f = s["akten"], s["fts5"]
            n = a["docs"]
            load = f.get("load", {})
            fts_index = f["db_size_mb"] - f["table_sizes_mb"].get("stored text (docs_content)", 0)
            p(f"| {n:,} | akten | {a['docs_per_s']:,.0f} ({n / (a['index_s'] + a['merge_wait_s']):,.0f} incl. merges) "
              f"| {a['index_s']:.1f} s + {a['merge_wait_s']:.1f} s merges | {mb(a['index_bytes']):,.1f} MB "
              f"({a['segments']} segments; compound field {mb(a['compound_bytes']):,.1f} MB = "
              f"{100 * a['compound_bytes'] / a['index_bytes']:.1f} %) | {a['bytes_per_doc']:,.0f} "
              f"| {a['peak_rss_index_kib'] / 1024:,.0f} MiB | {a['peak_rss_query_kib'] / 1024:,.0f} MiB |")
            p(f"| | FTS5 | {load.get('insert_docs_per_s', 0):,} inserting, {load.get('total_docs_per_s', 0):,} "
              f"with optimize + VACUUM | {load.get('insert_s', 0)} s + {load.get('optimize_s', 0)} s optimize + "
              f"{load.get('vacuum_s', 0)} s VACUUM | {f['db_size_mb']:,.1f} MB ({fts_index:,.1f} MB without the "
              f"stored text) | {f['db_size_mb'] * 1e6 / n:,.0f} | {load.get('peak_rss_mb_load', 0):,.0f} MiB "
              f"| {f['peak_rss_mb']:,.0f} MiB |")
        p("")
        p("akten: SearchIndex::stage_new in batches of 10,000, a partial commit every 100,000 and a final commit, writer budget 256 MiB (as `akten reindex`); "
          "JSON parsing excluded; the index stores title and ids but not the body (the catalog keeps the text). "
          "FTS5 stores title and body. FTS5 peak RSS includes the mmapped database pages it touched. "
          "RSS figures are VmHWM (akten) and ru_maxrss (FTS5) of the process doing the work.")
        p("")
        p("### Query latency, ms (akten: SearchIndex::search = count + top 10 + stored fields; "
          "FTS5: top 10 by bm25 + count(*))\n")
        p("| documents | type | akten p50 | akten p99 | FTS5 p50 | FTS5 p99 | p50 ratio akten/FTS5 | p99 ratio "
          "| hits median akten / FTS5 |")
        p("|---|---|---|---|---|---|---|---|---|")
        for s in scale:
            a, f = s["akten"], s["fts5"]
            for t in QUERY_TYPES:
                at = a["types"][t]
                if t == "filtered":
                    label, ft = fts5_filtered(f)
                else:
                    label, ft = FTS5_LABEL[t], f["results"][FTS5_LABEL[t]]
                name = t if label == t else f"{t} (FTS5: {label.split(' ', 1)[1].strip('()')})"
                p(f"| {a['docs']:,} | {name} | {fmt_ms(at['p50_ms'])} | {fmt_ms(at['p99_ms'])} | "
                  f"{fmt_ms(ft['top10_count_p50_ms'])} | {fmt_ms(ft['top10_count_p99_ms'])} | "
                  f"{ratio(at['p50_ms'], ft['top10_count_p50_ms'])} | {ratio(at['p99_ms'], ft['top10_count_p99_ms'])} | "
                  f"{at['hits_median']:,} / {ft['hits_median']:,} |")
        p("")
        p("### Where akten's query time goes (tantivy directly on the same index), ms p50 / p99\n")
        p("Regex compilation per query (number of RegexQuery patterns SearchIndex::search builds):\n")
        p("| documents | " + " | ".join(QUERY_TYPES) + " |")
        p("|---|" + "---|" * len(QUERY_TYPES))
        for s in scale:
            a = s["akten"]
            cells = []
            for t in QUERY_TYPES:
                c = a["diag"]["regex_compile"].get(t)
                cells.append("-" if not c or c[2] == 0 else f"{c[0]:.2f} / {c[1]:.2f} ({c[2]})")
            p(f"| {a['docs']:,} | " + " | ".join(cells) + " |")
        p("")
        p("Term and AND queries built as SearchIndex::literal builds them, run with count + top 10 + stored "
          "fields, regexes compiled beforehand (not timed):\n")
        p("| documents | type | title+body terms only | + compound alternatives as term ranges | "
          "+ compound alternatives as regexes (what akten runs) | hits median without / with compounds |")
        p("|---|---|---|---|---|---|")
        for s in scale:
            a = s["akten"]
            for t, v in sorted(a["diag"]["variants"].items(), key=lambda kv: QUERY_TYPES.index(kv[0])):
                cell = lambda k: f"{fmt_ms(v[k]['p50_ms'])} / {fmt_ms(v[k]['p99_ms'])}"
                p(f"| {a['docs']:,} | {t} | {cell('plain')} | {cell('ranges')} | {cell('regex')} | "
                  f"{v['plain']['hits_median']:,} / {v['ranges']['hits_median']:,} |")
        p("")
        p("### Compound field (reversed stems) and index size by field, MB\n")
        fields = sorted(scale[-1]["akten"]["field_bytes"])
        p("| documents | " + " | ".join(fields) + " | store | total |")
        p("|---|" + "---|" * (len(fields) + 2))
        for s in scale:
            a = s["akten"]
            p(f"| {a['docs']:,} | " + " | ".join(f"{mb(a['field_bytes'].get(k, 0)):,.1f}" for k in fields)
              + f" | {mb(a['component_bytes'].get('store', 0)):,.1f} | {mb(a['index_bytes']):,.1f} |")
        p("")
        p("| documents | indexing µs/doc (wall, 2 cores) | stage / commit | one extra analysis pass over title + body, "
          "µs/doc (what reversed_stems adds on the calling thread) | memory per pending delete_term (one per "
          "staged document until the commit) |")
        p("|---|---|---|---|---|")
        for s in scale:
            a = s["akten"]
            p(f"| {a['docs']:,} | {a['index_us_per_doc']:.1f} | {a['stage_s']:.1f} s / {a['commit_s']:.1f} s | "
              f"{a['analysis_us_per_doc']:.1f} | {a['delete_op_bytes']:,.0f} B |")
        p("")
    if crit:
        p(f"### Criterion (benches/search.rs; query groups at {args.criterion_docs:,} documents; "
          "one iteration = the next query of the type)\n")
        p("| benchmark | mean | 95 % interval | median |")
        p("|---|---|---|---|")
        for name, c in crit.items():
            p(f"| {name} | {fmt_ms(c['mean_ms'])} ms | {fmt_ms(c['mean_ci_ms'][0])}–{fmt_ms(c['mean_ci_ms'][1])} ms "
              f"| {fmt_ms(c['median_ms'])} ms |")
        p("")
    if fresh:
        p(f"### Fresh process, {fresh['docs']:,} documents in a real store "
          f"(hyperfine --warmup 3 -N; {fresh['akten']} Akten; adding took {fresh['add_s']:.0f} s; "
          f"index {mb(fresh['index_bytes']):,.1f} MB in {fresh['segments']} segments)\n")
        base = next((r for r in fresh["rows"] if r["command"] == "akten --version"), None)
        show = next((r for r in fresh["rows"] if r["command"].startswith("akten show")), None)
        p("| command | hits | mean ± σ | median | min–max | runs | ratio to --version | ratio to show | peak RSS |")
        p("|---|---|---|---|---|---|---|---|---|")
        for r in fresh["rows"]:
            p(f"| `{r['command']}` | {r['hits'] if r['hits'] is not None else ''} | "
              f"{r['mean_ms']:.1f} ± {r['stddev_ms']:.1f} ms | {r['median_ms']:.1f} ms | "
              f"{r['min_ms']:.1f}–{r['max_ms']:.1f} ms | {r['runs']} | {ratio(r['mean_ms'], base and base['mean_ms'])} "
              f"| {ratio(r['mean_ms'], show and show['mean_ms'])} | "
              + (f"{r['max_rss_kib'] / 1024:,.0f} MiB |" if r.get("max_rss_kib") else " |"))
        p("")
        m = fresh.get("merged")
        if m:
            p(f"The same store after merging its index from {m['segments_before']} segments into {m['segments_after']} "
              f"(tantivy IndexWriter::merge, commit payload {'kept' if fresh['payload_kept'] else 'LOST'}; same hits):\n")
            before = {r["command"]: r for r in fresh["rows"]}
            p("| command | mean ± σ | median | min–max | before merging (mean) | ratio to before |")
            p("|---|---|---|---|---|---|")
            for r in fresh["rows_merged"]:
                b = before.get(r["command"])
                p(f"| `{r['command']}` | {r['mean_ms']:.1f} ± {r['stddev_ms']:.1f} ms | {r['median_ms']:.1f} ms | "
                  f"{r['min_ms']:.1f}–{r['max_ms']:.1f} ms | {b['mean_ms']:.1f} ms | {ratio(r['mean_ms'], b['mean_ms'])} |")
            p("")
    p("### Goals\n")
    for line in goals(scale, fresh):
        p(f"- {line}")
    return "\n".join(lines)


def goals(scale, fresh):
    out = []
    big = [s for s in scale if s["akten"]["docs"] >= 1_000_000]
    if big:
        a, f = big[-1]["akten"], big[-1]["fts5"]
        worst = max(QUERY_TYPES, key=lambda t: a["types"][t]["p99_ms"])
        over = [t for t in QUERY_TYPES if a["types"][t]["p99_ms"] >= 50]
        out.append(("MET" if not over else "NOT MET") + f": p99 < 50 ms at {a['docs']:,} documents for every type "
                   f"(worst: {worst} {a['types'][worst]['p99_ms']:.1f} ms"
                   + (f"; over: {', '.join(over)}" if over else "") + ").")
        rss = a["peak_rss_index_kib"] / 1024
        out.append(("MET" if rss < 1024 else "NOT MET") + f": {a['docs']:,} documents indexed within 1 GiB RSS "
                   f"(peak {rss:,.0f} MiB).")
    else:
        out.append("p99 < 50 ms at 1M and 1 GiB RSS at 1M: not measured in this run (no 1,000,000 size).")
    for s in scale:
        a, f = s["akten"], s["fts5"]
        slower = []
        for t in ["term", "and", "phrase", "prefix", "filtered"]:
            ft = fts5_filtered(f)[1] if t == "filtered" else f["results"][FTS5_LABEL[t]]
            for q in ("p50", "p99"):
                if a["types"][t][f"{q}_ms"] >= ft[f"top10_count_{q}_ms"]:
                    slower.append(f"{t} {q} {a['types'][t][f'{q}_ms']:.2f} vs {ft[f'top10_count_{q}_ms']:.2f} ms")
        out.append(("MET" if not slower else "NOT MET") + f": faster than FTS5 on term, and, phrase, prefix, filtered "
                   f"at {a['docs']:,} documents (p50 and p99)"
                   + (f"; slower: {'; '.join(slower)}" if slower else "") + ".")
    if fresh:
        rows = [r for r in fresh["rows"] if r["command"].startswith("search")]
        worst = max(rows, key=lambda r: r["mean_ms"])
        out.append(("MET" if worst["mean_ms"] < 150 else "NOT MET") + f": `akten search` as a fresh process under "
                   f"150 ms at {fresh['docs']:,} documents (slowest: {worst['command']}, mean {worst['mean_ms']:.1f} ms, "
                   f"max {worst['max_ms']:.1f} ms).")
    return out


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated document counts")
    ap.add_argument("--seed", type=int, default=1, help="gen-docs.py seed (default 1)")
    ap.add_argument("--docs", help="use this JSONL instead of generating (needs >= the largest size)")
    ap.add_argument("--queries", default=os.path.join(ROOT, "scripts", "bench-queries.json"))
    ap.add_argument("--rounds", type=int, default=20, help="timed rounds over all queries, both sides")
    ap.add_argument("--no-criterion", action="store_true", help="skip the criterion groups")
    ap.add_argument("--criterion-docs", type=int, default=100_000)
    ap.add_argument("--no-fresh", action="store_true", help="skip the fresh-process store check")
    ap.add_argument("--only-fresh", action="store_true", help="only the fresh-process store check")
    ap.add_argument("--fresh-docs", type=int, default=100_000)
    ap.add_argument("--work", help="work folder (default: a temporary folder, deleted)")
    ap.add_argument("--keep-store", action="store_true", help="keep the fresh-process store (needs --work)")
    ap.add_argument("--json", default=os.path.join(ROOT, "target", "bench-search", "results.json"))
    ap.add_argument("--markdown", default=os.path.join(ROOT, "target", "bench-search", "results.md"))
    args = ap.parse_args()
    args.queries = os.path.abspath(args.queries)
    sizes = [] if args.only_fresh else [int(s) for s in args.sizes.split(",") if s.strip()]
    fresh_n = 0 if args.no_fresh else args.fresh_docs
    if args.only_fresh:
        args.no_criterion = True
    if args.keep_store and not args.work:
        ap.error("--keep-store needs --work DIR")
    if fresh_n and not shutil.which("hyperfine"):
        sys.exit("hyperfine is missing (apt-get install hyperfine), or pass --no-fresh")
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)

    info = machine_info()
    n_max = max(sizes + [fresh_n] + ([args.criterion_docs, 10_000] if not args.no_criterion else []))
    docs = os.path.abspath(docs_file(args, n_max))
    with open(docs, "rb") as f:
        n_file = sum(1 for _ in f)
    work = args.work or tempfile.mkdtemp(prefix="bench-search-")
    os.makedirs(work, exist_ok=True)
    started = time.perf_counter()
    try:
        bench, akten = build(work)
        scale = []
        for n in sizes:
            log(f"=== {n:,} documents: akten")
            load_a = loadavg()
            a = run_akten_scale(bench, docs, n, args, work)
            log(f"=== {n:,} documents: FTS5")
            load_f = loadavg()
            f = run_fts5(docs, n, n_file, args, work)
            scale.append({"akten": a, "fts5": f, "loadavg_before": {"akten": load_a, "fts5": load_f}})
        crit = None if args.no_criterion else run_criterion(bench, docs, args, work)
        fresh = fresh_process(akten, bench, docs, fresh_n, queries, work, args.keep_store) if fresh_n else None
        info["run_minutes"] = round((time.perf_counter() - started) / 60, 1)
        info["loadavg_end"] = loadavg()
        md = report(info, scale, crit, fresh, args)
        print(md)
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"info": info, "scale": scale, "criterion": crit, "fresh": fresh}, f, ensure_ascii=False, indent=1)
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(md + "\n")
        log(f"figures: {args.json}, tables: {args.markdown}; {info['run_minutes']} min")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
