"""Stitching benchmark: reelwright `concat` against plain ffmpeg stream copy and a full re-encode.

    .venv/bin/python benchmarks/bench_stitch.py [--clips 12] [--seconds 5] [--repeat 3] [--long 120]

Makes N clips of 1280x720 24 fps H.264/AAC (cached in a temp folder), then times side by side in one run:
  (a) reelwright.media.concat  (video stream-copied, audio rebuilt exact to the frame)
  (b) ffmpeg -f concat -safe 0 -i list -c copy   (fast, but audio drifts at every join)
  (c) concat filter + libx264 veryfast + aac     (what MoviePy-style tools do)
and reports seconds, ratios and how long each output's picture and sound are. Then, in a fresh process,
concatenates --long clips (a 10-minute cut by default) and reports peak RSS of that process and of its
ffmpeg children."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from reelwright.media import VideoSpec, concat, probe
from reelwright.media.ffmpeg import ffmpeg_exe, run_ffmpeg

SPEC = VideoSpec(width=1280, height=720, fps=24)


def make_clips(folder: Path, count: int, seconds: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for n in range(count):
        path = folder / f"clip{n:02d}_{seconds}s_v2.mp4"
        if not path.exists():
            print(f"  making {path.name}", file=sys.stderr)
            tmp = path.with_suffix(".part.mp4")
            run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=24:duration={seconds}",
                        # A tone over pink noise: dense like speech or music (a pure tone is an AAC corner case).
                        "-f", "lavfi", "-i", f"sine=frequency={220 + 40 * n}:sample_rate=48000:duration={seconds}[s];"
                        f"anoisesrc=color=pink:sample_rate=48000:amplitude=0.05:duration={seconds}[n];"
                        "[s][n]amix=inputs=2[out0]",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", "192k", "-ac", "2", "-movflags", "+faststart", str(tmp)])
            tmp.replace(path)
        clips.append(path)
    return clips


def plain_copy(clips: list[Path], out: Path) -> None:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{c}'\n" for c in clips))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out)])


def full_reencode(clips: list[Path], out: Path) -> None:
    inputs = [a for c in clips for a in ("-i", str(c))]
    graph = "".join(f"[{n}:v][{n}:a]" for n in range(len(clips))) + f"concat=n={len(clips)}:v=1:a=1[v][a]"
    run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", str(out)])


def audio_only(clips: list[Path], out: Path) -> None:
    """The floor under (a): decode every clip's sound and encode it once as AAC, no video at all."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{c}'\n" for c in clips))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-vn", *SPEC.audio_encoder_args(),
                str(out.with_suffix(".m4a"))])


def reelwright_concat(clips: list[Path], out: Path) -> None:
    concat(clips, out, SPEC)


def timed(fn, clips: list[Path], out: Path) -> float:
    start = time.perf_counter()
    fn(clips, out)
    return time.perf_counter() - start


def measure_rss(cache: Path, count: int, seconds: int, repeats: int) -> dict:
    """Run in a fresh process: one long concat, then peak RSS of this process and of its children."""
    clips = make_clips(cache, count, seconds) * repeats
    with tempfile.TemporaryDirectory(prefix="rw-bench-long-") as tmp:
        out = Path(tmp) / "long.mp4"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elapsed = timed(reelwright_concat, clips, out)
        info = probe(out)
    return {
        "clips": len(clips),
        "output_s": float(info.video_duration),
        "frames": info.frames,
        "expected_frames": sum(probe(c).frames for c in clips[:count]) * repeats,
        "seconds": round(elapsed, 2),
        "self_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "self_before_mb": round(before / 1024, 1),
        "children_peak_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def describe(path: Path) -> str:
    info = probe(path)
    audio = f"{float(info.audio_duration):.3f}" if info.audio_duration is not None else "-"
    return f"{info.frames:>6} {float(info.video_duration):>8.3f} {audio:>8} {float(info.duration):>9.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of (a) and (b); the median is reported")
    parser.add_argument("--long", type=int, default=120, help="clips in the memory run (0 to skip)")
    parser.add_argument("--skip-reencode", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "reelwright-bench-clips")
    parser.add_argument("--measure-rss", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure_rss:
        print(json.dumps(measure_rss(args.cache, args.clips, args.seconds, max(1, args.long // args.clips))))
        return

    clips = make_clips(args.cache, args.clips, args.seconds)
    expected = sum(probe(c).frames for c in clips)
    print(f"{len(clips)} clips x {args.seconds}s 1280x720@24 H.264/AAC; expected {expected} frames "
          f"= {float(Fraction(expected, 24)):.3f}s; ffmpeg {ffmpeg_exe()}")
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmp:
        outs = {name: Path(tmp) / f"{name}.mp4" for name in ("a", "b", "c")}
        times: dict[str, list[float]] = {"a": [], "b": [], "d": []}
        for _ in range(args.repeat):  # interleaved, so machine load hits all alike
            times["a"].append(timed(reelwright_concat, clips, outs["a"]))
            times["b"].append(timed(plain_copy, clips, outs["b"]))
            times["d"].append(timed(audio_only, clips, Path(tmp) / "d.mp4"))
        med = {k: statistics.median(v) for k, v in times.items()}
        if not args.skip_reencode:
            med["c"] = timed(full_reencode, clips, outs["c"])
        print()
        print(f"{'method':<44} {'seconds':>8} {'frames':>6} {'video_s':>8} {'audio_s':>8} {'container':>9}")
        labels = {"a": "(a) reelwright concat (copy + exact audio)", "b": "(b) ffmpeg concat demuxer -c copy",
                  "c": "(c) full re-encode (libx264 veryfast + aac)"}
        for key, label in labels.items():
            if key in med:
                print(f"{label:<44} {med[key]:>8.2f} {describe(outs[key])}")
        print()
        print(f"{'(d) sound alone: decode + one AAC encode':<44} {med['d']:>8.2f}   (the floor under (a))")
        print()
        print(f"a/b = {med['a'] / med['b']:.2f}   (target <= 1.5);  (a-d)/b = {(med['a'] - med['d']) / med['b']:.2f}")
        if "c" in med:
            print(f"c/a = {med['c'] / med['a']:.1f}x  (reelwright is this much faster than a full re-encode)")
        print("runs (s): " + "  ".join(f"{k}={[round(t, 2) for t in v]}" for k, v in times.items()))

    if args.long:
        proc = subprocess.run([sys.executable, __file__, "--measure-rss", "--cache", str(args.cache), "--clips",
                               str(args.clips), "--seconds", str(args.seconds), "--long", str(args.long)],
                              capture_output=True, text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print()
        print(f"long cut: {r['clips']} clips -> {r['output_s']:.1f}s, {r['frames']} frames "
              f"(expected {r['expected_frames']}) in {r['seconds']}s")
        print(f"peak RSS: python {r['self_peak_mb']} MB (of which {r['self_before_mb']} MB before the concat: "
              f"interpreter + imports), largest ffmpeg child {r['children_peak_mb']} MB; "
              f"sum {r['self_peak_mb'] + r['children_peak_mb']:.0f} MB (target < 300)")


if __name__ == "__main__":
    main()
