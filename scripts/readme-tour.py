#!/usr/bin/env python3
"""Runs the README's tour with the real binary and prints its output.

    cargo build && python3 scripts/readme-tour.py            # print the tour
    cargo build && python3 scripts/readme-tour.py --write    # replace it in README.md

The tour runs in a fresh temporary directory (with the fixtures copied in),
so ids and times differ from run to run; document ids are picked up from
`--json` runs and put into the later commands. With --write, the code block
after the line "A clerk files the morning's post." in README.md is replaced.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--akten", default=str(ROOT / "target/debug/akten"), help="the akten binary")
    ap.add_argument("--write", action="store_true", help="replace the tour in README.md")
    args = ap.parse_args()
    akten = Path(args.akten)
    if not akten.is_file():
        sys.exit(f"error: {akten} does not exist: run `cargo build` first")

    work = Path(tempfile.mkdtemp(prefix="akten-tour-"))
    try:
        shutil.copytree(ROOT / "fixtures", work / "fixtures")
        nachgereicht = (ROOT / "fixtures/posteingang/bauantrag-flurstueck-17.pdf").read_bytes()
        (work / "bauantrag-nachgereicht.pdf").write_bytes(nachgereicht + b"% nachgereicht: Statik und Lageplan\n")
        env = {k: v for k, v in os.environ.items() if k != "AKTEN_STORE"}
        out = []

        def run(line, show=True):
            argv = [str(akten)] + shlex_split(line)
            p = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
            text = p.stderr + p.stdout
            if show:
                out.append(f"$ akten {line}\n{text}")
            return p

        def ids(line):
            p = subprocess.run([str(akten), "--json"] + shlex_split(line), cwd=work, env=env, capture_output=True, text=True)
            return json.loads(p.stdout)

        run("add fixtures/posteingang/bauantrag-flurstueck-17.pdf fixtures/posteingang/einladung-ratssitzung.pdf "
            "fixtures/posteingang/fundsache-meldung.txt")
        docs = {d["title"]: d["id"][:8] for d in ids("posteingang list")["documents"]}
        bau, fund = docs["bauantrag-flurstueck-17"], docs["fundsache-meldung"]
        run("search baugenehmigung")
        run("plan show 110.18")
        run('akte open 110.18 --title "Fundsachen 2026"')
        run('akte open 610.07 --title "Lindenallee 5, Flurstück 17"')
        run('vorgang open 610.07-0001/2026 --title "Bauantrag Einfamilienhaus mit Garage"')
        run("posteingang list")
        run(f"posteingang file {bau} --to 610.07-0001/2026-1")
        run(f"posteingang file {fund} --accept")
        run(f"version add {bau} bauantrag-nachgereicht.pdf")
        run("add fixtures/posteingang/bauantrag-flurstueck-17.pdf --to 610.07-0001/2026-1")
        run(f"show {bau}")
        run(f"text {bau}")
        run("search antrag --plan 610 --facets")
        run('search "Fundsache" OR ratssitzung')
        run("search Einfamilinehaus")
        run(f"get {bau} --version 1 -o kopie.pdf")
        run("akte close 110.18-0001/2026")
        run("akte close 610.07-0001/2026")
        run("akte close 610.07-0001/2026 --with-vorgaenge")
        run("log 610.07-0001/2026-1")
        run("verify")
        tour = "\n".join(out).replace(str(work) + "/", "").replace(str(work), ".")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if not args.write:
        print(tour, end="")
        return
    readme = ROOT / "README.md"
    text = readme.read_text()
    marker = "A clerk files the morning's post."
    start = text.index(marker)
    fence_open = text.index("```\n", start)
    fence_close = text.index("\n```\n", fence_open + 4)
    text = text[: fence_open + 4] + tour.rstrip("\n") + text[fence_close:]
    readme.write_text(text)
    print(f"wrote the tour into {readme}", file=sys.stderr)


def shlex_split(line):
    import shlex
    return shlex.split(line)


if __name__ == "__main__":
    main()
