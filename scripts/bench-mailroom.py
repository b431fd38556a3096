#!/usr/bin/env python3
"""Mailroom benchmark: the real binary taking files from a store's inbox.

1. Born-digital PDFs (1-3 pages) per second from the inbox to committed and
   indexed (`akten intake run`: stage + fsync the blob, read the text in the
   worker, one catalog commit per file, remove the file, index commit per
   run of ready files). Baseline in the same run: `akten add` of the same
   files in one command (256 files per commit).
2. Scans: the same pages once through the mailroom (worker, cover-sheet
   check, OCR, commit) and through tesseract alone (`tesseract PAGE -
   -l deu --psm 1`, OMP_THREAD_LIMIT=1, as many at a time as the mailroom
   runs: one per core), on the pages as PNG and as uncompressed TIFF; the
   faster of the two is the baseline. The difference is the pipeline's
   overhead.

The mailroom runs with `stable_secs = 0` (the stability wait is latency,
not work); its time is the wall time of `akten intake run` until it has
committed, indexed and exited, minus that of the same command on an empty
inbox (start-up, shut-down).

Usage: scripts/bench-mailroom.py [--akten target/release/akten] [--files 500]
       [--scan-files 6 --scan-pages 4 --dpi 300] [--json out.json]
Needs: tesseract with German data, ImageMagick `convert`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

WORDS = ("Antrag Genehmigung Sondernutzung Straße Bescheid Widerspruch Gebühren Grundstück Bauantrag "
         "Kastanie Stadtpark Verwaltung Bürgerbüro Ordnungsamt Anhörung Frist Zahlung Erstattung").split()


def pdf_bytes(pages):
    """A minimal valid PDF; each page is ('text', [lines]) or ('gray', w, h, raw bytes)."""
    objs = []  # index i -> bytes of object i+1

    def add(body):
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pages_id = add(b"")  # filled below
    kids = []
    for page in pages:
        if page[0] == "text":
            content = b"BT /F1 11 Tf 14 TL 60 780 Td\n"
            for line in page[1]:
                esc = line.encode("cp1252", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
                content += b"(" + esc + b") Tj T*\n"
            content += b"ET"
            res = b"<< /Font << /F1 %d 0 R >> >>" % font
        else:
            _, w, h, raw = page
            data = zlib.compress(raw, 6)
            img = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                      b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(data))
                      + data + b"\nendstream")
            content = b"q 595 0 0 842 0 0 cm /Im1 Do Q"
            res = b"<< /XObject << /Im1 %d 0 R >> >>" % img
        c = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R /Resources %s >>"
                        % (pages_id, c, res)))
    objs[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.5\n")
    offsets = []
    for i, body in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, xref)
    return bytes(out)


def letter(i):
    pages = []
    for p in range(1 + i % 3):
        words = [WORDS[(i * 7 + p * 3 + k) % len(WORDS)] for k in range(60)]
        lines = [f"Stadtverwaltung Beispielstadt, Schreiben {i}, Seite {p + 1}"]
        lines += [" ".join(words[k:k + 10]) for k in range(0, 60, 10)]
        pages.append(("text", lines))
    return pdf_bytes(pages)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def new_store(akten, root, name, edits):
    store = os.path.join(root, name)
    run([akten, "--store", store, "init"])
    cfg = os.path.join(store, "akten.toml")
    text = open(cfg).read()
    for key, value in edits.items():
        lines = text.split("\n")
        lines = [f"{key} = {value}" if l.startswith(f"{key} = ") else l for l in lines]
        text = "\n".join(lines)
    open(cfg, "w").write(text)
    return store


def mailroom_run(akten, store):
    """Runs `akten intake run` over the inbox; returns its wall time minus
    that of the same command on an empty inbox (start-up and shut-down)."""
    def timed():
        t = time.monotonic()
        run([akten, "--store", store, "intake", "run"])
        return time.monotonic() - t
    inbox = os.path.join(store, "inbox")
    parked = store + "-parked"
    shutil.move(inbox, parked)
    os.makedirs(inbox)
    empty = min(timed() for _ in range(3))
    os.rmdir(inbox)
    shutil.move(parked, inbox)
    return timed() - empty


def born_digital(akten, root, n):
    files = os.path.join(root, "letters")
    os.makedirs(files)
    names = []
    pages = 0
    for i in range(n):
        name = os.path.join(files, f"brief-{i:05}.pdf")
        data = letter(i)
        pages += 1 + i % 3
        open(name, "wb").write(data)
        names.append(name)
    store = new_store(akten, root, "mailroom", {"stable_secs": 0, "rescan_secs": 3600, "summary_secs": 3600})
    inbox = os.path.join(store, "inbox")
    for name in names:
        shutil.copy(name, inbox)
    secs = mailroom_run(akten, store)
    left = os.listdir(inbox)
    assert not left, f"inbox not empty: {left[:5]}"
    total = json.loads(run([akten, "--store", store, "--json", "search", "stadtverwaltung", "--limit", "1"]).stdout)["total"]
    assert total == n, f"search finds {total} of {n}"
    # Baseline: the same files with `akten add` in one command.
    base = new_store(akten, root, "add", {})
    t = time.monotonic()
    run([akten, "--store", base, "add", *names])
    add_secs = time.monotonic() - t
    return {"files": n, "pages": pages, "mailroom_s": round(secs, 3), "mailroom_per_s": round(n / secs, 1),
            "add_s": round(add_secs, 3), "add_per_s": round(n / add_secs, 1),
            "ratio_mailroom_to_add": round(secs / add_secs, 2)}


def gray_bytes(path):
    return subprocess.run(["convert", path, "-depth", "8", "gray:-"], check=True, capture_output=True).stdout


def scans(akten, root, n_files, n_pages, dpi):
    pages_dir = os.path.join(root, "pages")
    os.makedirs(pages_dir)
    pngs = []
    files = []
    for f in range(n_files):
        pages = []
        for p in range(n_pages):
            png = os.path.join(pages_dir, f"s{f}-p{p}.png")
            words = [WORDS[(f * 5 + p * 11 + k) % len(WORDS)] for k in range(48)]
            text = f"Scan {f}, Seite {p + 1}\n" + "\n".join(" ".join(words[k:k + 6]) for k in range(0, 48, 6))
            w, h = int(8.27 * dpi), int(11.69 * dpi)
            subprocess.run(["convert", "-size", f"{w}x{h}", "xc:white", "-font", "DejaVu-Sans", "-pointsize",
                            str(11 * dpi // 72), "-fill", "black", "-annotate", f"+{dpi}+{dpi * 2}", text,
                            "-colorspace", "Gray", "-depth", "8", png], check=True)
            pngs.append(png)
            pages.append(("gray", w, h, gray_bytes(png)))
        name = os.path.join(root, f"scan-{f:03}.pdf")
        open(name, "wb").write(pdf_bytes(pages))
        files.append(name)
    jobs = os.cpu_count() or 1
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    # The same pages as uncompressed TIFF, the form the worker hands to
    # tesseract (converted beforehand, not timed).
    tiffs = []
    for png in pngs:
        tif = png[:-4] + ".tif"
        subprocess.run(["convert", png, "-compress", "none", tif], check=True)
        tiffs.append(tif)

    def ocr_all(images):
        t = time.monotonic()
        with ThreadPoolExecutor(jobs) as pool:
            outs = list(pool.map(lambda p: subprocess.run(["tesseract", p, "-", "-l", "deu", "--psm", "1"], env=env,
                                                          check=True, capture_output=True, text=True).stdout, images))
        return time.monotonic() - t, sum(len(o.strip()) for o in outs)

    png_secs, tess_chars = ocr_all(pngs)
    tif_secs, _ = ocr_all(tiffs)
    tess_secs = min(png_secs, tif_secs)
    store = new_store(akten, root, "scans", {"stable_secs": 0, "rescan_secs": 3600, "summary_secs": 3600})
    for name in files:
        shutil.copy(name, os.path.join(store, "inbox"))
    secs = mailroom_run(akten, store)
    # Every page was read by OCR, as much text as tesseract alone gave.
    docs = json.loads(run([akten, "--store", store, "--json", "posteingang", "list"]).stdout)["documents"]
    ocr_pages = sum(d["text"]["ocr_pages"] for d in docs)
    assert ocr_pages == n_files * n_pages, f"{ocr_pages} pages read by OCR of {n_files * n_pages}"
    chars = sum(d["text"]["chars"] for d in docs)
    return {"files": n_files, "pages": n_files * n_pages, "dpi": dpi, "parallel": jobs, "ocr_chars": chars,
            "tesseract_chars": tess_chars,
            "tesseract_png_s": round(png_secs, 2), "tesseract_tiff_s": round(tif_secs, 2),
            "tesseract_alone_s": round(tess_secs, 2), "mailroom_s": round(secs, 2),
            "overhead_pct": round((secs / tess_secs - 1) * 100, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--akten", default="target/release/akten")
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--scan-files", type=int, default=6)
    ap.add_argument("--scan-pages", type=int, default=4)
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--skip-scans", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    akten = os.path.abspath(a.akten)
    if not os.path.exists(akten):
        sys.exit(f"{akten} not found: build it with `cargo build --release` or give --akten")
    result = {"git": run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip()}
    with tempfile.TemporaryDirectory() as root:
        result["born_digital"] = born_digital(akten, root, a.files)
        print(json.dumps(result["born_digital"]), flush=True)
        if not a.skip_scans:
            if not shutil.which("tesseract") or not shutil.which("convert"):
                sys.exit("the scan benchmark needs tesseract (tesseract-ocr-deu) and ImageMagick")
            result["scans"] = scans(akten, root, a.scan_files, a.scan_pages, a.dpi)
            print(json.dumps(result["scans"]), flush=True)
    if a.json:
        open(a.json, "w").write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
