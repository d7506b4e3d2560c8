"""Joining clips into one cut, exact to the frame: matching clips' video is stream-copied, the sound is
rebuilt as one AAC track (copied AAC drifts at every join); transitions re-encode. See `concat`."""

from __future__ import annotations

import functools
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
from pydantic import BaseModel, Field

from ..errors import FFmpegError, InputFileError, ToolArgumentError
from .conform import audio_chain, conform, frames_available, render, video_chain
from .encode import h264_args, mp4_args
from .ffmpeg import dies_with_parent, ffmpeg_exe, run_ffmpeg
from .probe import MediaInfo, probe
from .spec import VideoSpec
from .util import atomic_output, fsec

Progress = Callable[[float], None]
TRANSITIONS = ("cut", "fade", "dissolve", "fadeblack", "fadewhite", "wipeleft", "wiperight", "wipeup", "wipedown",
               "slideleft", "slideright", "slideup", "slidedown", "circleopen", "circleclose", "radial", "smoothleft",
               "smoothright", "pixelize", "distance", "hblur")
_MAX_GRAPH_INPUTS = 16  # a transition graph decodes all its inputs at once; bigger cuts are built in stages


class ConcatPlan(BaseModel):
    """How `concat` will join the clips: stream copy or re-encode, and which clips it conforms first."""

    method: Literal["copy", "reencode"]
    frames: list[int]  # frames each clip contributes, before transition overlaps
    conform: list[int] = Field(default_factory=list)  # indexes of clips re-encoded before a copy
    reasons: dict[int, list[str]] = Field(default_factory=dict)
    total_frames: int


@functools.lru_cache(maxsize=8)
def _reference_config(spec_json: str) -> str:
    """The decoder configuration (SPS/PPS hash) reelwright's own encoder writes for a spec."""
    spec = VideoSpec.model_validate_json(spec_json)
    with tempfile.TemporaryDirectory(prefix="rw-ref-") as tmp:
        src = Path(tmp) / "src.mp4"
        run_ffmpeg(["-f", "lavfi", "-i", f"color=gray:size={spec.width}x{spec.height}:rate={spec.fps}:d=0.2",
                    *h264_args(preset="ultrafast"), str(src)])
        out = Path(tmp) / "ref.mp4"
        conform(src, out, spec, frames=2)
        return probe(out).video_config


def check_transitions(transitions: Sequence[tuple[str, int]] | None, frames: Sequence[int]) -> list[tuple[str, int]]:
    if transitions is None:
        return [("cut", 0)] * max(0, len(frames) - 1)
    out = [(str(name), int(k)) for name, k in transitions]
    if len(out) != len(frames) - 1:
        raise ToolArgumentError(f"{len(frames)} clips need {len(frames) - 1} transitions, got {len(out)}")
    for j, (name, k) in enumerate(out):
        if name not in TRANSITIONS:
            raise ToolArgumentError(f"unknown transition {name!r}: use one of {', '.join(TRANSITIONS)}")
        if k < 0 or (name != "cut" and k == 0) or (name == "cut" and k != 0):
            raise ToolArgumentError(f"transition {j} ({name}) needs overlap frames > 0 (0 for 'cut'), got {k}")
        if k >= min(frames[j], frames[j + 1]):
            raise ToolArgumentError(f"transition {j} overlaps {k} frames but its clips have {frames[j]} and "
                                    f"{frames[j + 1]}")
    return out


def transition_total_frames(frames: Sequence[int], transitions: Sequence[tuple[str, int]] | None) -> int:
    """Length of a cut with transitions: each overlap of k frames shortens the sum of the clips by k."""
    return sum(frames) - sum(k for _, k in check_transitions(transitions, frames))


def plan_concat(clips: Sequence[str | Path], spec: VideoSpec,
                transitions: Sequence[tuple[str, int]] | None = None,
                infos: Sequence[MediaInfo] | None = None) -> ConcatPlan:
    """Decide how to join `clips`: copy when every clip matches `spec` and shares one SPS/PPS."""
    if not clips:
        raise ToolArgumentError("concat needs at least one clip")
    infos = list(infos) if infos is not None else [probe(c) for c in clips]
    frames = [i.frames if spec.matches(i) else frames_available(i, spec) for i in infos]
    joins = check_transitions(transitions, frames)
    total = sum(frames) - sum(k for _, k in joins)
    if any(k for _, k in joins):
        return ConcatPlan(method="reencode", frames=frames, total_frames=total)
    reasons = {n: spec.mismatches(i) for n, i in enumerate(infos) if not spec.matches(i)}
    # Misplaced timestamps would shift the copied frames; such clips are re-encoded too.
    reasons.update({n: [f"video starts at {float(i.video_start):.3f}s"] for n, i in enumerate(infos)
                    if n not in reasons and i.video_start < 0})
    # An MP4 track keeps one SPS/PPS: copied clips must all share it, or be re-encoded to ours.
    config = {n: i.video_config for n, i in enumerate(infos) if n not in reasons}
    if reasons or len(set(config.values())) > 1:
        ref = _reference_config(spec.model_dump_json())
        for n, data in config.items():
            if data != ref:
                reasons[n] = ["codec parameters (SPS/PPS) differ from the other clips"]
    return ConcatPlan(method="copy", frames=frames, conform=sorted(reasons), reasons=reasons, total_frames=total)


