"""Time the built-in planner: the dog minute and a 10-minute request on several generators' capabilities,
median of N runs each, against the 0.5 s target. Run: .venv/bin/python benchmarks/bench_plan.py [N]"""

from __future__ import annotations

import statistics
import sys
import time
from fractions import Fraction

from reelwright.brief import Brief
from reelwright.generators.base import Capabilities
from reelwright.planning.builtin import build_plan
from reelwright.planning.durations import allocate_durations, allowed_durations

TARGET_S = 0.5
DOG = "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
TEN_MINUTES = ("a 10 minute video of my cat Mochi exploring the house, chasing a laser, napping in the sun, "
               "eating dinner, watching birds from the window, then falling asleep on the sofa. "
               "Title card 'Mochi's Day' at the start, end card 'Follow for more' at the end")

CAPS = {
    "animatic": Capabilities(name="animatic", model="animatic", min_duration=Fraction(1, 2), max_duration=Fraction(30),
                             duration_step=Fraction(1, 4), aspects=["16:9", "9:16", "1:1"], reference_images=True,
                             max_references=4, audio=True),
    "veo {4,6,8}": Capabilities(name="veo", model="veo-3.1", durations=[4, 6, 8], aspects=["16:9", "9:16"],
                                price_per_second=0.4, audio=True),
    "runway {5,10}": Capabilities(name="runway", model="gen4_turbo", durations=[5, 10], aspects=["16:9", "9:16"],
                                  price_per_second=0.05),
    "grok 1-15": Capabilities(name="xai", model="grok-imagine-video", min_duration=1, max_duration=15,
                              aspects=["16:9", "9:16", "1:1"], price_per_second=0.05, audio=True),
}


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(runs: int = 20) -> None:
    rows = []
    for label, request, fps in (("dog 60 s", DOG, Fraction(24)), ("dog 60 s", DOG, Fraction(30000, 1001)),
                                ("10 min", TEN_MINUTES, Fraction(24))):
        for name, caps in CAPS.items():
            brief = Brief(request=request, generator=caps.name, fps=fps)
            plan = build_plan(brief, caps)  # warm: first call compiles nothing, but fills caches fairly
            t = median_seconds(lambda: build_plan(brief, caps), runs)
            rows.append((f"plan {label} @{float(fps):.3g}", name, len(plan.shots), plan.total_frames, t))
    for name, caps in CAPS.items():
        allowed = allowed_durations(caps)
        t = median_seconds(lambda: allocate_durations(86400, Fraction(24), allowed, 6), runs)
        n = len(allocate_durations(86400, Fraction(24), allowed, 6))
        rows.append(("allocate 3600 s @24", name, n, 86400, t))
    print(f"median of {runs} runs; target < {TARGET_S} s per plan")
    print(f"{'case':<24} {'generator':<14} {'shots':>5} {'frames':>7} {'median ms':>10} {'x target':>9}")
    for case, gen, shots, frames, t in rows:
        print(f"{case:<24} {gen:<14} {shots:>5} {frames:>7} {t * 1000:>10.1f} {t / TARGET_S:>9.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
