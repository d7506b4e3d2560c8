"""Sound benchmark: the sound step's share of a make, and loudness error over varied inputs.

    .venv/bin/python benchmarks/bench_sound.py [--seconds 60] [--resolution 720p] [--skip-make] [--json out.json]

(1) A make of the UGC request from issue 10 with `--voice auto` on the offline default (animatic + espeak),
    timed step by step in one run: plan + narration, clips, cut, sound (narration, mix, loudness passes,
    captions). Reports wall and CPU seconds (CPU: this process and its ffmpeg children, steadier on a shared
    machine) and the sound step's share of the whole (target: under 15%).
(2) Ten varied sounds (speech, noise, a quiet tone, bursts, a swell, clipping, music-like chords, a mix, two
    shorter than 3 s) brought to social / broadcast / atsc targets by the sound step's loudness pass, each
    measured on the delivered MP4 by ffmpeg's ebur128 (integrated, true peak). Target: all within ±1 LU and
    under their true-peak ceiling."""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reelwright.api import make_brief
from reelwright.director import Director
from reelwright.generators.registry import get_generator
from reelwright.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from reelwright.runs.store import RunDir
from reelwright.sound import SoundOptions, finish, prepare
from reelwright.sound.loudness import measure, parse_target
from reelwright.sound.step import _deliver

UGC = "a 30 second UGC ad for a bottle called Tide: unboxing, filling it at the gym, a quick testimonial"