def concat(clips: Sequence[str | Path], dst: str | Path, spec: VideoSpec, *,
           transitions: Sequence[tuple[str, int]] | None = None, progress: Progress | None = None) -> Path:
    """Join `clips` in order into `dst` (H.264/AAC MP4, `+faststart`), exact to the frame.

    Without transitions the cut lasts exactly the sum of the clips' frames: matching clips' video is
    stream-copied, non-matching ones are conformed to `spec` first, and the audio is rebuilt so each clip's
    sound lasts exactly as long as its frames.

    `transitions` gives one `(name, overlap_frames)` per join (`("cut", 0)` for a hard cut). A transition of
    k frames overlaps the last k frames of one clip with the first k of the next, so the cut is
    `sum(frames) - sum(overlaps)` long (`transition_total_frames`): a caller who wants a given total makes
    the clips around each transition longer by its overlap. Any transition re-encodes the whole cut."""
    clips = [Path(c) for c in clips]
    infos = [probe(c) for c in clips]
    plan = plan_concat(clips, spec, transitions, infos)
    if plan.method == "reencode":
        return _concat_reencode(clips, infos, dst, spec, check_transitions(transitions, plan.frames), progress)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rw-concat-", dir=dst.parent) as tmp:
        sources = list(clips)
        for n in plan.conform:
            sources[n] = conform(clips[n], Path(tmp) / f"conformed{n:04d}.mp4", spec)
            infos[n] = probe(sources[n])
        frames = [i.frames for i in infos]
        listing = Path(tmp) / "list.txt"
        listing.write_text("ffconcat version 1.0\n" + "".join(
            f"file {_concat_quote(p)}\ninpoint {fsec(i.video_start)}\nduration {fsec(Fraction(i.frames) / i.fps)}\n"
            for p, i in zip(sources, infos)), encoding="utf-8")
        with atomic_output(dst) as out:
            _copy_video_rebuild_audio(listing, sources, infos, frames, out, spec, progress)
    return dst


def _concat_quote(path: Path) -> str:
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


