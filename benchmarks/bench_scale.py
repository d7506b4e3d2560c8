"""Benchmark: 24 shots from a fake generator that takes 5 s per clip, made by the local pool (8 threads) and by
Ray (8 worker actors, in-process cluster) side by side in one run. Reports each against the ideal schedule
(ceil(24 / 8) waves x 5 s) as harness overhead, and the cost per shot of going through Ray, measured with a
generator that takes no time at all.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_scale.py [--shots 24 --workers 8 --seconds 5]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

from reelwright.generators.base import Capabilities, ClipRequest, ClipResult, Generator
from reelwright.generators.options import GeneratorOptions
from reelwright.media.ffmpeg import run_ffmpeg


class SlowOptions(GeneratorOptions):
    delay: float = 5.0
    clip: str = ""
    workers: int = 8


class SlowFakeGenerator(Generator):
    """Waits `delay` seconds (a remote model's queue and render), then hands back a pre-made 1 s clip."""

    name = "bench-slow"
    Options = SlowOptions  # declared: options are checked against the backend's Options

    def __init__(self, model: str | None = None, *, delay: float = 5.0, clip: str = "", workers: int = 8):
        super().__init__(model or "slow", delay=delay, clip=clip, workers=workers)
        self.delay, self.clip, self.workers = delay, Path(clip), workers

    def capabilities(self) -> Capabilities:
        return Capabilities(name=self.name, model=self.model, durations=[Fraction(1)], concurrency=self.workers,
                            local=False)

    def generate(self, request: ClipRequest, progress: Any = None) -> ClipResult:
        time.sleep(self.delay)
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.clip, request.out_path)
        return ClipResult(path=request.out_path, duration=Fraction(1), model=self.model)


def requests(folder: Path, shots: int) -> list[ClipRequest]:
    return [ClipRequest(shot_id=f"s{i}", prompt=f"shot {i}", duration=Fraction(1), width=160, height=90,
                        aspect="16:9", out_path=folder / f"s{i}.mp4") for i in range(shots)]


def run_pool(gen: Generator, reqs: list[ClipRequest], workers: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(gen.generate, reqs):
            assert Path(result.path).stat().st_size > 0
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shots", type=int, default=24)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()

    from reelwright.executors.ray_cluster import connect
    from reelwright.executors.ray_generator import RayGenerator

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    clip = tmp / "one.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24", "-frames:v", "24", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)])
    ideal = math.ceil(args.shots / args.workers) * args.seconds

    t0 = time.perf_counter()
    connect(num_cpus=2)
    startup_ray = time.perf_counter() - t0
    slow = SlowFakeGenerator(delay=args.seconds, clip=str(clip), workers=args.workers)
    t0 = time.perf_counter()
    on_ray = RayGenerator(slow, workers=args.workers, limit=args.workers, cpus_per_worker=2 / args.workers / 2)
    on_ray.stats()  # every worker up before timing: start-up is reported apart
    startup_workers = time.perf_counter() - t0

    local_s = run_pool(slow, requests(tmp / "local", args.shots), args.workers)
    ray_s = run_pool(on_ray, requests(tmp / "ray", args.shots), args.workers)

    instant = SlowFakeGenerator(delay=0.0, clip=str(clip), workers=args.workers)
    instant_ray = RayGenerator(instant, workers=args.workers, limit=args.workers,
                               cpus_per_worker=2 / args.workers / 2)
    instant_ray.stats()
    n = 4 * args.shots
    local_0 = run_pool(instant, requests(tmp / "l0", n), args.workers)
    ray_0 = run_pool(instant_ray, requests(tmp / "r0", n), args.workers)

    print(f"{args.shots} shots x {args.seconds:g} s, {args.workers} workers; ideal schedule {ideal:.2f} s")
    print(f"{'':24}{'wall s':>8}{'vs ideal':>10}{'overhead':>10}")
    for name, wall in (("local pool (threads)", local_s), ("Ray (worker actors)", ray_s)):
        print(f"{name:24}{wall:8.2f}{wall / ideal:10.3f}{(wall - ideal) / ideal:10.1%}")
    print(f"Ray / local pool wall: {ray_s / local_s:.3f}")
    print(f"per shot through Ray (instant generator, {n} shots): "
          f"{(ray_0 - local_0) / n * 1000:.1f} ms more than the local pool ({ray_0 / n * 1000:.1f} vs "
          f"{local_0 / n * 1000:.1f} ms)")
    print(f"start-up, not in the figures above: ray.init {startup_ray:.1f} s, {args.workers} workers "
          f"{startup_workers:.1f} s")
    on_ray.close()
    instant_ray.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
