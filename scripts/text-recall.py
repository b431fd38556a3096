#!/usr/bin/env python3
"""Word recall of the text akten stores, against ground truth or a reference.

What it does
    Adds files one at a time (`akten add`, one call per file) to a fresh
    temporary store, reads back the stored text (`akten text --json`) and
    compares its words with a reference text. Parts (--part, default all):

    synthetic      ../shared/corpus/ocr/german-synthetic-scans: 9 German pages
                   as noisy, slightly rotated 200 dpi scans, each as JPEG and
                   as image-only PDF; reference = the ground truth named in
                   INDEX.json. Goal: overall recall >= 95 %.
    tesseract-test ../shared/corpus/ocr/tesseract-test: tesseract's own test
                   images with ground truth, including a page turned by 180
                   degrees and one turned sideways (English/multilingual text,
                   read with akten's configured language, deu by default).
    scanned        ../shared/corpus/pdfs/scanned (image-only PDFs, JBIG2, JPX,
                   CCITT, CMYK...). The corpus has no ground truth for them, so
                   the table shows akten's characters and words per file and,
                   unless --no-reference-ocr, the agreement with an independent
                   OCR of the rendered pages (poppler `pdftoppm -r 300` +
                   `tesseract -l deu --psm 1`): that is a consistency check of
                   akten's image handling, not an accuracy measurement.
    born-digital   ../shared/corpus/pdfs/{wellformed,german,pdfa,cjk_rtl,
                   malformed,large}: akten's text (lopdf, OCR for pages without
                   a text layer) against `pdftotext -layout`, per file and per
                   category: the "lopdf vs pdftotext" table. pdftotext is a
                   reference, not the truth: where its output is symbol soup
                   too (>= 200 visible characters, < 25 % letters) the file
                   is listed without recall and left out of the totals.

What it measures
    recall    = multiset overlap of reference words and akten's words /
                number of reference words
    precision = the same overlap / number of akten's words (shows garbage)
    character recall (born-digital) = the same over letters and digits,
                white space and punctuation ignored: high character recall
                with low word recall means words glued together, not lost
    Words: NFC, lower case, every punctuation mark and symbol (Unicode
    categories P*, S*) turned into a space, then split at white space, so
    "Straßen-Nr." gives "straßen", "nr" and a table-of-contents line
    "Inhalt.....3" gives "inhalt", "3"; CJK ideographs and kana count as one
    word each (those scripts have no spaces). Also seconds per `akten add` (with extraction/OCR) per file.

How to run (from the project root; needs `cargo build` and, for the
reference columns, poppler-utils and tesseract-ocr-deu)
    python3 scripts/text-recall.py
    python3 scripts/text-recall.py --part synthetic --json /tmp/recall.json
    python3 scripts/text-recall.py --part born-digital --category german

Exit status: 0; 1 if the synthetic part ran and missed the 95 % goal or an
`akten add` crashed; 2 on usage errors. Without ../shared/corpus it prints a
skip message and exits 0. Nothing of the corpus is written into the
repository; the temporary store is removed unless --keep-store.
"""

import argparse
import collections
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))
DEFAULT_AKTEN = os.path.join(ROOT, "target", "debug", "akten")
PARTS = ["synthetic", "tesseract-test", "scanned", "born-digital"]
BORN_DIGITAL = ["wellformed", "german", "pdfa", "cjk_rtl", "malformed", "large"]
SYNTHETIC_GOAL = 0.95
REFERENCE_MEMORY = 2 << 30  # address-space limit of pdftotext/pdftoppm/tesseract runs
REFERENCE_OUTPUT = 64 << 20  # file-size limit of their output (pdftotext on a bomb writes gigabytes)
REFERENCE_TIMEOUT = 120  # seconds per pdftotext run / per rendered page


def die(message, code=2):
    print(f"text-recall: {message}", file=sys.stderr)
    sys.exit(code)


def log(message):
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- words


