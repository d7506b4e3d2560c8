"""Sound for a cut: tone beds and silence of exact length, laying a track under a video, mixing one in.

Video is always stream-copied here; audio comes out as AAC of exactly the video's length."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..errors import ToolArgumentError
from .encode import aac_args, mp4_args
from .ffmpeg import run_ffmpeg
from .probe import MediaInfo, probe
from .util import atomic_output, check_distinct

_PCM_SUFFIXES = {".wav": "pcm_s16le"}


def _samples(seconds: Fraction | float | int, sample_rate: int) -> int:
    value = Fraction(seconds) if not isinstance(seconds, float) else Fraction(repr(seconds))
    if value <= 0:
        raise ToolArgumentError(f"seconds must be positive, got {seconds}")
    return int(value * sample_rate + Fraction(1, 2))


def _audio_codec_args(dst: Path, bitrate: str = "192k") -> list[str]:
    codec = _PCM_SUFFIXES.get(dst.suffix.lower())
    return ["-c:a", codec] if codec else aac_args(bitrate=bitrate)


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def tone_bed(dst: str | Path, seconds: Fraction | float | int, *, frequency: float = 220.0, gain_db: float = -18.0,
             sample_rate: int = 48000, channels: int = 2, fade_s: float = 0.5) -> Path:
    """A soft, steady tone (root and fifth) lasting exactly `seconds`, fading in and out: a placeholder bed.

    The codec follows the suffix: .wav is PCM, anything else AAC."""
    if not 20 <= frequency <= 20000:
        raise ToolArgumentError(f"frequency must be 20..20000 Hz, got {frequency}")
    n = _samples(seconds, sample_rate)
    fade = max(1, min(int(fade_s * sample_rate), n // 2))
    expr = f"0.6*sin(2*PI*{frequency}*t)+0.3*sin(2*PI*{frequency * 1.5}*t)"
    dst = Path(dst)
    graph = (f"aevalsrc={expr}:s={sample_rate}:c={_layout(channels)},atrim=end_sample={n},volume={gain_db}dB,"
             f"afade=t=in:ss=0:ns={fade},afade=t=out:ss={n - fade}:ns={fade}")
    with atomic_output(dst) as tmp:
        run_ffmpeg(["-f", "lavfi", "-i", graph, *_audio_codec_args(dst), str(tmp)])
    return dst


def silence(dst: str | Path, seconds: Fraction | float | int, *, sample_rate: int = 48000, channels: int = 2) -> Path:
    """Exactly `seconds` of silence (.wav PCM, otherwise AAC)."""
    n = _samples(seconds, sample_rate)
    dst = Path(dst)
    with atomic_output(dst) as tmp:
        run_ffmpeg(["-f", "lavfi", "-i", f"anullsrc=r={sample_rate}:cl={_layout(channels)}",
                    "-af", f"atrim=end_sample={n}", *_audio_codec_args(dst), str(tmp)])
    return dst


def _video_samples(info: MediaInfo, sample_rate: int) -> int:
    return int(info.video_duration * sample_rate + Fraction(1, 2))


def _gain(gain_db: float) -> str:
    return f"volume={gain_db}dB"


def mux_audio(video: str | Path, audio: str | Path, dst: str | Path, *, gain_db: float = 0.0,
              sample_rate: int = 48000, channels: int = 2) -> Path:
    """Replace the video's sound with `audio` (gain applied), cut or padded with silence to the video's
    exact length. The video stream is copied."""
    check_distinct(video, dst)
    info = probe(video)
    n = _video_samples(info, sample_rate)
    graph = (f"[1:a:0]aresample={sample_rate},aformat=sample_fmts=fltp:channel_layouts={_layout(channels)},"
             f"{_gain(gain_db)},apad=whole_len={n},atrim=end_sample={n}[a]")
    with atomic_output(dst) as tmp:
        run_ffmpeg(["-i", str(video), "-i", str(audio), "-filter_complex", graph, "-map", "0:v:0", "-map", "[a]",
                    "-c:v", "copy", *aac_args(), *mp4_args(), str(tmp)])
    return Path(dst)


def mix_audio(video: str | Path, audio: str | Path, dst: str | Path, *, gain_db: float = 0.0,
              start: Fraction | float | int = 0, duration: Fraction | float | int | None = None,
              sample_rate: int = 48000, channels: int = 2) -> Path:
    """Mix `audio` into the video's sound (an `AudioCue`): it enters at `start` seconds, lasts at most
    `duration`, at `gain_db`. The result lasts exactly as long as the video; the video stream is copied."""
    check_distinct(video, dst)
    info = probe(video)
    n = _video_samples(info, sample_rate)
    fmt = f"aresample={sample_rate},aformat=sample_fmts=fltp:channel_layouts={_layout(channels)}"
    delay = int(Fraction(start) * sample_rate) if start else 0
    if delay < 0:
        raise ToolArgumentError(f"start must not be negative, got {start}")
    cue = f"[1:a:0]{fmt},{_gain(gain_db)}"
    if duration is not None:
        cue += f",atrim=end_sample={_samples(duration, sample_rate)}"
    if delay:
        cue += f",adelay=delays={delay}S:all=1"
    args = ["-i", str(video), "-i", str(audio)]
    if info.has_audio:
        base = f"[0:a:0]{fmt}"
    else:
        args += ["-f", "lavfi", "-i", f"anullsrc=r={sample_rate}:cl={_layout(channels)}"]
        base = f"[2:a]atrim=end_sample={n},{fmt}"
    graph = (f"{base}[base];{cue}[cue];[base][cue]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
             f"apad=whole_len={n},atrim=end_sample={n}[a]")
    with atomic_output(dst) as tmp:
        run_ffmpeg([*args, "-filter_complex", graph, "-map", "0:v:0", "-map", "[a]", "-c:v", "copy",
                    *aac_args(), *mp4_args(), str(tmp)])
    return Path(dst)
