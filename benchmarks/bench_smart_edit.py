"""An overlay edit of a 10-minute plain 360p video: GOP-smart render (only the GOPs the text shows in are
re-encoded, the rest copied) vs re-encoding the whole file (the edit path before), side by side in one run;
then every decoded frame outside the re-encoded GOPs is compared with the source's (md5 of the pixels).

    .venv/bin/python benchmarks/bench_smart_edit.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

from reelwright.media import VideoSpec, overlay_text, probe
from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.media.smart_edit import gop_map, smart_overlay
from reelwright.plan import Overlay


def frame_hashes(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        return [hashlib.md5(f.to_ndarray(format="yuv420p").tobytes()).hexdigest() for f in c.decode(video=0)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    seconds = int(args.minutes * 60)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "plain.mp4"
        t0 = time.perf_counter()
        # A camera-like file: x264 defaults (keyframe at most every 250 frames, scene cuts), B-frames, AAC.
        run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=24:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    "-movflags", "+faststart", str(src)])
        g = gop_map(src)
        print(f"source: {seconds} s 640x360 @ 24 fps, {g.frames} frames, {len(g.keyframes)} GOPs "
              f"(made in {time.perf_counter() - t0:.1f} s)")
        ov = [Overlay(text="SALE 50%", start=Fraction(seconds // 2), duration=Fraction(3))]
        info = probe(src)
        spec = VideoSpec(width=info.width, height=info.height, fps=info.fps)

        t0 = time.perf_counter()
        ka, kb = smart_overlay(src, Path(tmp) / "smart.mp4", ov)
        smart_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        overlay_text(src, Path(tmp) / "whole.mp4", ov, spec)
        whole_s = time.perf_counter() - t0

        before, after = frame_hashes(src), frame_hashes(Path(tmp) / "smart.mp4")
        outside = [i for i in range(len(before)) if not ka <= i < kb]
        same = sum(before[i] == after[i] for i in outside) if len(after) == len(before) else 0
        whole = frame_hashes(Path(tmp) / "whole.mp4")
        whole_same = sum(before[i] == whole[i] for i in outside) if len(whole) == len(before) else 0
    print(f"{'':<28}{'wall s':>8}{'re-encoded frames':>19}{'outside frames identical':>26}")
    print(f"{'whole-file re-encode':<28}{whole_s:>8.2f}{g.frames:>19}{f'{whole_same}/{len(outside)}':>26}")
    print(f"{'GOP-smart render':<28}{smart_s:>8.2f}{kb - ka:>19}{f'{same}/{len(outside)}':>26}")
    print(f"speed-up: {whole_s / smart_s:.1f}x (target >= 5x); re-encoded frames {ka}..{kb} of {g.frames}")
    return 0 if same == len(outside) else 1


if __name__ == "__main__":
    sys.exit(main())
