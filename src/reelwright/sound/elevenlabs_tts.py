"""ElevenLabs voices through the official `elevenlabs` SDK (`--tts elevenlabs:VOICE_ID`), with the
character timestamps of `convert_with_timestamps`: words are runs of non-space characters, each from
its first character's start to its last character's end (timing source `characters`)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from ..errors import ConfigError, MissingDependencyError, MissingKeyError, VoiceError
from ..media.ffmpeg import run_ffmpeg
from ..media.util import atomic_output
from .audiofile import audio_duration
from .voices import Span, Speech, clean_text, sentence_spans

DEFAULT_MODEL = "eleven_multilingual_v2"
DEFAULT_FORMAT = "mp3_44100_128"


class ElevenLabsVoice:
    key_env = "ELEVENLABS_API_KEY"

    def __init__(self, voice_id: str | None = None, *, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, output_format: str = DEFAULT_FORMAT, timeout: float = 120.0):
        if not voice_id:
            raise ConfigError("the ElevenLabs voice needs a voice id: --tts elevenlabs:VOICE_ID")
        self.voice_id = voice_id
        self.model = model or os.environ.get("REELWRIGHT_ELEVENLABS_MODEL") or DEFAULT_MODEL
        self.output_format = output_format
        self.name = f"elevenlabs:{voice_id}"
        key = api_key or os.environ.get(self.key_env)
        if not key:
            raise MissingKeyError(self.key_env, "the ElevenLabs voice")
        try:
            from elevenlabs.client import ElevenLabs
            from elevenlabs.core.api_error import ApiError
        except ImportError as exc:
            raise MissingDependencyError("the elevenlabs SDK", "pip install 'reelwright[sound]'") from exc
        self._api_error = ApiError
        base = base_url or os.environ.get("REELWRIGHT_ELEVENLABS_BASE_URL")
        self._client = ElevenLabs(api_key=key, base_url=base, timeout=timeout) if base else \
            ElevenLabs(api_key=key, timeout=timeout)

    def speak(self, text: str, dst: Path) -> Speech:
        text = clean_text(text)
        try:
            result = self._client.text_to_speech.convert_with_timestamps(
                self.voice_id, text=text, model_id=self.model, output_format=self.output_format)
        except self._api_error as exc:
            if exc.status_code == 401:
                raise ConfigError(f"ElevenLabs rejected the API key in {self.key_env} (HTTP 401)") from exc
            raise VoiceError(f"{self.name} failed with HTTP {exc.status_code}: {_detail(exc.body)}",
                             status=exc.status_code) from exc
        except Exception as exc:  # noqa: BLE001 - connection and parsing errors of the SDK's httpx client
            raise VoiceError(f"{self.name} call failed: {exc.__class__.__name__}: {exc}") from exc
        if not getattr(result, "audio_base_64", None):
            raise VoiceError(f"{self.name} returned no audio")
        try:
            data = base64.b64decode(result.audio_base_64)
        except (TypeError, ValueError) as exc:
            raise VoiceError(f"{self.name} returned audio that is not base64") from exc
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        raw = dst.with_name(f".{dst.stem}.download")
        raw.write_bytes(data)
        try:
            with atomic_output(dst) as tmp:
                run_ffmpeg([*_input_args(self.output_format), "-i", str(raw), "-c:a", "pcm_s16le", str(tmp)])
        except Exception as exc:
            raise VoiceError(f"{self.name} returned audio ffmpeg cannot read ({len(data)} bytes)") from exc
        finally:
            raw.unlink(missing_ok=True)
        duration = audio_duration(dst, "synthesized speech")
        alignment = result.alignment or result.normalized_alignment
        if alignment is None:
            raise VoiceError(f"{self.name} returned no character timings")
        words, starts = words_from_characters(alignment.characters, alignment.character_start_times_seconds,
                                              alignment.character_end_times_seconds)
        spoken = "".join(alignment.characters)
        return Speech(path=dst, duration=duration, words=words, sentences=sentence_spans(spoken, words, starts),
                      timing="characters", voice=self.name)


def words_from_characters(chars: list[str], starts: list[float], ends: list[float]) -> tuple[list[Span], list[int]]:
    """Words (runs of non-space characters) with their times, and where each starts in the joined text."""
    words: list[Span] = []
    offsets: list[int] = []
    run: list[int] = []
    for i, ch in enumerate(list(chars) + [" "]):
        if ch.strip():
            run.append(i)
            continue
        if run:
            words.append(Span(text="".join(chars[k] for k in run), start=round(starts[run[0]], 3),
                              end=round(ends[run[-1]], 3)))
            offsets.append(run[0])
            run = []
    return words, offsets


def _input_args(output_format: str) -> list[str]:
    """Raw PCM carries no header: say its rate."""
    kind, _, rest = output_format.partition("_")
    if kind == "pcm":
        return ["-f", "s16le", "-ar", rest.split("_")[0], "-ac", "1"]
    if kind in ("ulaw", "alaw"):
        return ["-f", "mulaw" if kind == "ulaw" else "alaw", "-ar", rest.split("_")[0], "-ac", "1"]
    return []


def _detail(body) -> str:
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, dict):
            return str(detail.get("message") or detail.get("status") or detail)
        return str(detail)
    return str(body)[:200]
