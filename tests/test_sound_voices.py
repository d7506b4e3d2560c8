"""Voices: espeak-ng offline with the engine's word events; the OpenAI-compatible speech API through the
official SDK, and ElevenLabs with character timestamps, each against a fake on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

from reelwright.errors import ConfigError, MissingKeyError, VoiceError
from reelwright.sound import get_voice
from reelwright.sound.voices import clean_text, split_sentences
from tests.fakes.tts_elevenlabs import FakeElevenLabs
from tests.fakes.tts_openai import RATE, FakeSpeechServer, speech_for
from tests.sound_helpers import samples

TEXT = "Meet Tide. The bottle that keeps up, at five o'clock! Café crème."


def _loud(x: np.ndarray, a: float, b: float, rate: int = 48000) -> float:
    seg = x[int(a * rate): int(b * rate)]
    return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0


def test_espeak_words_come_in_order_with_their_punctuation_and_sound(tmp_path):
    speech = get_voice("espeak").speak(TEXT, tmp_path / "line.wav")
    assert [w.text for w in speech.words] == TEXT.split()
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in speech.words)
    x = samples(speech.path)
    assert abs(len(x) / 48000 - speech.duration) < 0.01
    for w in speech.words:  # every word span holds sound
        assert _loud(x, w.start, w.end) > 0.01, w


def test_espeak_sentences_start_after_the_pause_that_ends_the_one_before(tmp_path):
    speech = get_voice("espeak").speak(TEXT, tmp_path / "line.wav")
    assert [s.text for s in speech.sentences] == split_sentences(TEXT)
    x = samples(speech.path)
    for before, after in zip(speech.sentences, speech.sentences[1:]):
        gap = after.start - before.end
        assert gap > 0.15  # a real pause between sentences…
        assert _loud(x, before.end + 0.03, after.start - 0.03) < 0.2 * _loud(x, after.start, after.end)  # …and quiet


def test_markdown_never_reaches_the_voice_or_the_captions():
    assert clean_text("**Meet** _Tide_. [Buy](http://x) `now`") == "Meet Tide . Buy now"


def test_unknown_backend_and_voice_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown TTS backend 'nope'"):
        get_voice("nope")
    with pytest.raises(ConfigError, match="espeak has no voice"):
        get_voice("espeak:xx-nonexistent").speak("hello", tmp_path / "x.wav")


def test_openai_voice_needs_its_key_named():
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        get_voice("openai:gpt-4o-mini-tts")


@pytest.mark.parametrize("fmt", ["wav", "mp3", "flac"])
def test_openai_speech_through_the_sdk_with_aligned_words(tmp_path, fmt):
    text = "Meet Tide. The bottle that keeps up, all day long! Try it today."
    with FakeSpeechServer() as server:
        voice = get_voice("openai:gpt-4o-mini-tts:coral", base_url=server.base_url, api_key="test-key",
                          response_format=fmt)
        speech = voice.speak(text, tmp_path / "line.wav")
    sent = server.requests[0]
    assert sent["input"] == text and sent["voice"] == "coral" and sent["response_format"] == fmt
    truth = server.bursts[0]
    assert abs(speech.duration - len(samples(speech.path)) / 48000) < 0.01
    made, _ = speech_for(text)
    assert abs(speech.duration - len(made) / RATE) < 0.06  # as long as the audio the server made for this text
    assert [w.text for w in speech.words] == [t[0] for t in truth]
    assert speech.timing == "alignment"
    for w, (_, a, b) in zip(speech.words, truth):
        assert abs(w.start - a) < 0.25, (w, a)
    # words after a pause (sentence starts) are anchored: within a few hundredths
    for s in speech.sentences[1:]:
        true_start = next(a for word, a, _ in truth if s.text.startswith(word) and a > s.start - 0.3)
        assert abs(s.start - true_start) < 0.08


def test_openai_refusals_are_clear(tmp_path):
    with FakeSpeechServer() as server:
        bad_voice = get_voice("openai:gpt-4o-mini-tts:bob", base_url=server.base_url, api_key="test-key")
        with pytest.raises(VoiceError, match=r"HTTP 400: Invalid value: 'bob'"):
            bad_voice.speak("Hello there.", tmp_path / "a.wav")
        wrong_key = get_voice("openai:tts-1", base_url=server.base_url, api_key="wrong")
        with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
            wrong_key.speak("Hello there.", tmp_path / "b.wav")
        with pytest.raises(VoiceError, match="HTTP 404"):
            get_voice("openai:tts-9", base_url=server.base_url, api_key="test-key").speak("Hi.", tmp_path / "c.wav")
    assert not (tmp_path / "a.wav").exists() and not (tmp_path / "b.wav").exists()


def test_elevenlabs_character_timestamps_become_words(tmp_path):
    text = "Meet Tide. It keeps up, every day!"
    with FakeElevenLabs() as server:
        voice = get_voice("elevenlabs:JBFqnCBsd6RMkjVDRZzb", base_url=server.base_url, api_key="el-test-key")
        speech = voice.speak(text, tmp_path / "line.wav")
    truth = server.bursts[0]
    assert speech.timing == "characters"
    assert [(w.text, w.start, w.end) for w in speech.words] == [(t, round(a, 3), round(b, 3)) for t, a, b in truth]
    assert [s.text for s in speech.sentences] == ["Meet Tide.", "It keeps up, every day!"]
    x = samples(speech.path)
    for w in speech.words:
        assert _loud(x, w.start, w.end) > 0.02


def test_elevenlabs_unknown_voice_and_missing_key(tmp_path, monkeypatch):
    with pytest.raises(MissingKeyError, match="ELEVENLABS_API_KEY"):
        get_voice("elevenlabs:JBFqnCBsd6RMkjVDRZzb")
    with FakeElevenLabs() as server:
        with pytest.raises(VoiceError, match="voice_id nope was not found"):
            get_voice("elevenlabs:nope", base_url=server.base_url, api_key="el-test-key").speak("Hi.", tmp_path / "x.wav")