def _is_cjk(ch):
    o = ord(ch)
    return (
        0x3040 <= o <= 0x30FF  # hiragana, katakana
        or 0x3400 <= o <= 0x4DBF  # CJK extension A
        or 0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= o <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= o <= 0x2FA1F  # extensions B..
    )


def words(text):
    """The normalised words of `text` as a list (see the module docstring)."""
    text = unicodedata.normalize("NFC", text).lower()
    chars = []
    for c in text:
        if unicodedata.category(c)[0] in "PS":
            chars.append(" ")
        elif _is_cjk(c):
            chars.append(f" {c} ")
        else:
            chars.append(c)
    return "".join(chars).split()


def words_strict(text):
    """Stricter words for a second opinion: split at white space only, with
    leading and trailing punctuation/symbols stripped, so "Inhalt.....3" or
    "2.2" stay one word each."""
    out = []
    for token in unicodedata.normalize("NFC", text).lower().split():
        start, end = 0, len(token)
        while start < end and unicodedata.category(token[start])[0] in "PS":
            start += 1
        while end > start and unicodedata.category(token[end - 1])[0] in "PS":
            end -= 1
        if start < end:
            out.append(token[start:end])
    return out


def compare(reference, hypothesis):
    """(reference words, hypothesis words, overlap) of two texts."""
    ref = collections.Counter(words(reference))
    hyp = collections.Counter(words(hypothesis))
    overlap = sum((ref & hyp).values())
    return sum(ref.values()), sum(hyp.values()), overlap


def differences(reference, hypothesis, limit=40):
    """Reference words akten missed and words it has beyond the reference
    (multisets, at most `limit` each), for the JSON output."""
    ref = collections.Counter(words(reference))
    hyp = collections.Counter(words(hypothesis))
    return list((ref - hyp).elements())[:limit], list((hyp - ref).elements())[:limit]


def char_recall(reference, hypothesis):
    """(reference characters, overlap): the multiset of letters and digits,
    white space and punctuation ignored. High character recall with low
    word recall means the text is there but words are glued together or
    split apart (missing spaces between text runs), not lost."""
    def chars(t):
        return collections.Counter(c for c in unicodedata.normalize("NFC", t).lower() if c.isalnum())
    ref, hyp = chars(reference), chars(hypothesis)
    return sum(ref.values()), sum((ref & hyp).values())


def ratio(a, b):
    return a / b if b else None


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f} %"


# ---------------------------------------------------------------- processes


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (REFERENCE_MEMORY, REFERENCE_MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (REFERENCE_OUTPUT, REFERENCE_OUTPUT))


def run(cmd, timeout, limit=False, env=None, stdout=None):
    """(rc or None on timeout, stdout bytes, stderr text, seconds). With
    `limit`, the program runs under REFERENCE_MEMORY and may write files of
    at most REFERENCE_OUTPUT bytes; pass `stdout` (a file) to keep a
    runaway output out of this process's memory."""
    start = time.perf_counter()
    try:
        p = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=timeout, preexec_fn=_limit_memory if limit else None, env=env,
        )
        return p.returncode, p.stdout or b"", p.stderr.decode(errors="replace")[-2000:], time.perf_counter() - start
    except subprocess.TimeoutExpired:
        return None, b"", "timeout", time.perf_counter() - start


def _descendants(pid):
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return out


