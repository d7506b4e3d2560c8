"""Peak memory of a whole `reelwright make` for a 10-minute output (offline animatic), sampled every 0.1 s
over the process tree (Python + every ffmpeg child): the sum of PSS (proportional set size: shared library
pages counted once across processes, the machine's real cost), the plain sum of RSS (which counts the
libraries every ffmpeg maps once per process), and the Python process's own peak RSS. Target: under 300 MB.

    .venv/bin/python benchmarks/bench_memory.py [--minutes 10] [--resolution 360p] [--concurrency N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def tree_memory_kb(root: int) -> tuple[int, int, int]:
    """(PSS sum, RSS sum over root and its descendants, root's own RSS) in KiB, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    pss = rss = own = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                fields = {ln.split(":")[0]: int(ln.split()[1]) for ln in fh if ln.split(":")[0] in ("Rss", "Pss")}
        except (OSError, ValueError, IndexError):
            continue
        pss += fields.get("Pss", 0)
        rss += fields.get("Rss", 0)
        if pid == root:
            own = fields.get("Rss", 0)
    return pss, rss, own


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--resolution", default="360p")
    ap.add_argument("--concurrency", type=int, default=None, help="clips made at once (default: the backend's)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "long.mp4"
        argv = [sys.executable, "-m", "reelwright.cli", "make",
                f"a {args.minutes:g} minute video of a city waking up: bakers, cyclists, a market opening, "
                "children walking to school, a harbour at noon",
                "-o", str(out), "--resolution", args.resolution, "--runs-dir", str(Path(tmp) / "runs")]
        if args.concurrency:
            argv += ["--concurrency", str(args.concurrency)]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_pss = peak_rss = peak_py = 0
        while proc.poll() is None:
            pss, rss, own = tree_memory_kb(proc.pid)
            peak_pss, peak_rss, peak_py = max(peak_pss, pss), max(peak_rss, rss), max(peak_py, own)
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"make failed with exit {proc.returncode}")
            return 1
        from reelwright.media import probe

        info = probe(out)
    print(f"{'output':>10} {'frames':>7} {'wall s':>7} {'peak PSS MB':>12} {'peak RSS sum MB':>16} {'python RSS MB':>14}")
    print(f"{float(info.duration):>9.3f}s {info.frames:>7} {wall:>7.1f} {peak_pss / 1024:>12.1f} {peak_rss / 1024:>16.1f} "
          f"{peak_py / 1024:>14.1f}")
    print("target: peak PSS of the whole tree < 300 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
