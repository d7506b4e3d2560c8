"""Benchmark: what a studio job's own process (the Ray driver under `serve --executor ray`) costs while its clips
are made on the cluster — the evidence for not dispatching whole jobs as Ray tasks (ARCHITECTURE.md).

A whole `make_video` (plan, take loop, conform and checks, cut, finish) with `executor="ray"` and a fake backend
that takes `--seconds` per clip (a remote model's queue and render). Reports the job's wall time, the CPU the
job's process and its ffmpeg children used, and the part of the wall after the last clip was accepted (the cut
and finish: serial, on the driver, whatever runs it).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_serve_jobs.py [--duration 24 --workers 8 --seconds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import SlowFakeGenerator  # noqa: E402

from reelwright.api import make_video  # noqa: E402
from reelwright.generators.registry import register  # noqa: E402
from reelwright.media.ffmpeg import run_ffmpeg  # noqa: E402


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=24)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--executor", default="ray", help="ray, or local for the same job on the local pool")
    args = ap.parse_args()

    from reelwright.executors.ray_cluster import connect

    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    clip = tmp / "one.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24", "-frames:v", "24", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)])
    register("bench-slow", SlowFakeGenerator)
    if args.executor == "ray":
        connect(num_cpus=2)  # start-up apart: the studio starts its cluster once, not per job

    c0, t0 = cpu_s(), time.perf_counter()
    delivery = make_video("a dog going on a walk, sniffing around, getting a pup cup", output=tmp / "out.mp4",
                          runs_dir=tmp / "runs", generator="bench-slow", duration=args.duration, resolution="360p",
                          executor=args.executor, ray_workers=args.workers if args.executor == "ray" else None,
                          concurrency=args.workers,
                          generator_options={"delay": args.seconds, "clip": str(clip), "workers": args.workers})
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    events = [json.loads(x) for x in (delivery.run.root / "trace.jsonl").read_text().splitlines() if x.strip()]
    stamps = [e["ts"] for e in events]
    accepted = [e["ts"] for e in events if e.get("step") == "generate" and e.get("status") == "done"]
    tail = (max(stamps) - max(accepted)) if accepted and stamps else float("nan")
    shots = len(delivery.plan.shots)
    print(f"{shots} shots x {args.seconds:g} s, {args.workers} workers ({args.executor}), a {args.duration} s video")
    print(f"job wall {wall:.2f} s; job process + ffmpeg CPU {cpu:.2f} s ({cpu / wall:.0%} of one core)")
    print(f"after the last clip (cut, sound, finish, on the driver): {tail:.2f} s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
