"""Voices from any OpenAI-compatible `/v1/audio/speech` server through the official `openai` SDK
(`--tts openai:MODEL` or `openai:MODEL:VOICE`). The API returns audio only: word timings come from
`align.py` (espeak-guided alignment), reported as `alignment`."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, MissingDependencyError, MissingKeyError, VoiceError
from ..media.ffmpeg import run_ffmpeg
from ..media.util import atomic_output
from .align import align
from .audiofile import audio_duration
from .voices import Speech, clean_text

DEFAULT_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "alloy"
FORMATS = ("wav", "mp3", "flac", "aac", "opus")
MAX_INPUT = 4096  # characters the API takes in one request


class OpenAIVoice:
    key_env = "OPENAI_API_KEY"

    def __init__(self, spec: str | None = None, *, voice: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, response_format: str = "wav", speed: float = 1.0, timeout: float = 120.0,
                 max_retries: int = 2):
        model, _, spec_voice = (spec or DEFAULT_MODEL).partition(":")
        self.model = model or DEFAULT_MODEL
        self.voice = voice or spec_voice or os.environ.get("REELWRIGHT_TTS_VOICE") or DEFAULT_VOICE
        if response_format not in FORMATS:
            raise ConfigError(f"unknown audio format {response_format!r}: use one of {', '.join(FORMATS)}")
        self.response_format = response_format
        self.speed = speed
        self.name = f"openai:{self.model}:{self.voice}"
        key = api_key or os.environ.get(self.key_env)
        if not key:
            raise MissingKeyError(self.key_env, "the OpenAI voice")
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError("the openai SDK", "pip install 'reelwright[llm]'") from exc
        self._openai = openai
        base = base_url or os.environ.get("REELWRIGHT_TTS_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        self._client = openai.OpenAI(api_key=key, base_url=base, timeout=timeout, max_retries=max_retries)

    def speak(self, text: str, dst: Path) -> Speech:
        text = clean_text(text)
        if len(text) > MAX_INPUT:
            raise ConfigError(f"a narration line of {len(text)} characters is over the speech API's {MAX_INPUT}")
        try:
            response = self._client.audio.speech.create(model=self.model, voice=self.voice, input=text,
                                                        response_format=self.response_format, speed=self.speed)
            data = response.content
        except self._openai.AuthenticationError as exc:
            raise ConfigError(f"the speech server rejected the API key in {self.key_env} (HTTP 401)") from exc
        except self._openai.APIStatusError as exc:
            raise VoiceError(f"{self.name} failed with HTTP {exc.status_code}: {_message(exc)}",
                             status=exc.status_code) from exc
        except self._openai.OpenAIError as exc:
            raise VoiceError(f"{self.name} call failed: {exc}") from exc
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        raw = dst.with_name(f".{dst.stem}.download.{self.response_format}")
        try:
            raw.write_bytes(data)
            with atomic_output(dst) as tmp:  # one WAV whatever was asked: the mix and the aligner read it
                run_ffmpeg(["-i", str(raw), "-c:a", "pcm_s16le", str(tmp)])
        except Exception as exc:
            raise VoiceError(f"{self.name} returned audio ffmpeg cannot read ({len(data)} bytes)") from exc
        finally:
            raw.unlink(missing_ok=True)
        duration = audio_duration(dst, "synthesized speech")
        words, sentences = align(text, dst, duration)
        return Speech(path=dst, duration=duration, words=words, sentences=sentences, timing="alignment",
                      voice=self.name)


def _message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(exc)
