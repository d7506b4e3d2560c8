"""Technical checks of a clip and of the final cut: length to the frame, size, rate, codecs, sound,
black or frozen stretches, decode errors, faststart. Deterministic; no model involved.

Black and frozen stretches come from one ffmpeg pass (blackdetect + freezedetect, at reduced size)."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import FFmpegError, InputFileError
from ..media.ffmpeg import dies_with_parent, ffmpeg_exe
from ..media.probe import MediaInfo, probe
from ..timing import Frac
from .base import Check, Verdict

_BLACK = re.compile(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)\s+black_duration:\s*([\d.]+)")
_FREEZE = re.compile(r"lavfi\.freezedetect\.freeze_(start|end):\s*([\d.]+)")
_ERROR_LEVELS = ("[error]", "[fatal]", "[panic]")
_ANALYSIS_MAX_WIDTH = 640  # wider video is scaled down for detection: same verdicts, a fraction of the work


class ClipExpectation(BaseModel):
    """What a clip must be. `None` for a limit means "allowed"."""

    model_config = ConfigDict(extra="forbid")

    frames: int
    fps: Frac
    width: int
    height: int
    vcodec: str | None = "h264"
    need_audio: bool = True
    tolerance_frames: int = 1
    black_max_s: float | None = 1.0  # longest allowed black stretch
    freeze_max_s: float | None = None  # longest allowed frozen stretch; None: stills are fine
    black_pixel_threshold: float = 0.10  # luma below this (0..1) counts as black
    black_picture_ratio: float = 0.98  # share of black pixels that makes a frame black
    freeze_noise: float = 0.001  # difference below which frames count as identical

    @classmethod
    def from_spec(cls, spec: Any, frames: int, **kw: Any) -> "ClipExpectation":
        return cls(frames=frames, fps=spec.fps, width=spec.width, height=spec.height, **kw)


class Stretch(BaseModel):
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class Analysis(BaseModel):
    black: list[Stretch] = []
    frozen: list[Stretch] = []
    errors: list[str] = []


def analyse(path: str | Path, *, black_min_s: float | None = None, freeze_min_s: float | None = None,
            black_pixel_threshold: float = 0.10, black_picture_ratio: float = 0.98, freeze_noise: float = 0.001,
            video_end: float | None = None, width: int | None = None) -> Analysis:
    """Decode the video once; report black stretches >= black_min_s, frozen stretches >= freeze_min_s, and
    every decoder error. Leave a limit None to skip that detector."""
    filters = []
    if width and width > _ANALYSIS_MAX_WIDTH:
        filters.append(f"scale={_ANALYSIS_MAX_WIDTH}:-2:flags=fast_bilinear")
    if black_min_s is not None:
        filters.append(f"blackdetect=d={max(black_min_s, 0.001)}:pix_th={black_pixel_threshold}:"
                       f"pic_th={black_picture_ratio}")
    if freeze_min_s is not None:
        filters.append(f"freezedetect=n={freeze_noise}:d={max(freeze_min_s, 0.001)}")
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info", "-i", str(path),
            "-map", "0:v:0", "-sn", "-dn"]
    if filters:
        argv += ["-vf", ",".join(filters)]
    argv += ["-f", "null", "-"]
    proc = subprocess.run(dies_with_parent(argv), capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise FFmpegError(argv, proc.returncode, proc.stderr)
    result = Analysis()
    freeze_start: float | None = None
    for line in proc.stderr.splitlines():
        if any(level in line for level in _ERROR_LEVELS):
            result.errors.append(line.strip())
        elif "[blackdetect" in line and (m := _BLACK.search(line)):
            result.black.append(Stretch(start=float(m[1]), end=float(m[2])))
        elif "[freezedetect" in line and (m := _FREEZE.search(line)):
            if m[1] == "start":
                freeze_start = float(m[2])
            elif freeze_start is not None:
                result.frozen.append(Stretch(start=freeze_start, end=float(m[2])))
                freeze_start = None
    if freeze_start is not None:  # frozen until the last frame: freezedetect never reports an end
        result.frozen.append(Stretch(start=freeze_start, end=max(video_end or freeze_start, freeze_start)))
    return result


def decode_errors(path: str | Path) -> list[str]:
    """Decode every stream of the file; return what ffmpeg reports at error level (empty for a clean file)."""
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-i", str(path),
            "-map", "0", "-f", "null", "-"]
    proc = subprocess.run(dies_with_parent(argv), capture_output=True, text=True, errors="replace")
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    if proc.returncode != 0 and not lines:
        lines = [f"ffmpeg exited {proc.returncode}"]
    return lines


def _stretch_check(name: str, stretches: list, limit: float, what: str) -> Check:
    """Pass unless the longest stretch (black, frozen) lasts longer than `limit` seconds."""
    longest = max(stretches, key=lambda s: s.duration, default=None)
    value = round(longest.duration, 3) if longest else 0.0
    detail = (f"{what} from {longest.start:.2f}s to {longest.end:.2f}s ({longest.duration:.2f}s, limit {limit:g}s)"
              if longest else f"no {name} stretch")
    return Check(name=name, passed=longest is None or longest.duration <= limit, detail=detail, value=value)


def _unreadable(path: str | Path, exc: Exception) -> Verdict:
    return Verdict.from_checks([Check(name="readable", passed=False, detail=str(exc).splitlines()[0])])


def _fmt_frames(frames: int, fps: Fraction) -> str:
    return f"{frames} frames ({float(Fraction(frames) / fps):.3f}s)"


def _length_checks(info: MediaInfo, frames: int, fps: Fraction, tolerance: int, *, need_audio: bool,
                   container: bool) -> list[Check]:
    checks = [Check(name="duration", passed=abs(info.frames - frames) <= tolerance,
                    detail=f"{_fmt_frames(info.frames, info.fps)}, expected {_fmt_frames(frames, fps)}",
                    value=info.frames)]
    slack = Fraction(tolerance) / fps
    target = Fraction(frames) / fps
    if container:
        checks.append(Check(name="container_duration", passed=abs(info.duration - target) <= slack,
                            detail=f"{float(info.duration):.3f}s, expected {float(target):.3f}s",
                            value=float(info.duration)))
    if need_audio and info.audio_duration is not None:
        checks.append(Check(name="audio_duration", passed=abs(info.audio_duration - info.video_duration) <= slack,
                            detail=f"sound lasts {float(info.audio_duration):.3f}s, picture "
                                   f"{float(info.video_duration):.3f}s", value=float(info.audio_duration)))
    return checks


def check_clip(path: str | Path, expectation: ClipExpectation) -> Verdict:
    """Check one clip against what was asked: length within `tolerance_frames`, size, fps, codec, sound,
    no black stretch over `black_max_s`, no frozen stretch over `freeze_max_s`, no decode errors.

    An unreadable or missing file gives a failing verdict, not an exception."""
    exp = expectation
    try:
        info = probe(path)
    except InputFileError as exc:
        return _unreadable(path, exc)
    checks = _length_checks(info, exp.frames, exp.fps, exp.tolerance_frames, need_audio=exp.need_audio,
                            container=False)
    checks.append(Check(name="resolution", passed=(info.width, info.height) == (exp.width, exp.height),
                        detail=f"{info.width}x{info.height}, expected {exp.width}x{exp.height}",
                        value=f"{info.width}x{info.height}"))
    checks.append(Check(name="fps", passed=info.fps == exp.fps, detail=f"{info.fps} fps, expected {exp.fps}",
                        value=str(info.fps)))
    if exp.vcodec:
        checks.append(Check(name="codec", passed=info.vcodec == exp.vcodec,
                            detail=f"video codec {info.vcodec}, expected {exp.vcodec}", value=info.vcodec))
    if exp.need_audio:
        checks.append(Check(name="audio", passed=info.has_audio,
                            detail=f"audio {info.acodec}" if info.has_audio else "no audio track",
                            value=info.acodec))
    try:
        found = analyse(path, black_min_s=exp.black_max_s, freeze_min_s=exp.freeze_max_s,
                        black_pixel_threshold=exp.black_pixel_threshold, black_picture_ratio=exp.black_picture_ratio,
                        freeze_noise=exp.freeze_noise, video_end=float(info.video_start + info.video_duration),
                        width=info.width)
    except FFmpegError as exc:
        checks.append(Check(name="decode", passed=False, detail=str(exc).splitlines()[0]))
        return Verdict.from_checks(checks)
    scores: dict[str, float] = {}
    for name, stretches, limit, what, score in (("black", found.black, exp.black_max_s, "black", "black_s"),
                                                 ("frozen", found.frozen, exp.freeze_max_s, "picture frozen", "freeze_s")):
        if limit is not None:
            check = _stretch_check(name, stretches, limit, what)
            scores[score] = check.value
            checks.append(check)
    checks.append(Check(name="decode", passed=not found.errors,
                        detail=found.errors[0] if found.errors else "decodes cleanly", value=len(found.errors)))
    verdict = Verdict.from_checks(checks)
    verdict.scores = scores
    return verdict


def check_final(path: str | Path, target_frames: int, fps: Fraction | int | str, *,
                tolerance_frames: int = 1) -> Verdict:
    """Check the delivered file: picture, container and sound within one frame of the target; H.264 + AAC;
    `moov` before `mdat` (faststart); and a full decode of every stream without one error."""
    fps = Fraction(fps)
    try:
        info = probe(path)
    except InputFileError as exc:
        return _unreadable(path, exc)
    checks = _length_checks(info, target_frames, fps, tolerance_frames, need_audio=True, container=True)
    checks.append(Check(name="fps", passed=info.fps == fps, detail=f"{info.fps} fps, expected {fps}",
                        value=str(info.fps)))
    checks.append(Check(name="codecs", passed=(info.vcodec, info.acodec) == ("h264", "aac"),
                        detail=f"{info.vcodec} + {info.acodec or 'no audio'}, expected h264 + aac",
                        value=f"{info.vcodec}+{info.acodec}"))
    checks.append(Check(name="faststart", passed=info.faststart,
                        detail="moov before mdat" if info.faststart else "moov after mdat: not web-ready",
                        value=info.faststart))
    errors = decode_errors(path)
    checks.append(Check(name="decode", passed=not errors,
                        detail=f"{len(errors)} error(s), first: {errors[0]}" if errors else "decodes cleanly",
                        value=len(errors)))
    return Verdict.from_checks(checks)


class TechnicalCritic:
    """The deterministic critic: `judge_clip` for each shot, `judge_final` for the cut."""

    name = "technical"

    def judge_clip(self, path: Any, expectation: ClipExpectation, context: dict[str, Any] | None = None) -> Verdict:
        return check_clip(path, expectation)

    def judge_final(self, path: Any, target_frames: int, fps: Fraction | int | str) -> Verdict:
        return check_final(path, target_frames, fps)
