"""Reading sound files: what an input holds (duration, rate), decoding to samples, writing WAV.

Every unreadable or non-audio input is an `InputFileError` of one line."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from ..errors import InputFileError
from ..media.ffmpeg import ffmpeg_exe

SAMPLE_RATE = 48000


def audio_duration(path: str | Path, what: str = "audio file") -> float:
    """Seconds of sound in the first audio stream of `path`; InputFileError unless it holds decodable audio."""
    import av

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{what} not found: {p}")
    try:
        with av.open(str(p)) as container:
            if not container.streams.audio:
                raise InputFileError(f"{what} has no sound: {p}")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
            else:
                seconds = sum(f.samples for f in container.decode(stream)) / (stream.rate or 1)
    except InputFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for a file that is not media
        raise InputFileError(f"{what} is not readable audio: {p} ({exc.__class__.__name__})") from exc
    if seconds <= 0:
        raise InputFileError(f"{what} holds no sound: {p}")
    return seconds


def decode(path: str | Path, *, rate: int = SAMPLE_RATE, mono: bool = True, stream: str = "a:0") -> np.ndarray:
    """The audio of `path` as float32 samples (mono mixdown by default), resampled to `rate`."""
    argv = [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:{stream}", "-ac", "1" if mono else "2",
            "-ar", str(rate), "-f", "f32le", "-"]
    proc = subprocess.run(argv, capture_output=True)
    if proc.returncode != 0:
        raise InputFileError(f"cannot decode the sound of {path}: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    data = np.frombuffer(proc.stdout, dtype=np.float32)
    return data if mono else data.reshape(-1, 2)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write float samples in [-1, 1] (mono, or (n, channels)) as 16-bit PCM."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = np.clip(samples, -1.0, 1.0)
    channels = 1 if data.ndim == 1 else data.shape[1]
    tmp = p.with_name(f".{p.name}.part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    tmp.replace(p)
    return p


def envelope(samples: np.ndarray, rate: int = SAMPLE_RATE, window_s: float = 0.001) -> np.ndarray:
    """RMS per window of `window_s` (default 1 ms), mono."""
    hop = max(1, int(rate * window_s))
    x = samples if samples.ndim == 1 else samples.mean(axis=1)
    n = len(x) // hop
    if n == 0:
        return np.zeros(0, np.float32)
    return np.sqrt((x[: n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(axis=1))


def hit_time(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Where a sound 'hits': the first millisecond its envelope reaches half its peak. For an impact that is
    its first moment; for a swelling whoosh it is the swell, which is what should land on the picture."""
    env = envelope(samples, rate)
    if len(env) == 0 or env.max() <= 0:
        return 0.0
    return float(np.argmax(env >= env.max() / 2)) * 0.001


def onset_near(samples: np.ndarray, at: float, *, rate: int = SAMPLE_RATE, search_s: float = 0.4) -> float | None:
    """The measured onset of a sound placed near `at` seconds in a mix: the first millisecond, within
    ±search_s, whose high-passed level (first difference: beds and music are mostly low) rises past half
    of the loudest millisecond there and well above the level before the window."""
    x = samples if samples.ndim == 1 else samples.mean(axis=1)
    env = envelope(np.diff(x, prepend=x[:1]), rate)
    a, b = max(0, int((at - search_s) * 1000)), min(len(env), int((at + search_s) * 1000))
    if b - a < 10:
        return None
    window = env[a:b]
    before = float(np.median(env[max(0, a - 400):a])) if a > 0 else float(np.median(window))
    peak = float(window.max())
    if peak <= max(3.0 * before, 1e-5):
        return None
    return (a + int(np.argmax(window >= peak / 2))) * 0.001
