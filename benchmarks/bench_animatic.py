"""Benchmark: a 60 s 1280x720 24 fps animatic as 8 shots, rendered one at a time and then with two
workers side by side in one run; reports wall seconds, CPU seconds and the multiple of real time.

    .venv/bin/python benchmarks/bench_animatic.py [--seconds 60 --shots 8 --size 1280x720 --fps 24]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av

from reelwright.generators.animatic import AnimaticGenerator
from reelwright.generators.base import ClipRequest
from reelwright.timing import timecode

BEATS = [
    ("The dog wakes and stretches by the door", "slow push-in", "A scruffy terrier stretches on a wooden porch at sunrise, soft warm light"),
    ("Out on the leafy park path", "tracking shot", "The terrier trots along a leafy park path in the morning, trees and grass, dappled sunlight"),
    ("Sniffing every single blade of grass", "handheld", "Close on the terrier sniffing the grass in the park, shallow depth of field, playful"),
    ("The café window and its pup cup", "pan right", "A cosy coffee shop interior, a barista hands over a pup cup of whipped cream, warm bokeh"),
    ("First lick of whipped cream", "static", "Macro of the terrier licking whipped cream, cream on its nose, happy, bright daylight"),
    ("A friend appears at the gate", "tilt up", "A golden retriever waits at the park gate in the afternoon, tail wagging"),
    ("Two dogs race across the field", "aerial drone", "Aerial view of two dogs racing across a green field, long shadows, golden hour"),
    ("Home at dusk, tired and happy", "pull back", "The terrier curls up on a blanket by the window at sunset, city lights beginning to glow"),
]


def requests(out: Path, seconds: Fraction, shots: int, w: int, h: int, fps: Fraction) -> list[ClipRequest]:
    each = seconds / shots
    out.mkdir(parents=True, exist_ok=True)
    reqs = []
    for i in range(shots):
        beat, camera, prompt = BEATS[i % len(BEATS)]
        reqs.append(ClipRequest(
            shot_id=f"s{i + 1:02d}", prompt=prompt, duration=each, width=w, height=h, aspect="16:9", fps=fps, seed=i,
            out_path=out / f"s{i + 1:02d}.mp4",
            display={"index": i + 1, "count": shots, "beat": beat, "camera": camera, "title": "A dog's day out",
                     "start_tc": timecode(each * i)}))
    return reqs


def frames_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(reqs: list[ClipRequest], workers: int) -> tuple[float, float]:
    gen = AnimaticGenerator()
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(gen.generate, reqs))
    return time.perf_counter() - t0, cpu_seconds() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=Fraction, default=Fraction(60))
    ap.add_argument("--shots", type=int, default=8)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", type=Fraction, default=Fraction(24))
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as td:
        results = {}
        for workers in (1, 2):
            reqs = requests(Path(td) / f"w{workers}", args.seconds, args.shots, w, h, args.fps)
            wall, cpu = run(reqs, workers)
            frames = sum(frames_in(r.out_path) for r in reqs)
            results[workers] = wall
            print(f"{workers} worker(s): {float(args.seconds):.1f} s of {w}x{h}@{float(args.fps):g} in {args.shots} shots "
                  f"({frames} frames): {wall:.1f} s wall, {cpu:.1f} s CPU, {float(args.seconds) / wall:.2f}x real time")
        print(f"2 workers vs 1: {results[1] / results[2]:.2f}x faster")


if __name__ == "__main__":
    main()