def _cpu() -> float:
    """CPU seconds of this process and its finished children: on a shared machine, steadier than the clock."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_make(folder: Path, seconds: int, resolution: str) -> dict:
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def phase(name: str, fn):
        t, c = time.perf_counter(), _cpu()
        value = fn()
        wall[name], cpu[name] = time.perf_counter() - t, _cpu() - c
        return value

    brief = make_brief(UGC, duration=str(seconds), resolution=resolution)
    run = RunDir.create(folder / "runs", brief)
    director = Director(brief, run=run, generator=get_generator("animatic"))
    options = SoundOptions(voice="auto")
    plan = phase("plan", lambda: prepare(director.make_plan(), options))
    director.set_plan(plan)
    phase("clips", director.generate_all)
    cut = phase("cut", director.cut)
    report = phase("sound", lambda: finish(cut, plan, options, run.root / "sound", folder / "out.mp4"))
    wall["total"], cpu["total"] = sum(wall.values()), sum(cpu.values())
    return {"wall_s": {k: round(v, 2) for k, v in wall.items()}, "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "sound_share_wall": round(wall["sound"] / wall["total"], 3),
            "sound_share_cpu": round(cpu["sound"] / cpu["total"], 3),
            "loudness": {"I": report.integrated_lufs, "TP": report.true_peak_dbtp, "passes": report.loudness_passes},
            "captions": report.captions, "narration": report.narration}


INPUTS = [  # (name, lavfi graph, seconds, target)
    ("speech", None, 8, "social"),
    ("pink noise, loud", "anoisesrc=color=pink:amplitude=0.9:sample_rate=48000:duration=8", 8, "social"),
    ("quiet tone -40 dBFS", "sine=frequency=300:sample_rate=48000:duration=8,volume=-37dB", 8, "broadcast"),
    ("bursts", "aevalsrc=0.8*sin(2*PI*440*t)*lt(mod(t\\,1)\\,0.15):s=48000:d=8", 8, "social"),
    ("swell", "aevalsrc=(t/8)^3*sin(2*PI*220*t):s=48000:d=8", 8, "atsc"),
    ("clipped square", "aevalsrc=0.99*sgn(sin(2*PI*100*t)):s=48000:d=6", 6, "broadcast"),
    ("chords", "aevalsrc=0.3*sin(2*PI*261.6*t)+0.3*sin(2*PI*329.6*t)+0.3*sin(2*PI*392*t):s=48000:d=10", 10, "atsc"),
    ("noise and tone mix", "aevalsrc=0.5*sin(2*PI*523*t)*exp(-2*mod(t\\,0.5))+0.1*(random(0)-0.5):s=48000:d=7", 7, "social"),
    ("short 2 s", "aevalsrc=0.2*sin(2*PI*500*t)*exp(-3*mod(t\\,0.5)):s=48000:d=2", 2, "social"),
    ("short 1.2 s", "anoisesrc=color=brown:amplitude=0.3:sample_rate=48000:duration=1.2", 1.2, "broadcast"),
]


def ebur128(path: Path, loop: bool) -> tuple[float, float]:
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin"] + (["-stream_loop", "4"] if loop else []) + [
        "-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"]
    err = subprocess.run(args, capture_output=True, text=True, check=True).stderr
    tail = err[err.rfind("Summary:"):]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", tail).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", tail).group(1)))


def loudness_errors(folder: Path) -> list[dict]:
    from reelwright.sound.espeak import EspeakVoice

    rows = []
    for k, (name, graph, seconds, target) in enumerate(INPUTS):
        src = folder / f"in{k}.wav"
        if graph is None:
            speech = EspeakVoice().speak("Meet Tide. The bottle that keeps up with you, all day long. Try it today, "
                                         "and never look back.", folder / "speech.wav")
            run_ffmpeg(["-i", str(speech.path), "-af", f"apad=whole_dur={seconds},atrim=0:{seconds}", "-ar", "48000",
                        "-c:a", "pcm_s16le", str(src)])
        else:
            run_ffmpeg(["-f", "lavfi", "-i", graph, "-c:a", "pcm_s16le", str(src)])
        picture = folder / f"pic{k}.mp4"
        run_ffmpeg(["-f", "lavfi", "-i", f"color=size=320x180:rate=24:duration={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(picture)])
        out = folder / f"out{k}.mp4"
        goal = parse_target(target)
        t0 = time.perf_counter()
        _, passes = _deliver(picture, src, measure(src, duration=seconds), seconds, goal, out, progress=lambda f: None)
        elapsed = time.perf_counter() - t0
        integrated, peak = ebur128(out, loop=seconds < 3)
        rows.append({"input": name, "target": target, "lufs": goal.lufs, "measured_I": integrated,
                     "error_LU": round(integrated - goal.lufs, 2), "TP": peak, "TP_ceiling": goal.true_peak,
                     "passes": passes, "seconds": round(elapsed, 2),
                     "ok": abs(integrated - goal.lufs) <= 1.0 and peak <= goal.true_peak})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--resolution", default="720p")
    ap.add_argument("--skip-make", action="store_true")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sound-") as tmp:
        folder = Path(tmp)
        result: dict = {}
        if not args.skip_make:
            print(f"making a {args.seconds} s UGC ad at {args.resolution} with --voice auto…", file=sys.stderr)
            result["make"] = timed_make(folder, args.seconds, args.resolution)
            m = result["make"]
            for unit, key in (("wall", "wall_s"), ("cpu", "cpu_s")):
                t = m[key]
                print(f"\nmake {t['total']:.1f} s {unit}: plan {t['plan']:.1f}, clips {t['clips']:.1f}, cut {t['cut']:.1f}, "
                      f"sound {t['sound']:.1f} -> sound share {t['sound'] / t['total']:.1%} (target < 15%)")
            print(f"delivered: {m['loudness']['I']} LUFS, {m['loudness']['TP']} dBTP in {m['loudness']['passes']} pass(es), "
                  f"{m['captions']} captions")
        rows = loudness_errors(folder)
        result["loudness"] = rows
        print(f"\n{'input':<22}{'target':<11}{'measured':>9}{'error':>8}{'TP':>7}{'passes':>7}")
        for r in rows:
            print(f"{r['input']:<22}{r['target']:<11}{r['measured_I']:>9.1f}{r['error_LU']:>+8.2f}{r['TP']:>7.1f}"
                  f"{r['passes']:>7}{'' if r['ok'] else '  MISS'}")
        worst = max(abs(r["error_LU"]) for r in rows)
        print(f"worst error {worst:.2f} LU; {sum(r['ok'] for r in rows)}/{len(rows)} within ±1 LU and under the "
              f"true-peak ceiling")
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
