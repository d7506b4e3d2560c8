"""The mix: narration, effects, music and the clips' own sound on one exact-length 48 kHz stereo track.

Sounds are placed with `adelay=<samples>S:all=1` (sample-exact, every channel); `amix` runs with
`normalize=0` so nothing is scaled behind our back; music and native sound are ducked under speech by
explicit gain points (a trapezoid per spoken stretch), so the reduction is what we asked, not what a
compressor decides."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..media.ffmpeg import run_ffmpeg
from ..media.util import atomic_output
from .audiofile import SAMPLE_RATE, audio_duration
from .loudness import Loudness, parse_summary

RAMP_S = 0.2  # duck ramps: fast enough to clear the first word, slow enough not to pump
MUSIC_FADE_S = 1.0
LOOP_CROSSFADE_S = 0.5
MAX_LOOP_COPIES = 24


@dataclass
class Placed:
    """A sound in the mix: it starts at `start` seconds (negative: its head is cut), at `gain_db`."""

    path: Path
    start: float
    gain_db: float = 0.0


@dataclass
class Bed:
    """Music or the clips' own sound: runs the whole length, at `gain_db`, `duck_db` lower under speech."""

    path: Path
    gain_db: float
    duck_db: float
    loop: bool = False
    stream: str = "a:0"


def speech_intervals(spans: list[tuple[float, float]], gap: float = 0.6) -> list[tuple[float, float]]:
    """Spoken stretches, merged across pauses shorter than `gap` (the music should not bob between words)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < gap:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def duck_expression(intervals: list[tuple[float, float]], duck_db: float) -> str:
    """A volume expression of t: 1 outside speech, 10^(duck_db/20) during it, linear ramps of RAMP_S
    before and after (the ramp down finishes as the speech starts)."""
    if not intervals:
        return "1"
    low = 10 ** (duck_db / 20)
    r = RAMP_S
    parts = [f"clip((t-{a - r:.4f})/{r},0,1)*clip(({b + r:.4f}-t)/{r},0,1)" for a, b in intervals]
    weight = parts[0]
    for p in parts[1:]:
        weight = f"max({weight},{p})"
    return f"1-{1 - low:.6f}*{weight}"


def render(dst: Path, seconds: float, *, voices: list[Placed], effects: list[Placed], beds: list[Bed],
           speech: list[tuple[float, float]]) -> Loudness:
    """Write the mix as a 32-bit float WAV of exactly `seconds` (rounded to whole samples); its loudness is
    measured in the same run (one decode, not two)."""
    n = int(round(seconds * SAMPLE_RATE))
    fmt = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    inputs: list[str] = []
    chains: list[str] = []
    labels: list[str] = []

    def add_input(*args: str) -> int:
        inputs.extend(args)
        return sum(1 for a in inputs if a == "-i") - 1

    intervals = speech_intervals(speech)
    for k, bed in enumerate(beds):
        chains.append(_bed_chain(bed, k, n, seconds, fmt, intervals, add_input))
        labels.append(f"[bed{k}]")
    for kind, items in (("v", voices), ("x", effects)):
        for k, item in enumerate(items):
            i = add_input("-i", str(item.path))
            chain = f"[{i}:a:0]{fmt},volume={item.gain_db:.3f}dB"
            start = int(round(item.start * SAMPLE_RATE))
            if start < 0:
                chain += f",atrim=start_sample={-start},asetpts=N/SR/TB"
            elif start > 0:
                chain += f",adelay=delays={start}S:all=1"
            chains.append(f"{chain}[{kind}{k}]")
            labels.append(f"[{kind}{k}]")
    if not labels:
        i = add_input("-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo")
        chains.append(f"[{i}:a]atrim=end_sample={n}[silence]")
        labels.append("[silence]")
    graph = ";".join(chains) + ";" + "".join(labels) + (
        f"amix=inputs={len(labels)}:duration=longest:dropout_transition=0:normalize=0,"
        f"apad=whole_len={n},atrim=end_sample={n},asplit[mix][m];[m]ebur128=peak=true[mo]")
    with atomic_output(dst) as tmp:
        proc = run_ffmpeg([*inputs, "-filter_complex", graph, "-map", "[mix]", "-c:a", "pcm_f32le", str(tmp),
                           "-map", "[mo]", "-f", "null", "-"], loglevel="info")
    return parse_summary(proc.stderr, "the mix")


def _bed_chain(bed: Bed, k: int, n: int, seconds: float, fmt: str, intervals: list[tuple[float, float]], add_input) -> str:
    duck = f"volume='{duck_expression(intervals, bed.duck_db)}':eval=frame"
    tail = f"{fmt},volume={bed.gain_db:.3f}dB,apad=whole_len={n},atrim=end_sample={n},{duck}"
    if not bed.loop:
        i = add_input("-i", str(bed.path))
        return f"[{i}:{bed.stream}]{tail}[bed{k}]"
    length = audio_duration(bed.path, "music file")
    fade = min(MUSIC_FADE_S, seconds / 4)
    fades = f"afade=t=in:d={fade:.3f},afade=t=out:st={max(0.0, seconds - fade):.3f}:d={fade:.3f}"
    xf = min(LOOP_CROSSFADE_S, length / 4)
    copies = 1 if length >= seconds else math.ceil((seconds - xf) / (length - xf))
    if copies == 1 or copies > MAX_LOOP_COPIES:
        args = ["-stream_loop", "-1"] if copies > 1 else []
        i = add_input(*args, "-i", str(bed.path))
        return f"[{i}:a:0]{fmt},atrim=end_sample={n},{fades},{tail}[bed{k}]"
    # Each repeat joins the last with a short crossfade, so the loop point does not click.
    idx = [add_input("-i", str(bed.path)) for _ in range(copies)]
    parts = [f"[{i}:a:0]{fmt}[m{k}_{j}]" for j, i in enumerate(idx)]
    prev = f"[m{k}_0]"
    for j in range(1, copies):
        out = f"[m{k}_x{j}]"
        parts.append(f"{prev}[m{k}_{j}]acrossfade=d={xf:.3f}:c1=tri:c2=tri{out}")
        prev = out
    parts.append(f"{prev}atrim=end_sample={n},{fades},{tail}[bed{k}]")
    return ";".join(parts)
