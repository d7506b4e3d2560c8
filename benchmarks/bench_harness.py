"""Overhead of the harness around a generator: a fake whose clips take a fixed time, twelve shots at
concurrency 4. Ideal = three clip-times (12 / 4 waves) plus stitching; reports the measured ratio.

    .venv/bin/python benchmarks/bench_harness.py [--clip-seconds 10] [--shots 12] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from reelwright.api import make_video, plan_video
from reelwright.generators import register
from reelwright.generators.base import Capabilities, ClipRequest, ClipResult, Generator
from reelwright.media import VideoSpec, concat, conform
from reelwright.media.ffmpeg import run_ffmpeg


class FixedTimeGenerator(Generator):
    """Waits a fixed time (a remote job), then returns a ready clip matching the cut's spec."""

    name = "fixed"
    wait_s = 10.0
    concurrency = 4
    template: Path | None = None

    def capabilities(self) -> Capabilities:
        return Capabilities(name="fixed", durations=[Fraction(5)], aspects=["16:9"], resolutions=["360p"],
                            concurrency=self.concurrency, audio=True, price_per_second=0.0)

    def generate(self, request: ClipRequest, progress=None) -> ClipResult:
        time.sleep(self.wait_s)
        shutil.copyfile(self.template, request.out_path)
        return ClipResult(path=request.out_path, duration=Fraction(5), seconds_generated=Fraction(5))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip-seconds", type=float, default=10.0)
    ap.add_argument("--shots", type=int, default=12)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    FixedTimeGenerator.wait_s = args.clip_seconds
    FixedTimeGenerator.concurrency = args.concurrency
    register("fixed", FixedTimeGenerator)
    spec = VideoSpec(width=640, height=360, fps=Fraction(24))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = tmp / "raw.mp4"
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24:duration=5", "-f", "lavfi", "-i",
                    "sine=frequency=220:sample_rate=48000:duration=5", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", "-shortest", str(raw)])
        FixedTimeGenerator.template = conform(raw, tmp / "template.mp4", spec)
        # stitching alone, on the same twelve clips
        clips = []
        for i in range(args.shots):
            clips.append(tmp / f"c{i}.mp4")
            shutil.copyfile(FixedTimeGenerator.template, clips[-1])
        t0 = time.perf_counter()
        concat(clips, tmp / "stitched.mp4", spec)
        stitch = time.perf_counter() - t0
        waves = -(-args.shots // args.concurrency)
        plan = plan_video(f"a {args.shots * 5} second video of a lighthouse at dusk", generator="fixed",
                          resolution="360p")
        assert len(plan.shots) == args.shots, f"planner made {len(plan.shots)} shots"
        t0 = time.perf_counter()
        d = make_video(plan=plan, output=tmp / "out.mp4", runs_dir=tmp / "runs")
        total = time.perf_counter() - t0
        ideal = waves * args.clip_seconds + stitch
    print(f"{'shots':>6} {'conc':>5} {'clip s':>7} {'stitch s':>9} {'ideal s':>8} {'measured s':>11} {'ratio':>6}")
    print(f"{args.shots:>6} {args.concurrency:>5} {args.clip_seconds:>7.1f} {stitch:>9.2f} {ideal:>8.2f} "
          f"{total:>11.2f} {total / ideal:>6.3f}")
    print(f"output {float(d.duration):.3f} s; target ratio <= 1.10")
    return 0


if __name__ == "__main__":
    sys.exit(main())
