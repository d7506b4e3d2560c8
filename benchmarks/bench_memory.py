"""Peak memory of a whole `reelwright make` for a 10-minute output (offline animatic): the sum of the
resident memory of the process tree (Python + every ffmpeg child), sampled every 0.1 s, and the Python
process's own peak. Target: under 300 MB.

    .venv/bin/python benchmarks/bench_memory.py [--minutes 10] [--resolution 360p]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def tree_rss_kb(root: int) -> tuple[int, int]:
    """(sum of RSS over root and its descendants, root's own RSS) in KiB, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            with open(f"/proc/{entry}/status") as fh:
                vm = next((ln for ln in fh if ln.startswith("VmRSS:")), "VmRSS: 0 kB")
        except (OSError, IndexError, StopIteration):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(vm.split()[1])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total, rss.get(root, 0)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--resolution", default="360p")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "long.mp4"
        argv = [sys.executable, "-m", "reelwright.cli", "make",
                f"a {args.minutes:g} minute video of a city waking up: bakers, cyclists, a market opening, "
                "children walking to school, a harbour at noon",
                "-o", str(out), "--resolution", args.resolution, "--runs-dir", str(Path(tmp) / "runs")]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_tree = peak_py = 0
        while proc.poll() is None:
            tree, own = tree_rss_kb(proc.pid)
            peak_tree, peak_py = max(peak_tree, tree), max(peak_py, own)
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"make failed with exit {proc.returncode}")
            return 1
        from reelwright.media import probe

        info = probe(out)
    print(f"{'output':>10} {'frames':>7} {'wall s':>7} {'peak tree MB':>13} {'peak python MB':>15}")
    print(f"{float(info.duration):>9.3f}s {info.frames:>7} {wall:>7.1f} {peak_tree / 1024:>13.1f} {peak_py / 1024:>15.1f}")
    print("target: peak tree < 300 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
