"""History packing vs passing the whole history: frames kept, cost, and time to pack.

Run: .venv/bin/python benchmarks/bench_history.py   (costs are in full-frame units, L = 1)
Columns: tiers without limit (every frame kept, ever smaller), tiers capped at --max-tier
(older frames dropped), and temporal stride (full-size frames only)."""

from __future__ import annotations

import argparse
import math
import statistics
import time

from reelwright.context.history import pack_history


def timed(n: int, repeats: int, **kw) -> tuple[float, object]:
    times, packed = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        packed = pack_history(n, **kw)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), packed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--anchors", type=int, default=1)
    ap.add_argument("--n0", type=int, default=2)
    ap.add_argument("--budget", type=float, default=math.inf, help="in full frames (default: none)")
    ap.add_argument("--max-tier", type=int, default=5, help="for the capped column: 2^5 = a 512 px frame at 16 px")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    kw = dict(full_cost=1.0, budget=args.budget, anchors=args.anchors, n0=args.n0)
    bound = pack_history(0, **kw).bound
    print(f"anchors={args.anchors} n0={args.n0} growth=2 budget={args.budget:g} bound=(A+2·n0)·L={bound:g}")
    head = (f"{'N':>7} | {'kept':>7} {'packed cost':>11} {'naive cost':>10} {'packed/naive':>12} {'pack ms':>8} | "
            f"{'capped kept':>11} {'capped cost':>11} {'capped ms':>9} | "
            f"{'stride kept':>11} {'stride cost':>11} {'stride ms':>9}")
    print(head)
    print("-" * len(head))
    for n in (10, 100, 1_000, 10_000, 100_000):
        t, p = timed(n, args.repeats, **kw)
        tc, c = timed(n, args.repeats, max_tier=args.max_tier, **kw)
        ts, s = timed(n, args.repeats, temporal_stride_only=True, **kw)
        print(f"{n:>7} | {len(p.frames):>7} {p.cost:>11.5f} {p.naive_cost:>10.0f} {p.cost / p.naive_cost:>12.2e} "
              f"{t * 1e3:>8.3f} | {len(c.frames):>11} {c.cost:>11.5f} {tc * 1e3:>9.3f} | "
              f"{len(s.frames):>11} {s.cost:>11.1f} {ts * 1e3:>9.3f}")


if __name__ == "__main__":
    main()
