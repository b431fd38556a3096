#!/usr/bin/env python3
"""Robustness run of akten's text extraction over the real-world PDF corpus.

What it does
    Creates a fresh temporary store and runs `akten add` once per file over
    every PDF in ../shared/corpus/pdfs/<category>/ (wellformed, malformed,
    german, scanned, encrypted, pdfa, cjk_rtl, large), with the store's
    default [extract] limits unless --set overrides them. Afterwards it runs
    `akten verify` and fetches every stored document back with `akten get`,
    comparing its sha256 with the input file.

What it measures, per category
    files, stored (outcome "added"), text status (ok / partial / empty /
    encrypted / awaiting OCR / failed, grouped by shortened reason /
    unsupported), parent failures (an `akten add` exit code other than 0 or 1:
    a signal, a panic (101), a fatal error (2), a hang past --timeout, or
    unreadable JSON), the peak resident memory (VmHWM) of the extraction
    worker (`akten __extract-worker`) and of its children (tesseract,
    pdfimages) and the largest sum of their RSS seen at one moment, sampled
    from /proc every --sample-ms while `akten add` runs (processes that live
    shorter than one sampling interval can be missed), and wall time.
    The stress files (hugemono.pdf, bomb_giant.pdf, the deeply nested qpdf
    files) are listed with their outcome, time and memory.

How to run (from the project root; needs a built binary, `cargo build`)
    python3 scripts/corpus-extract.py                       # all categories
    python3 scripts/corpus-extract.py --category malformed --category scanned
    python3 scripts/corpus-extract.py --json /tmp/corpus-extract.json
    python3 scripts/corpus-extract.py --set memory_mib=512 --set file_timeout_secs=60

Exit status: 0 when every file was stored and retrievable, no parent failure
occurred and the store verifies clean; 1 otherwise; 2 on usage errors.
Without ../shared/corpus (a fresh clone) it prints a skip message and exits 0.
The corpus is only read; nothing of it is copied into the repository (the
temporary store is removed at the end unless --keep-store).
"""

import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
DEFAULT_AKTEN = os.path.join(ROOT, "target", "debug", "akten")
CATEGORIES = ["wellformed", "malformed", "german", "scanned", "encrypted", "pdfa", "cjk_rtl", "large"]
STATUSES = ["ok", "partial", "empty", "encrypted", "awaiting_ocr", "failed", "unsupported"]
# Files the corpus README names as stress files, plus the deeply nested qpdf ones.
STRESS = {
    "scanned/OCRmyPDF__tests__resources__hugemono.pdf": "35000x35000 px JBIG2 image",
    "malformed/pdf.js__test__pdfs__bomb_giant.pdf": "decompression bomb",
    "malformed/qpdf__qpdf__qtest__qpdf__deep-pages.pdf": "very deep page tree + loop",
    "malformed/qpdf__qpdf__qtest__qpdf__issue-202.pdf": "excessively nested data structure",
    "malformed/qpdf__qpdf__qtest__qpdf__pages-loop.pdf": "/Pages loop",
    "malformed/qpdf__qpdf__qtest__qpdf__object-stream-self-ref.pdf": "object stream references itself",
}


