"""The one place reelwright's H.264/AAC/MP4 encoder arguments are written, so every re-encode agrees on
codec, pixel format, profile, colour tags and faststart. Callers say what differs (preset, crf, bitrate)."""

from __future__ import annotations

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
_BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]


def h264_args(*, preset: str = "veryfast", crf: int = 20, pix_fmt: str = "yuv420p", profile: str | None = None,
              threads: int | None = None, bframes: int | None = None, bt709: bool = False) -> list[str]:
    """libx264 output options. `bframes` pins the B-frame depth (a join must not change a decoder's reorder
    depth); `bt709` tags the stream BT.709, limited range (what our filters convert to)."""
    if preset not in X264_PRESETS:
        raise ValueError(f"unknown x264 preset {preset!r}: use one of {', '.join(X264_PRESETS)}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be 0..51, got {crf}")
    args = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf)]
    if threads is not None:
        args += ["-threads", str(threads)]
    if bframes is not None:
        args += ["-bf", str(bframes)]
    args += ["-pix_fmt", pix_fmt]
    if profile is not None:
        args += ["-profile:v", profile]
    return args + (_BT709 if bt709 else [])


def aac_args(*, bitrate: str | None = "192k", sample_rate: int | None = None, channels: int | None = None,
             fast_coder: bool = False) -> list[str]:
    """AAC output options; None leaves a value to ffmpeg (the input's rate and layout, its default bitrate)."""
    # ffmpeg's "fast" AAC coder takes half the CPU of "twoloop" and, by its maintainer's account, sounds
    # better at bitrates like ours (FFmpeg commit fcb681ac); the cut re-encodes all sound, so it matters.
    args = ["-c:a", "aac"] + (["-aac_coder", "fast"] if fast_coder else [])
    if bitrate is not None:
        args += ["-b:a", bitrate]
    if sample_rate is not None:
        args += ["-ar", str(sample_rate)]
    if channels is not None:
        args += ["-ac", str(channels)]
    return args


def mp4_args(*, strip_metadata: bool = False) -> list[str]:
    """MP4 muxer options: `moov` first (plays while downloading; `check_final` asks for it); optionally
    without the inputs' metadata (titles, encoder tags, source paths)."""
    return (["-map_metadata", "-1"] if strip_metadata else []) + ["-movflags", "+faststart"]
