"""Re-encoding a clip to a `VideoSpec`: size (crop-to-fill or pad), SAR, fps, pixel format, stereo AAC,
and frame-exact trimming with audio of exactly the same length.

`render` is the shared core; `conform`, `trim` and the edits in `edit.py` are thin callers of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from ..errors import ToolArgumentError
from ..timing import seconds_to_frames
from .ffmpeg import run_ffmpeg
from .probe import MediaInfo, probe
from .spec import VideoSpec
from .util import atomic_output, check_distinct, frac_arg

Fit = Literal["fill", "pad"]
Progress = Callable[[float], None]


def video_chain(info: MediaInfo, spec: VideoSpec, *, frames: int, start_frame: int = 0, fit: Fit = "fill",
                pre: Sequence[str] = (), post: Sequence[str] = ()) -> str:
    """The filters that turn the source video into exactly `frames` frames of the spec.

    `pre` runs on source timestamps (e.g. a speed change); `post` on the trimmed, sized frames."""
    if fit not in ("fill", "pad"):
        raise ToolArgumentError(f"fit must be 'fill' or 'pad', got {fit!r}")
    chain = ["setpts=PTS-STARTPTS", *pre, f"fps={frac_arg(spec.fps)}"]
    if start_frame:
        chain += [f"trim=start_frame={start_frame}", "setpts=PTS-STARTPTS"]
    # A source a few frames short is padded by holding its last frame; trim then cuts exactly.
    chain += [f"tpad=stop_mode=clone:stop={frames}", f"trim=end_frame={frames}", "setpts=PTS-STARTPTS"]
    chain += size_chain(info, spec, fit)
    chain += [f"format={spec.pix_fmt}", *post]
    return ",".join(chain)


def size_chain(info: MediaInfo, spec: VideoSpec, fit: Fit = "fill") -> list[str]:
    chain = []
    if not info.square_pixels:
        chain += ["scale=trunc(iw*sar/2)*2:ih", "setsar=1"]
    if (info.width, info.height) != (spec.width, spec.height) or not info.square_pixels:
        w, h = spec.width, spec.height
        if fit == "fill":
            chain += [f"scale={w}:{h}:force_original_aspect_ratio=increase", f"crop={w}:{h}"]
        else:
            chain += [f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2",
                      f"pad={w}:{h}:-1:-1:color=black"]
    chain.append("setsar=1")
    return chain


def audio_chain(spec: VideoSpec, *, samples: int, start_sample: int = 0, pre: Sequence[str] = (),
                post: Sequence[str] = ()) -> str:
    """Filters giving exactly `samples` stereo samples at the spec's rate (silence pads a short source)."""
    chain = [f"aresample={spec.sample_rate}", f"aformat=sample_fmts=fltp:channel_layouts={_layout(spec)}",
             "asetpts=PTS-STARTPTS", *pre]
    if start_sample:
        chain += [f"atrim=start_sample={start_sample}", "asetpts=PTS-STARTPTS"]
    chain += [f"apad=whole_len={samples}", f"atrim=end_sample={samples}", *post]
    return ",".join(chain)


def _layout(spec: VideoSpec) -> str:
    return {1: "mono", 2: "stereo"}.get(spec.channels, f"{spec.channels}c")


def render(src: str | Path, dst: str | Path, spec: VideoSpec, *, frames: int, start_frame: int = 0,
           fit: Fit = "fill", vpre: Sequence[str] = (), vpost: Sequence[str] = (), apre: Sequence[str] = (),
           apost: Sequence[str] = (), info: MediaInfo | None = None, progress: Progress | None = None,
           extra_args: Sequence[str] = ()) -> Path:
    """Re-encode `src` to exactly `frames` frames of `spec` (plus exact-length audio) at `dst`, atomically."""
    check_distinct(src, dst)
    info = info or probe(src)
    if frames <= 0:
        raise ToolArgumentError(f"frames must be positive, got {frames}")
    vgraph = video_chain(info, spec, frames=frames, start_frame=start_frame, fit=fit, pre=vpre, post=vpost)
    start_sample = spec.samples(start_frame)
    samples = spec.samples(start_frame + frames) - start_sample
    args: list[str] = ["-i", str(src)]
    if info.has_audio:
        agraph = "[0:a:0]" + audio_chain(spec, samples=samples, start_sample=start_sample, pre=apre, post=apost)
    else:
        # A clip without sound still gets a silent track so every clip of a cut has the same streams.
        args += ["-f", "lavfi", "-i", f"anullsrc=r={spec.sample_rate}:cl={_layout(spec)}"]
        agraph = "[1:a]" + audio_chain(spec, samples=samples, post=apost)
    graph = f"[0:v:0]{vgraph}[v];{agraph}[a]"
    with atomic_output(dst) as tmp:
        run_ffmpeg([*args, "-filter_complex", graph, "-map", "[v]", "-map", "[a]", *spec.output_args(),
                    *extra_args, str(tmp)], progress=progress, duration_s=float(spec.seconds(frames)))
    return Path(dst)


def frames_available(info: MediaInfo, spec: VideoSpec) -> int:
    """How many frames the source yields at the spec's fps."""
    return seconds_to_frames(info.video_duration, spec.fps)


def conform(src: str | Path, dst: str | Path, spec: VideoSpec, *, frames: int | None = None, start_frame: int = 0,
            fit: Fit = "fill", progress: Progress | None = None) -> Path:
    """Re-encode `src` to `spec`: crop-to-fill (`fit="fill"`) or letterbox (`fit="pad"`), SAR 1, the spec's fps
    and pixel format, stereo AAC at the spec's rate (silent when the source has none), `+faststart`.

    With `frames`, the output holds exactly that many video frames from `start_frame` on (frames counted at
    the spec's fps), and its audio lasts exactly as long; a source short by a few frames holds its last frame.
    Without `frames`, the whole source from `start_frame` is kept."""
    info = probe(src)
    if start_frame < 0:
        raise ToolArgumentError(f"start_frame must not be negative, got {start_frame}")
    available = frames_available(info, spec)
    if start_frame >= available:
        raise ToolArgumentError(f"start_frame {start_frame} is past the end of {src} ({available} frames at "
                                f"{frac_arg(spec.fps)} fps)")
    if frames is None:
        frames = available - start_frame
    if frames <= 0:
        raise ToolArgumentError(f"frames must be positive, got {frames}")
    return render(src, dst, spec, frames=frames, start_frame=start_frame, fit=fit, info=info, progress=progress)


def trim(src: str | Path, dst: str | Path, *, start_frame: int, frames: int, spec: VideoSpec,
         progress: Progress | None = None) -> Path:
    """Frame-exact cut of `frames` frames from `start_frame` (re-encodes this one clip)."""
    return conform(src, dst, spec, frames=frames, start_frame=start_frame, progress=progress)