def die(message, code=2):
    print(f"corpus-extract: {message}", file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------- memory sampling


def _read_status(pid):
    """(name, VmHWM KiB, VmRSS KiB, cmdline) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")
    except (OSError, ValueError):
        return None

    def kib(key):
        v = fields.get(key, "0 kB").split()
        return int(v[0]) if v else 0

    return fields.get("Name", "?").strip(), kib("VmHWM"), kib("VmRSS"), [c.decode(errors="replace") for c in cmd if c]


def _children(pid):
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


class MemorySampler(threading.Thread):
    """Samples the process tree under `pid` until stopped.

    Records the peak VmHWM of the parent (akten add), of the worker
    (`akten __extract-worker`) and of any other descendant (tesseract,
    pdfimages), the largest sum of VmRSS over the worker and its
    descendants at one sample, and which other programs were seen."""

    def __init__(self, pid, interval):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.stop_event = threading.Event()
        self.parent_hwm = 0
        self.worker_hwm = 0
        self.child_hwm = 0
        self.group_rss = 0
        self.programs = collections.Counter()
        self._seen = set()
        self.samples = 0

    def run(self):
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)
        self.sample()

    def sample(self):
        self.samples += 1
        root = _read_status(self.pid)
        if root is None:
            return
        self.parent_hwm = max(self.parent_hwm, root[1])
        stack = [(c, False) for c in _children(self.pid)]
        group = 0
        while stack:
            pid, under_worker = stack.pop()
            st = _read_status(pid)
            if st is None:
                continue
            name, hwm, rss, cmd = st
            if cmd == root[3]:
                continue  # forked by akten but not yet exec'd: a copy of the parent, not a child program
            is_worker = any(a == "__extract-worker" for a in cmd[1:2])
            if is_worker:
                self.worker_hwm = max(self.worker_hwm, hwm)
            else:
                self.child_hwm = max(self.child_hwm, hwm)
                if pid not in self._seen:
                    self._seen.add(pid)
                    self.programs[name] += 1
            if is_worker or under_worker:
                group += rss
            stack.extend((c, is_worker or under_worker) for c in _children(pid))
        self.group_rss = max(self.group_rss, group)

    def stop(self):
        self.stop_event.set()
        self.join()


# ---------------------------------------------------------------- akten calls


def kill_tree(pid):
    """SIGKILLs the akten process we started and all its descendants (the
    worker runs in a process group of its own, so killpg is not enough)."""
    pids, stack = [], [pid]
    while stack:
        p = stack.pop()
        pids.append(p)
        stack.extend(_children(p))
    for p in pids:
        try:
            os.kill(p, 9)
        except ProcessLookupError:
            pass


def run_akten(akten, args, timeout, sample_interval=None):
    """Runs akten; returns (rc, stdout, stderr, seconds, sampler or None).
    rc is None when the call exceeded `timeout` and was killed."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [akten, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    sampler = None
    if sample_interval:
        sampler = MemorySampler(proc.pid, sample_interval)
        sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        out, err = proc.communicate()
        rc = None
    except BaseException:
        kill_tree(proc.pid)
        proc.wait()
        raise
    finally:
        if sampler:
            sampler.stop()
    return rc, out.decode(errors="replace"), err.decode(errors="replace"), time.perf_counter() - start, sampler


def describe_rc(rc):
    if rc is None:
        return "hung (killed after --timeout)"
    if rc < 0:
        return f"killed by signal {-rc}"
    if rc == 101:
        return "panicked (exit 101)"
    return f"exit {rc}"


def shorten(reason, width=90):
    """Groups failure reasons: drops the advice after ';', numbers and paths."""
    if not reason:
        return "(no reason)"
    r = reason.split("; the original")[0].split("; raise")[0].split("; run")[0]
    r = re.sub(r"/[^\s)]+", "<path>", r)
    r = re.sub(r"\b(page|pages) \d+", r"\1 N", r)
    r = re.sub(r"\d+", "N", r)
    r = re.sub(r"\s+", " ", r).strip()
    return r if len(r) <= width else r[: width - 1] + "…"


def text_status(info):
    """(status, reason) of a text info object. Accepts both serialisations
    akten has used: {"status": "partial", "reason": ..} inline, and
    {"status": {"status": "partial", "reason": ..}} nested."""
    status = info.get("status")
    if isinstance(status, dict):
        return status.get("status"), status.get("reason")
    return status, info.get("reason")


def snapshot_binary(akten, work):
    """Copies the akten binary into `work` and returns the copy: others may
    rebuild target/ while this runs, and the worker is started from the
    running executable, so a copy keeps one run on one build."""
    copy = os.path.join(work, "akten")
    shutil.copy2(akten, copy)
    return copy


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_index(corpus):
    index = {}
    path = os.path.join(corpus, "pdfs", "INDEX.tsv")
    if not os.path.exists(path):
        return index
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            index[row.get("file", "")] = row
    return index


def set_extract_settings(store, settings):
    """Overrides keys of [extract] in <store>/akten.toml (KEY=VALUE, VALUE as TOML)."""
    path = os.path.join(store, "akten.toml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    head, sep, section = text.partition("[extract]")
    if not sep:
        die(f"{path} has no [extract] section; cannot apply --set")
    body, nxt, rest = section.partition("\n[")
    for key, value in settings:
        pattern = re.compile(rf"^{re.escape(key)}\s*=.*$", re.M)
        if pattern.search(body):
            body = pattern.sub(f"{key} = {value}", body)
        else:
            body = body.rstrip("\n") + f"\n{key} = {value}\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + sep + body + nxt + rest)


# ---------------------------------------------------------------- main run


def add_one(akten, store, path, timeout, interval):
    rc, out, err, secs, sampler = run_akten(
        akten, ["--store", store, "--json", "add", "--allow-duplicate", path], timeout, interval
    )
    rec = {
        "rc": rc,
        "seconds": round(secs, 3),
        "parent_failure": None,
        "outcome": None,
        "doc": None,
        "status": None,
        "reason": None,
        "chars": None,
        "pages": None,
        "ocr_pages": None,
        "parent_hwm_kib": sampler.parent_hwm,
        "worker_hwm_kib": sampler.worker_hwm,
        "child_hwm_kib": sampler.child_hwm,
        "group_rss_kib": sampler.group_rss,
        "child_programs": dict(sampler.programs),
    }
    if rc not in (0, 1):
        rec["parent_failure"] = describe_rc(rc)
        rec["stderr_tail"] = err.strip()[-600:]
    try:
        report = json.loads(out)
        result = report["results"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        rec["parent_failure"] = rec["parent_failure"] or f"{describe_rc(rc)} without a JSON add report"
        rec["stderr_tail"] = err.strip()[-600:]
        return rec
    rec["outcome"] = result.get("outcome")
    if rec["outcome"] == "added":
        doc = result["doc"]
        rec["doc"] = doc["id"]
        text = doc.get("text") or {}
        rec["status"], rec["reason"] = text_status(text)
        rec["chars"] = text.get("chars")
        rec["pages"] = text.get("pages")
        rec["ocr_pages"] = text.get("ocr_pages")
    else:
        rec["reason"] = result.get("error")
    return rec


def mib(kib):
    return f"{kib / 1024:.0f}" if kib else "–"


def print_table(summary, categories):
    cols = [
        "category", "files", "stored", "ok", "partial", "empty", "encrypted", "awaiting OCR", "failed",
        "unsupported", "parent failures", "worker max RSS MiB", "children (tesseract, pdfimages, poppler) max RSS MiB",
        "max group RSS MiB", "wall s",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    total = collections.Counter()
    peaks = collections.Counter()
    for cat in categories + ["all"]:
        s = summary[cat] if cat != "all" else total + peaks
        row = [
            f"**{cat}**" if cat == "all" else cat,
            s["files"], s["stored"], s["ok"], s["partial"], s["empty"], s["encrypted"], s["awaiting_ocr"],
            s["failed"], s["unsupported"], s["parent_failures"], mib(s["worker_hwm_kib"]),
            mib(s["child_hwm_kib"]), mib(s["group_rss_kib"]), f"{s['seconds']:.1f}",
        ]
        print("| " + " | ".join(str(c) for c in row) + " |")
        if cat != "all":
            for k in ["files", "stored", "parent_failures", "seconds", *STATUSES]:
                total[k] += s[k]
            for k in ["worker_hwm_kib", "child_hwm_kib", "group_rss_kib"]:
                peaks[k] = max(peaks[k], s[k])


def main():
    ap = argparse.ArgumentParser(
        description="Run `akten add` over ../shared/corpus/pdfs and report text outcomes, crashes, memory and time "
        "per category (see the module docstring).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--akten", default=DEFAULT_AKTEN, help="akten binary (default: %(default)s)")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus root holding pdfs/ (default: %(default)s)")
    ap.add_argument("--json", metavar="OUT", help="also write all per-file results and summaries as JSON to OUT")
    ap.add_argument(
        "--category", action="append", choices=CATEGORIES, metavar="NAME",
        help=f"run only this category (repeatable; one of {', '.join(CATEGORIES)}; default: all)",
    )
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a key of [extract] in the temporary store's akten.toml, e.g. memory_mib=512 (repeatable)",
    )
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one `akten add` may take before it counts "
                    "as a hung parent and is killed (default: %(default)s; akten's own file_timeout_secs is 900)")
    ap.add_argument("--sample-ms", type=float, default=50, help="memory sampling interval (default: %(default)s)")
    ap.add_argument("--keep-store", action="store_true", help="keep the temporary store and print its path")
    args = ap.parse_args()

    pdfs = os.path.join(args.corpus, "pdfs")
    if not os.path.isdir(pdfs):
        print(f"corpus-extract: skipped: no corpus at {pdfs} (it lives in ../shared/corpus next to the project; "
              "a fresh clone does not have it)")
        return 0
    if not (os.path.isfile(args.akten) and os.access(args.akten, os.X_OK)):
        die(f"no akten binary at {args.akten}: run `cargo build` in {ROOT} or pass --akten BIN")
    settings = []
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq or not re.fullmatch(r"[a-z_]+", key.strip()):
            die(f"--set expects KEY=VALUE with a key of [extract], got {item!r}")
        settings.append((key.strip(), value.strip()))
    if not sys.platform.startswith("linux"):
        die("memory sampling reads /proc: Linux only")

    categories = args.category or CATEGORIES
    index = read_index(args.corpus)
    work = tempfile.mkdtemp(prefix="akten-corpus-extract-")
    store = os.path.join(work, "store")
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    all_start = time.perf_counter()
    try:
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(args.akten)))
        akten_label = (os.path.relpath(args.akten, ROOT) if args.akten.startswith(ROOT) else args.akten)
        akten_label += f" (built {built}, sha256 {sha256(args.akten)[:12]})"
        args.akten = snapshot_binary(args.akten, work)
        rc, out, err, _, _ = run_akten(args.akten, ["init", store], 120)
        if rc != 0:
            die(f"`akten init {store}` failed ({describe_rc(rc)}): {err.strip()}")
        if settings:
            set_extract_settings(store, settings)
        files = {}
        summary = {}
        interval = args.sample_ms / 1000
        for cat in categories:
            folder = os.path.join(pdfs, cat)
            if not os.path.isdir(folder):
                print(f"[{cat}] no folder {folder}: skipped", file=sys.stderr)
                continue
            names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
            s = collections.Counter(files=0, stored=0, parent_failures=0)
            s["failed_reasons"] = collections.Counter()
            s["partial_reasons"] = collections.Counter()
            cat_start = time.perf_counter()
            for i, name in enumerate(names, 1):
                rel = f"{cat}/{name}"
                path = os.path.join(folder, name)
                rec = add_one(args.akten, store, path, args.timeout, interval)
                rec["file"] = rel
                rec["path"] = path
                rec["size"] = os.path.getsize(path)
                rec["sha256"] = sha256(path)
                meta = index.get(rel, {})
                rec["index_note"] = meta.get("note")
                rec["index_pages"] = meta.get("pages")
                files[rel] = rec
                s["files"] += 1
                if rec["outcome"] == "added":
                    s["stored"] += 1
                    s[rec["status"]] += 1
                    if rec["status"] == "failed":
                        s["failed_reasons"][shorten(rec["reason"])] += 1
                    if rec["status"] == "partial":
                        s["partial_reasons"][shorten(rec["reason"])] += 1
                if rec["parent_failure"]:
                    s["parent_failures"] += 1
                for k in ["worker_hwm_kib", "child_hwm_kib", "group_rss_kib"]:
                    s[k] = max(s[k], rec[k])
                flag = f" PARENT FAILURE: {rec['parent_failure']}" if rec["parent_failure"] else ""
                print(
                    f"[{cat} {i}/{len(names)}] {name}: {rec['outcome']} {rec['status'] or ''} "
                    f"{rec['seconds']:.1f}s worker {mib(rec['worker_hwm_kib'])} MiB{flag}",
                    file=sys.stderr,
                )
            s["seconds"] = time.perf_counter() - cat_start
            summary[cat] = s
        categories = [c for c in categories if c in summary]

        # Every file stored and retrievable byte for byte; the store verifies clean.
        verify_rc, verify_out, verify_err, verify_secs, _ = run_akten(args.akten, ["--store", store, "verify"], 3600)
        retrieval_problems = []
        out_path = os.path.join(work, "get.out")
        for rel, rec in files.items():
            if rec["outcome"] != "added":
                retrieval_problems.append(f"{rel}: not stored ({rec['outcome']}: {rec['reason']})")
                rec["retrieved"] = False
                continue
            g_rc, _, g_err, _, _ = run_akten(args.akten, ["--store", store, "get", rec["doc"], "-o", out_path], 600)
            ok = g_rc == 0 and os.path.exists(out_path) and sha256(out_path) == rec["sha256"]
            rec["retrieved"] = ok
            if not ok:
                retrieval_problems.append(f"{rel}: `akten get {rec['doc']}` {describe_rc(g_rc)}: {g_err.strip()[-200:]}")
            if os.path.exists(out_path):
                os.remove(out_path)
        total_secs = time.perf_counter() - all_start

        # ---- report
        print(f"\n## akten add over {pdfs}\n")
        print(f"{started}, {os.cpu_count()} cores, {akten_label}"
              f", one file per `akten add`, [extract] defaults" + (f" with {', '.join(args.set)}" if args.set else "")
              + f"; total {total_secs:.0f} s\n")
        print_table(summary, categories)
        print("\nWorker max RSS: peak VmHWM of `akten __extract-worker`; children: peak VmHWM of its tesseract, pdfimages, pdftotext and pdftoppm "
              "processes (values up to ~16 MiB are short helpers such as the `tesseract --list-langs` check at worker start);"
              f" group: largest sum of their RSS at one {args.sample_ms:.0f} ms sample.\n")
        print("### Failed and partial texts by reason\n")
        any_reason = False
        for cat in categories:
            for kind in ["failed", "partial"]:
                for reason, n in summary[cat][f"{kind}_reasons"].most_common():
                    any_reason = True
                    print(f"- {cat}, {kind} ×{n}: {reason}")
        if not any_reason:
            print("- none")
        print("\n### Stress files\n")
        print("| file | what | outcome | text | time s | worker max RSS MiB | children max RSS MiB |")
        print("|---|---|---|---|---|---|---|")
        for rel, what in STRESS.items():
            rec = files.get(rel)
            if rec is None:
                continue
            text = rec["status"] or "–"
            if rec["reason"]:
                text += f": {shorten(rec['reason'], 120)}"
            outcome = rec["outcome"] or "–"
            if rec["parent_failure"]:
                outcome += f" (PARENT FAILURE: {rec['parent_failure']})"
            print(f"| {rel.split('/', 1)[1]} | {what} | {outcome} | {text} | {rec['seconds']:.1f} | "
                  f"{mib(rec['worker_hwm_kib'])} | {mib(rec['child_hwm_kib'])} |")
        print("\n### Parent failures\n")
        pf = [(rel, r) for rel, r in files.items() if r["parent_failure"]]
        for rel, r in pf:
            print(f"- {rel}: {r['parent_failure']}; stderr: {r.get('stderr_tail', '')[-300:]!r}")
        if not pf:
            print("- none: every `akten add` exited 0 or 1 with a JSON report")
        print("\n### Store checks\n")
        print(f"- `akten verify`: {describe_rc(verify_rc)} in {verify_secs:.1f} s"
              + ("" if verify_rc == 0 else f": {(verify_out + verify_err).strip()[-500:]}"))
        stored = sum(1 for r in files.values() if r.get("retrieved"))
        print(f"- stored and retrieved byte for byte (sha256): {stored} of {len(files)} files")
        for p in retrieval_problems:
            print(f"  - {p}")
        slow = sorted(files.items(), key=lambda kv: -kv[1]["seconds"])[:5]
        print("\n### Slowest files\n")
        for rel, r in slow:
            print(f"- {rel}: {r['seconds']:.1f} s, {r['status']}, {r['ocr_pages']} OCR pages, "
                  f"worker {mib(r['worker_hwm_kib'])} MiB")

        if args.json:
            def plain(s):
                return {k: (dict(v) if isinstance(v, collections.Counter) else v) for k, v in s.items()}
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({
                    "started": started, "akten": akten_label, "corpus": args.corpus, "cores": os.cpu_count(),
                    "settings": args.set, "seconds": total_secs,
                    "summary": {c: plain(summary[c]) for c in categories},
                    "verify_rc": verify_rc, "retrieval_problems": retrieval_problems, "files": files,
                }, f, indent=1, ensure_ascii=False)
            print(f"\nper-file results: {args.json}", file=sys.stderr)
        failed = bool(pf) or verify_rc != 0 or bool(retrieval_problems)
        return 1 if failed else 0
    finally:
        if args.keep_store:
            print(f"store kept at {store}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the temporary store
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        die("interrupted", 130)
