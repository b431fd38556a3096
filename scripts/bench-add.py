#!/usr/bin/env python3
"""Times `akten add` of N files of 100 KiB with the real release binary,
against `cp` + `sync` of the same files and against hashing them alone
(`b3sum`), alternating within one run. Prints a Markdown table with medians
and ratios.

    python3 scripts/bench-add.py            # 10,000 files, 3 rounds
    N=2000 ROUNDS=5 python3 scripts/bench-add.py
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("N", "10000"))
SIZE = int(os.environ.get("SIZE", str(100 * 1024)))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def timed(cmd, **kw):
    start = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - start


def main():
    if shutil.which("b3sum") is None:
        sys.exit("b3sum is missing: apt-get install b3sum")
    run(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    akten = os.path.join(ROOT, "target", "release", "akten")
    work = tempfile.mkdtemp(prefix="akten-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        src = os.path.join(work, "files")
        os.mkdir(src)
        for i in range(N):
            with open(os.path.join(src, f"scan-{i:05}.pdf"), "wb") as f:
                f.write(os.urandom(SIZE))
        files = sorted(os.path.join(src, name) for name in os.listdir(src))
        run(["sync"])
        times = {"hash": [], "cp+sync": [], "akten add": []}
        for r in range(ROUNDS):
            times["hash"].append(timed(["b3sum", "--num-threads", "1", *files]))

            dest = os.path.join(work, "copy")
            shutil.rmtree(dest, ignore_errors=True)
            os.mkdir(dest)
            run(["sync"])
            start = time.perf_counter()
            run(["cp", *files, dest])
            run(["sync"])
            times["cp+sync"].append(time.perf_counter() - start)

            store = os.path.join(work, "store")
            shutil.rmtree(store, ignore_errors=True)
            run([akten, "--store", store, "init"])
            run(["sync"])
            times["akten add"].append(timed([akten, "--store", store, "add", *files]))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), file=sys.stderr)

        med = {k: statistics.median(v) for k, v in times.items()}
        mb = N * SIZE / 1e6
        print(f"{N} files of {SIZE // 1024} KiB ({mb:.0f} MB), median of {ROUNDS} rounds\n")
        print("| method | median | min–max | files/s | MB/s | ratio to cp + sync | ratio to hashing |")
        print("|---|---|---|---|---|---|---|")
        for k in ["hash", "cp+sync", "akten add"]:
            v = times[k]
            print(
                f"| {k} | {med[k]:.2f} s | {min(v):.2f}–{max(v):.2f} s | {N / med[k]:.0f} | {mb / med[k]:.0f} | "
                f"{med[k] / med['cp+sync']:.2f}× | {med[k] / med['hash']:.2f}× |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