def run_tree(cmd, timeout):
    """Like run(), for akten: on a timeout or an interruption it kills the
    akten process it started and its descendants (the extraction worker has
    a process group of its own)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except BaseException as e:
        for p in _descendants(proc.pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out, err = proc.communicate()
        if not isinstance(e, subprocess.TimeoutExpired):
            raise
        rc = None
    return rc, out, err.decode(errors="replace")[-2000:], time.perf_counter() - start


def text_status(info):
    """(status, reason) from akten's text info; accepts the inline
    ("status": "partial", "reason": ..) and nested serialisations."""
    status = info.get("status")
    if isinstance(status, dict):
        return status.get("status"), status.get("reason")
    return status, info.get("reason")


class Akten:
    def __init__(self, binary, store, timeout):
        self.binary, self.store, self.timeout = binary, store, timeout
        self.crashes = []

    def add(self, path):
        """Adds `path`, returns a record with the stored text."""
        rc, out, err, secs = run_tree(
            [self.binary, "--store", self.store, "--json", "add", "--allow-duplicate", path], self.timeout
        )
        rec = {"seconds": round(secs, 3), "rc": rc, "status": None, "reason": None, "pages": None,
               "ocr_pages": None, "doc": None, "text": ""}
        if rc not in (0, 1):
            what = "timeout" if rc is None else f"rc {rc}"
            self.crashes.append(f"{path}: akten add {what}: {err.strip()[-300:]}")
            rec["status"] = f"add crashed ({what})"
        try:
            result = json.loads(out)["results"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            rec["status"] = rec["status"] or "no JSON report"
            return rec
        if result.get("outcome") != "added":
            rec["status"] = f"not added ({result.get('outcome')})"
            rec["reason"] = result.get("error")
            return rec
        doc = result["doc"]
        info = doc.get("text") or {}
        rec["doc"] = doc["id"]
        rec["status"], rec["reason"] = text_status(info)
        rec["pages"], rec["ocr_pages"] = info.get("pages"), info.get("ocr_pages")
        t_rc, t_out, t_err, _ = run([self.binary, "--store", self.store, "--json", "text", doc["id"]], 300)
        if t_rc == 0:
            try:
                rec["text"] = json.loads(t_out).get("text") or ""
            except ValueError:
                rec["text"] = ""
        return rec


def garbled(text):
    """True when a reference text is symbol soup: at least 200 visible
    characters of which fewer than a quarter are letters (fonts without a
    Unicode map give that in pdftotext as well; such a file has no usable
    reference)."""
    visible = sum(1 for c in text if not c.isspace())
    letters = sum(1 for c in text if c.isalpha())
    return visible >= 200 and letters * 4 < visible


def pdftotext(path, scratch):
    """`pdftotext -layout` of `path`: (text or None, seconds, why not)."""
    out_path = os.path.join(scratch, "pdftotext.txt")
    with open(out_path, "wb") as out:
        rc, _, err, secs = run(["pdftotext", "-layout", "-enc", "UTF-8", path, "-"], REFERENCE_TIMEOUT,
                               limit=True, stdout=out)
    size = os.path.getsize(out_path)
    with open(out_path, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    os.remove(out_path)
    if rc is None:
        return None, secs, f"pdftotext took more than {REFERENCE_TIMEOUT} s"
    if size >= REFERENCE_OUTPUT:
        return None, secs, f"pdftotext wrote more than {REFERENCE_OUTPUT >> 20} MiB"
    if rc != 0 and not text.strip():
        return None, secs, f"pdftotext rc {rc}: {err.strip().splitlines()[-1] if err.strip() else ''}"
    if garbled(text):
        letters = sum(1 for c in text if c.isalpha()) / max(1, sum(1 for c in text if not c.isspace()))
        return None, secs, f"pdftotext output is garbled too ({100 * letters:.0f} % letters)"
    return text, secs, None


def reference_ocr(path, scratch, language):
    """Independent OCR of a PDF: every page rendered by pdftoppm at 300 dpi
    (long side at most 3508 px) in grey, then tesseract --psm 1."""
    base = os.path.join(scratch, "ref")
    for f in os.listdir(scratch):
        os.remove(os.path.join(scratch, f))
    start = time.perf_counter()
    rc, _, err, _ = run(["pdftoppm", "-r", "300", "-scale-to", "3508", "-gray", "-png", path, base], 4 * REFERENCE_TIMEOUT, limit=True)
    pages = sorted(f for f in os.listdir(scratch) if f.endswith(".png"))
    if not pages:
        return None, time.perf_counter() - start, f"pdftoppm rendered nothing (rc {rc}: {err.strip()[-120:]})"
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    texts = []
    for page in pages:
        rc, out, err, _ = run(["tesseract", os.path.join(scratch, page), "-", "-l", language, "--psm", "1"],
                              REFERENCE_TIMEOUT, limit=True, env=env)
        texts.append(out.decode("utf-8", errors="replace"))
    for f in os.listdir(scratch):
        os.remove(os.path.join(scratch, f))
    return "\n".join(texts), time.perf_counter() - start, None


# ---------------------------------------------------------------- parts


def short(reason, width=70):
    if not reason:
        return ""
    r = re.sub(r"\s+", " ", reason.split("; the original")[0].split("; raise")[0])
    return r if len(r) <= width else r[: width - 1] + "…"


def status_cell(rec):
    s = rec["status"] or "?"
    if rec.get("reason"):
        s += f" ({short(rec['reason'])})"
    return s


def part_synthetic(akten, corpus):
    folder = os.path.join(corpus, "ocr", "german-synthetic-scans")
    index_path = os.path.join(folder, "INDEX.json")
    if not os.path.exists(index_path):
        log(f"synthetic: no {index_path}: skipped")
        return None
    with open(index_path, encoding="utf-8") as f:
        index = json.load(f)
    rows = []
    for entry in index:
        with open(os.path.join(folder, entry["ground_truth"]), encoding="utf-8") as f:
            truth = f.read()
        for variant, key in (("JPEG", "image"), ("PDF", "scan")):
            name = entry.get(key)
            if not name:
                continue
            rec = akten.add(os.path.join(folder, name))
            ref_n, hyp_n, overlap = compare(truth, rec["text"])
            row = {"file": name, "variant": variant, "rotation_deg": entry.get("rotation_deg"),
                   "dpi": entry.get("dpi"), "ref_words": ref_n, "akten_words": hyp_n, "overlap": overlap,
                   "recall": ratio(overlap, ref_n), "precision": ratio(overlap, hyp_n), **strip_text(rec)}
            row["missed"], row["extra"] = differences(truth, rec["text"])
            strict_ref = collections.Counter(words_strict(truth))
            strict_hit = sum((strict_ref & collections.Counter(words_strict(rec["text"]))).values())
            row["strict_ref_words"], row["strict_overlap"] = sum(strict_ref.values()), strict_hit
            rows.append(row)
            log(f"synthetic {name}: {row['status']} recall {pct(row['recall'])} {row['seconds']:.1f}s")
    return rows


def part_tesseract_test(akten, corpus):
    folder = os.path.join(corpus, "ocr", "tesseract-test")
    if not os.path.isdir(folder):
        log(f"tesseract-test: no {folder}: skipped")
        return None
    rows = []
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in (".tif", ".tiff", ".png", ".jpg", ".jpeg"):
            continue
        truth_file = None
        for cand in (stem + ".txt", stem + ".gold.txt", stem.split("-rotated")[0] + ".txt"):
            if os.path.exists(os.path.join(folder, cand)):
                truth_file = cand
                break
        if truth_file is None:
            continue
        with open(os.path.join(folder, truth_file), encoding="utf-8", errors="replace") as f:
            truth = f.read()
        rec = akten.add(os.path.join(folder, name))
        ref_n, hyp_n, overlap = compare(truth, rec["text"])
        rows.append({"file": name, "ground_truth": truth_file, "ref_words": ref_n, "akten_words": hyp_n,
                     "overlap": overlap, "recall": ratio(overlap, ref_n), "precision": ratio(overlap, hyp_n),
                     **strip_text(rec)})
        rows[-1]["missed"], rows[-1]["extra"] = differences(truth, rec["text"])
        log(f"tesseract-test {name}: {rows[-1]['status']} recall {pct(rows[-1]['recall'])}")
    return rows


def read_index(corpus):
    index = {}
    path = os.path.join(corpus, "pdfs", "INDEX.tsv")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            for line in f:
                row = dict(zip(header, line.rstrip("\n").split("\t")))
                index[row.get("file", "")] = row
    return index


def sibling_reference(path):
    """Reference text next to a corpus PDF (X.txt or X.gt.txt), if any."""
    stem = os.path.splitext(path)[0]
    for cand in (stem + ".gt.txt", stem + ".txt"):
        if os.path.exists(cand):
            with open(cand, encoding="utf-8", errors="replace") as f:
                return f.read(), os.path.basename(cand)
    return None, None


def part_scanned(akten, corpus, reference, language, scratch):
    folder = os.path.join(corpus, "pdfs", "scanned")
    if not os.path.isdir(folder):
        log(f"scanned: no {folder}: skipped")
        return None
    index = read_index(corpus)
    rows = []
    for name in sorted(n for n in os.listdir(folder) if n.lower().endswith(".pdf")):
        path = os.path.join(folder, name)
        rec = akten.add(path)
        meta = index.get(f"scanned/{name}", {})
        row = {"file": name, "note": meta.get("note", ""), "chars": len(rec["text"]),
               "akten_words": len(words(rec["text"])), **strip_text(rec)}
        truth, truth_name = sibling_reference(path)
        if truth is not None:
            ref_n, _, overlap = compare(truth, rec["text"])
            row.update(ground_truth=truth_name, gt_words=ref_n, gt_recall=ratio(overlap, ref_n))
        if reference:
            ref_text, ref_secs, why = reference_ocr(path, scratch, language)
            row["ref_ocr_seconds"] = round(ref_secs, 2)
            if ref_text is None:
                row["ref_ocr_problem"] = why
            else:
                ref_n, hyp_n, overlap = compare(ref_text, rec["text"])
                row.update(ref_ocr_words=ref_n, ref_ocr_agreement=ratio(overlap, ref_n),
                           ref_ocr_precision=ratio(overlap, hyp_n))
        rows.append(row)
        log(f"scanned {name}: {row['status']} {row['akten_words']} words, agreement "
            f"{pct(row.get('ref_ocr_agreement'))} {row['seconds']:.1f}s")
    return rows


def part_born_digital(akten, corpus, categories, scratch):
    rows = []
    for cat in categories:
        folder = os.path.join(corpus, "pdfs", cat)
        if not os.path.isdir(folder):
            log(f"born-digital: no {folder}: skipped")
            continue
        for name in sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n))):
            path = os.path.join(folder, name)
            ref, ref_secs, ref_problem = pdftotext(path, scratch)
            rec = akten.add(path)
            row = {"category": cat, "file": name, "pdftotext_seconds": round(ref_secs, 3), **strip_text(rec)}
            if ref is None:
                row.update(ref_words=None, akten_words=len(words(rec["text"])), recall=None, precision=None,
                           pdftotext_problem=ref_problem[:150])
            else:
                ref_n, hyp_n, overlap = compare(ref, rec["text"])
                ref_c, overlap_c = char_recall(ref, rec["text"])
                row.update(ref_words=ref_n, akten_words=hyp_n, overlap=overlap,
                           recall=ratio(overlap, ref_n), precision=ratio(overlap, hyp_n),
                           ref_chars=ref_c, char_overlap=overlap_c, char_recall=ratio(overlap_c, ref_c))
            rows.append(row)
            log(f"born-digital {cat}/{name}: {row['status']} recall {pct(row['recall'])} "
                f"{row['seconds']:.2f}s (pdftotext {ref_secs:.2f}s)")
    return rows


def strip_text(rec):
    return {k: v for k, v in rec.items() if k != "text"}


# ---------------------------------------------------------------- report


def md_row(cells):
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def md_table(header, rows):
    print(md_row(header))
    print("|" + "---|" * len(header))
    for r in rows:
        print(md_row(r))
    print()


def micro(rows, ref_key="ref_words"):
    ref = sum(r[ref_key] or 0 for r in rows if r.get("recall") is not None)
    hit = sum(r.get("overlap", 0) for r in rows if r.get("recall") is not None)
    return ratio(hit, ref), ref


def report_synthetic(rows):
    print("### German synthetic scans (ground truth)\n")
    md_table(
        ["file", "rotation °", "text status", "OCR pages", "GT words", "akten words", "recall", "precision", "add s"],
        [[r["file"], r["rotation_deg"], status_cell(r), r["ocr_pages"], r["ref_words"], r["akten_words"],
          pct(r["recall"]), pct(r["precision"]), f"{r['seconds']:.1f}"] for r in rows],
    )
    summary = {}
    for variant in ("JPEG", "PDF", None):
        sel = [r for r in rows if variant is None or r["variant"] == variant]
        rec, ref = micro(sel)
        summary[variant or "all"] = rec
        low = [r["file"] for r in sel if (r["recall"] or 0) < SYNTHETIC_GOAL]
        print(f"- {variant or 'all'}: recall {pct(rec)} of {ref} ground-truth words, "
              f"mean per file {pct(statistics.mean([r['recall'] or 0 for r in sel]))}, "
              f"{sum(r['seconds'] for r in sel):.1f} s; below {SYNTHETIC_GOAL:.0%}: {', '.join(low) or 'none'}")
    strict = ratio(sum(r["strict_overlap"] for r in rows), sum(r["strict_ref_words"] for r in rows))
    print(f"- second opinion, stricter words (split at white space only, so dot leaders and numbers such as "
          f"\"2.2\" stay whole): recall {pct(strict)}")
    met = summary["all"] is not None and summary["all"] >= SYNTHETIC_GOAL
    print(f"- goal overall recall >= {SYNTHETIC_GOAL:.0%}: {'met' if met else 'NOT MET'}\n")
    return met


def report_tesseract_test(rows):
    print("### tesseract-test images (ground truth; English/multilingual text, read with deu)\n")
    md_table(
        ["file", "ground truth", "text status", "GT words", "akten words", "recall", "precision", "add s"],
        [[r["file"], r["ground_truth"], status_cell(r), r["ref_words"], r["akten_words"], pct(r["recall"]),
          pct(r["precision"]), f"{r['seconds']:.1f}"] for r in rows],
    )
    rec, ref = micro(rows)
    print(f"- all: recall {pct(rec)} of {ref} ground-truth words\n")


def report_scanned(rows, reference):
    print("### Scanned PDFs (pdfs/scanned; no ground truth in the corpus)\n")
    header = ["file", "corpus note", "text status", "pages", "OCR pages", "chars", "words", "add s"]
    if reference:
        header += ["agreement with reference OCR", "reference words"]
    if any("gt_recall" in r for r in rows):
        header += ["recall vs ground truth"]
    body = []
    for r in rows:
        cells = [r["file"], r["note"], status_cell(r), r["pages"], r["ocr_pages"], r["chars"], r["akten_words"],
                 f"{r['seconds']:.1f}"]
        if reference:
            cells += [pct(r.get("ref_ocr_agreement")) if "ref_ocr_problem" not in r else r["ref_ocr_problem"],
                      r.get("ref_ocr_words", "–")]
        if any("gt_recall" in x for x in rows):
            cells += [pct(r.get("gt_recall"))]
        body.append(cells)
    md_table(header, body)
    gt = [r for r in rows if "gt_recall" in r]
    print(f"- ground truth: {len(gt)} of {len(rows)} files have reference text beside them in the corpus"
          + ("" if gt else " (none: INDEX.tsv lists source, licence and pdftotext character counts only)"))
    if reference:
        agree = [r for r in rows if r.get("ref_ocr_agreement") is not None]
        ref = sum(r["ref_ocr_words"] for r in agree)
        hit = sum(round(r["ref_ocr_agreement"] * r["ref_ocr_words"]) for r in agree)
        print(f"- agreement with the reference OCR (pdftoppm 300 dpi + tesseract deu --psm 1, same engine): "
              f"{pct(ratio(hit, ref))} of {ref} words over {len(agree)} files; this is a consistency check of "
              "akten's image extraction, not accuracy")
    print(f"- akten add time: {sum(r['seconds'] for r in rows):.1f} s for {len(rows)} files\n")


def report_born_digital(rows):
    print("### Born-digital PDFs: akten (lopdf) vs `pdftotext -layout`, per category\n")
    body = []
    for cat in BORN_DIGITAL + ["all"]:
        sel = [r for r in rows if cat == "all" or r["category"] == cat]
        if not sel:
            continue
        with_ref = [r for r in sel if r["recall"] is not None]
        rec, ref = micro(with_ref)
        hyp = sum(r["akten_words"] for r in with_ref)
        prec = ratio(sum(r["overlap"] for r in with_ref), hyp)
        per_file = [r["recall"] for r in with_ref]
        crec = ratio(sum(r["char_overlap"] for r in with_ref), sum(r["ref_chars"] for r in with_ref))
        body.append([
            f"**{cat}**" if cat == "all" else cat, len(sel), len(with_ref), ref, pct(rec), pct(prec), pct(crec),
            pct(statistics.median(per_file)) if per_file else "n/a",
            sum(1 for x in per_file if x < 0.9), sum(1 for r in sel if r["ocr_pages"]),
            f"{sum(r['seconds'] for r in sel):.1f}", f"{sum(r['pdftotext_seconds'] for r in sel):.1f}",
        ])
    md_table(["category", "files", "with pdftotext words", "pdftotext words", "recall (all words)",
              "precision", "character recall", "median recall per file", "files < 90 %", "files with OCR pages", "akten add s",
              "pdftotext s"], body)
    no_ref = collections.Counter(re.sub(r"\d+", "N", r["pdftotext_problem"]) for r in rows if r["recall"] is None
                                 and r.get("pdftotext_problem"))
    empty_ref = sum(1 for r in rows if r["recall"] is None and not r.get("pdftotext_problem"))
    print(f"- files without usable reference (left out of recall): {empty_ref} where pdftotext finds no words"
          + "".join(f"; {n} × {why}" for why, n in no_ref.most_common()) + "\n")
    print("#### Per file\n")
    md_table(
        ["category", "file", "text status", "pages", "OCR pages", "pdftotext words", "akten words", "recall",
         "precision", "character recall", "add s", "pdftotext s"],
        [[r["category"], r["file"], status_cell(r), r["pages"], r["ocr_pages"],
          r["ref_words"] if r["ref_words"] is not None else f"– ({r['pdftotext_problem']})",
          r["akten_words"], pct(r["recall"]), pct(r["precision"]), pct(r.get("char_recall")), f"{r['seconds']:.2f}",
          f"{r['pdftotext_seconds']:.2f}"] for r in rows],
    )


def main():
    ap = argparse.ArgumentParser(
        description="Word recall of akten's stored text against ground truth (OCR corpora) and pdftotext "
        "(born-digital PDFs); see the module docstring.",
    )
    ap.add_argument("--akten", default=DEFAULT_AKTEN, help="akten binary (default: %(default)s)")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus root (default: %(default)s)")
    ap.add_argument("--json", metavar="OUT", help="also write all per-file results as JSON to OUT")
    ap.add_argument("--part", action="append", choices=PARTS,
                    help="run only this part (repeatable; default: all of " + ", ".join(PARTS) + ")")
    ap.add_argument("--category", action="append", choices=BORN_DIGITAL, metavar="NAME",
                    help="born-digital categories to run (repeatable; default: " + ", ".join(BORN_DIGITAL) + ")")
    ap.add_argument("--no-reference-ocr", action="store_true",
                    help="scanned part: skip the independent pdftoppm+tesseract reference OCR")
    ap.add_argument("--language", default="deu", help="tesseract language of the reference OCR (default: deu)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one `akten add` may take (default: %(default)s)")
    ap.add_argument("--keep-store", action="store_true", help="keep the temporary store and print its path")
    args = ap.parse_args()

    if not os.path.isdir(args.corpus):
        print(f"text-recall: skipped: no corpus at {args.corpus} (it lives in ../shared/corpus next to the "
              "project; a fresh clone does not have it)")
        return 0
    if not (os.path.isfile(args.akten) and os.access(args.akten, os.X_OK)):
        die(f"no akten binary at {args.akten}: run `cargo build` in {ROOT} or pass --akten BIN")
    parts = args.part or PARTS
    reference = "scanned" in parts and not args.no_reference_ocr
    needed = []
    if "born-digital" in parts:
        needed.append("pdftotext")
    if reference:
        needed += ["pdftoppm", "tesseract"]
    missing = [p for p in needed if shutil.which(p) is None]
    if missing:
        die(f"{', '.join(missing)} not found: apt-get install poppler-utils tesseract-ocr tesseract-ocr-deu "
            "(or leave out the part / use --no-reference-ocr)")

    work = tempfile.mkdtemp(prefix="akten-text-recall-")
    store = os.path.join(work, "store")
    scratch = os.path.join(work, "scratch")
    os.mkdir(scratch)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    try:
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(args.akten)))
        label = os.path.relpath(args.akten, ROOT) if args.akten.startswith(ROOT) else args.akten
        label += f" (built {built})"
        # Others may rebuild target/ meanwhile; the worker is started from the
        # running executable, so a private copy keeps one run on one build.
        binary = os.path.join(work, "akten")
        shutil.copy2(args.akten, binary)
        rc, _, err, _ = run([binary, "init", store], 120)
        if rc != 0:
            die(f"`akten init` failed (rc {rc}): {err.strip()}")
        akten = Akten(binary, store, args.timeout)
        results, seconds = {}, {}
        for part in parts:
            t0 = time.perf_counter()
            if part == "synthetic":
                results[part] = part_synthetic(akten, args.corpus)
            elif part == "tesseract-test":
                results[part] = part_tesseract_test(akten, args.corpus)
            elif part == "scanned":
                results[part] = part_scanned(akten, args.corpus, reference, args.language, scratch)
            elif part == "born-digital":
                results[part] = part_born_digital(akten, args.corpus, args.category or BORN_DIGITAL, scratch)
            seconds[part] = time.perf_counter() - t0

        print(f"## Text recall of akten\n\n{started}, {os.cpu_count()} cores, {label}, "
              f"`python3 scripts/text-recall.py {' '.join(sys.argv[1:])}`".rstrip() + "\n")
        print("Part run times: " + ", ".join(f"{p} {s:.0f} s" for p, s in seconds.items()) + "\n")
        goal_met = True
        for part in parts:
            rows = results.get(part)
            if not rows:
                print(f"### {part}: skipped (corpus part missing)\n")
                continue
            if part == "synthetic":
                goal_met = report_synthetic(rows)
            elif part == "tesseract-test":
                report_tesseract_test(rows)
            elif part == "scanned":
                report_scanned(rows, reference)
            elif part == "born-digital":
                report_born_digital(rows)
        if akten.crashes:
            print("### akten add crashes\n")
            for c in akten.crashes:
                print(f"- {c}")
            print()
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump({"started": started, "akten": label, "cores": os.cpu_count(), "seconds": seconds,
                           "results": results, "crashes": akten.crashes}, f, indent=1, ensure_ascii=False)
            log(f"per-file results: {args.json}")
        return 0 if goal_met and not akten.crashes else 1
    finally:
        if args.keep_store:
            log(f"store kept at {store}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the temporary store
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        die("interrupted", 130)