def _copy_video_rebuild_audio(listing: Path, sources: list[Path], infos: list[MediaInfo], frames: list[int],
                              out: Path, spec: VideoSpec, progress: Progress | None) -> None:
    """One ffmpeg: video stream-copied through the concat demuxer, audio read raw from our stdin."""
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            # -copyts: ffmpeg would otherwise shift the copied video by the first clip's audio priming;
            # -auto_convert 0: keep the H.264 packets byte for byte (no in-band parameter sets).
            "-copyts", "-f", "concat", "-safe", "0", "-auto_convert", "0", "-i", str(listing),
            "-f", "f32le", "-ar", str(spec.sample_rate), "-ac", str(spec.channels), "-i", "pipe:0",
            "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *spec.audio_encoder_args(),
            *mp4_args(strip_metadata=True), str(out)]
    total_samples = spec.samples(sum(frames))
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(dies_with_parent(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        assert proc.stdin is not None
        try:
            start = 0
            for path, info, n in zip(sources, infos, frames):
                first, last = spec.samples(start), spec.samples(start + n)
                _write_clip_audio(proc.stdin, path, info, last - first, spec)
                start += n
                if progress:
                    progress(0.95 * last / max(1, total_samples))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped reading; its exit status and stderr say why
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        rc = proc.wait()
        err.seek(0)
        stderr = err.read()
    if rc != 0:
        raise FFmpegError(argv, rc, stderr)
    if progress:
        progress(1.0)


def _write_clip_audio(sink, path: Path, info: MediaInfo, samples: int, spec: VideoSpec) -> None:
    """Write exactly `samples` interleaved float samples of the clip's sound (silence where it has none)."""
    import numpy as np

    channels = spec.channels
    written = 0

    def put(block) -> None:
        nonlocal written
        take = min(samples - written, block.shape[-1] // channels if block.ndim == 2 else len(block) // channels)
        if take > 0:
            sink.write(block.reshape(-1)[: take * channels].tobytes())
            written += take

    if info.has_audio:
        resampler = av.AudioResampler(format="flt", layout="stereo" if channels == 2 else "mono",
                                      rate=spec.sample_rate)
        try:
            with av.open(str(path)) as container:
                stream = container.streams.audio[0]
                aligned = False
                for packet in container.demux(stream):
                    for frame in packet.decode():
                        if not aligned:
                            # Sound that starts late (or early) against the picture keeps its place.
                            aligned = True
                            lead = int(round((Fraction(frame.pts or 0) * Fraction(stream.time_base)
                                              - info.video_start) * spec.sample_rate)) if frame.pts is not None else 0
                            if lead > 0:
                                put(np.zeros(min(lead, samples) * channels, dtype=np.float32))
                            elif lead < 0:
                                skip = -lead
                                for out in resampler.resample(frame):
                                    arr = out.to_ndarray().reshape(-1)
                                    drop = min(skip, len(arr) // channels)
                                    skip -= drop
                                    put(arr[drop * channels:])
                                continue
                        for out in resampler.resample(frame):
                            put(out.to_ndarray())
                        if written >= samples:
                            break
                    if written >= samples:
                        break
                for out in resampler.resample(None):
                    put(out.to_ndarray())
        except av.error.FFmpegError as exc:
            raise InputFileError(f"cannot decode the audio of {path}: {exc}") from exc
    chunk = spec.sample_rate * channels
    while written < samples:
        put(np.zeros(min(chunk, (samples - written) * channels), dtype=np.float32))


def _concat_reencode(clips: list[Path], infos: list[MediaInfo], dst: str | Path, spec: VideoSpec,
                     joins: list[tuple[str, int]], progress: Progress | None) -> Path:
    """Re-encode the cut through one filter graph: each clip sized to spec, joined by xfade/acrossfade."""
    frames = [i.frames if spec.matches(i) else frames_available(i, spec) for i in infos]
    if len(clips) > _MAX_GRAPH_INPUTS:
        return _concat_reencode_staged(clips, infos, dst, spec, joins, frames, progress)
    total = sum(frames) - sum(k for _, k in joins)
    args: list[str] = []
    parts: list[str] = []
    for n, (clip, info) in enumerate(zip(clips, infos)):
        args += ["-i", str(clip)]
        parts.append(f"[{n}:v:0]{video_chain(info, spec, frames=frames[n])},settb=AVTB[v{n}]")
        samples = spec.samples(frames[n])
        if info.has_audio:
            parts.append(f"[{n}:a:0]{audio_chain(spec, samples=samples)}[a{n}]")
        else:
            parts.append(f"anullsrc=r={spec.sample_rate}:cl=stereo,{audio_chain(spec, samples=samples)}[a{n}]")
    vcur, acur, length = "v0", "a0", frames[0]
    for j, (name, k) in enumerate(joins, start=1):
        vout, aout = f"vj{j}", f"aj{j}"
        if k == 0:
            parts.append(f"[{vcur}][{acur}][v{j}][a{j}]concat=n=2:v=1:a=1[{vout}][{aout}]")
        else:
            offset = spec.seconds(length - k)
            parts.append(f"[{vcur}][v{j}]xfade=transition={name}:duration={fsec(spec.seconds(k))}:"
                         f"offset={fsec(offset)}[{vout}]")
            parts.append(f"[{acur}][a{j}]acrossfade=ns={spec.samples(k)}:c1=tri:c2=tri[{aout}]")
        vcur, acur, length = vout, aout, length + frames[j] - k
    samples = spec.samples(total)
    parts.append(f"[{vcur}]tpad=stop_mode=clone:stop={total},trim=end_frame={total},setpts=PTS-STARTPTS[vout]")
    parts.append(f"[{acur}]apad=whole_len={samples},atrim=end_sample={samples}[aout]")
    with atomic_output(dst) as tmp:
        run_ffmpeg([*args, "-filter_complex", ";".join(parts), "-map", "[vout]", "-map", "[aout]",
                    *spec.output_args(), str(tmp)], progress=progress, duration_s=float(spec.seconds(total)))
    return Path(dst)


def _concat_reencode_staged(clips: list[Path], infos: list[MediaInfo], dst: str | Path, spec: VideoSpec,
                            joins: list[tuple[str, int]], frames: list[int], progress: Progress | None) -> Path:
    """Bound memory: join groups of clips into intermediates, then join those with the boundary transitions."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    size = _MAX_GRAPH_INPUTS
    inter_spec = spec.model_copy(update={"crf": max(0, spec.crf - 4)})  # intermediates lose little
    with tempfile.TemporaryDirectory(prefix=".rw-xfade-", dir=dst.parent) as tmp:
        groups: list[Path] = []
        for g, lo in enumerate(range(0, len(clips), size)):
            hi = min(lo + size, len(clips))
            out = Path(tmp) / f"group{g:04d}.mp4"
            if hi - lo == 1:
                render(clips[lo], out, inter_spec, frames=frames[lo], info=infos[lo])
            else:
                _concat_reencode(clips[lo:hi], infos[lo:hi], out, inter_spec, joins[lo:hi - 1], None)
            groups.append(out)
            if progress:
                progress(0.8 * hi / len(clips))
        boundary = [joins[hi - 1] for hi in range(size, len(clips), size)]
        return _concat_reencode(groups, [probe(p) for p in groups], dst, spec, boundary,
                                (lambda f: progress(0.8 + 0.2 * f)) if progress else None)

