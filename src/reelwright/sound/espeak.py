"""The offline voice: espeak-ng's library through ctypes, in synchronous mode with a callback that
collects the samples and the word events (millisecond positions in the audio, character positions in
the text). Word ends are where the word's sound stops before the next word, found from the samples."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import wave
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingDependencyError
from .voices import Span, Speech, clean_text, sentence_spans

INSTALL = "apt-get install -y espeak-ng"
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_POS_CHARACTER = 1
_EVENT_WORD = 1
_EVENT_LIST_TERMINATED = 0
_PARAM_RATE = 1
DEFAULT_RATE_WPM = 160  # espeak's 175 sounds hurried for voice-over


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
# The library keeps one global synthesizer: every call goes through this lock.
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_rate = 22050


def _library() -> ctypes.CDLL:
    global _lib, _rate
    if _lib is None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise MissingDependencyError("espeak-ng (the offline voice)", INSTALL) from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise MissingDependencyError("espeak-ng's voice data", INSTALL)
        _lib, _rate = lib, rate
    return _lib


class EspeakVoice:
    """espeak-ng, offline. `voice` is an espeak voice name ('en-us', 'en-gb', 'de'…); timings come from
    the engine's word events."""

    timing = "engine"

    def __init__(self, voice: str | None = None, *, rate_wpm: int = DEFAULT_RATE_WPM):
        self.voice = voice or "en-us"
        self.rate_wpm = rate_wpm
        self.name = f"espeak:{self.voice}"
        _library()

    def speak(self, text: str, dst: Path) -> Speech:
        text = clean_text(text)
        samples, events = self._synth(text)
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.part")
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(_rate)
            w.writeframes(samples.tobytes())
        tmp.replace(dst)
        duration = len(samples) / _rate
        words, starts = _words(text, events, samples, _rate, duration)
        return Speech(path=dst, duration=duration, words=words, sentences=sentence_spans(text, words, starts),
                      timing="engine", voice=self.name)

    def _synth(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """(int16 samples, [(character offset, audio ms)] of each word)."""
        chunks: list[np.ndarray] = []
        events: list[tuple[int, int]] = []

        def collect(wav, n, ev):  # called by the library, on this thread, while espeak_Synth runs
            if n > 0 and wav:
                chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            i = 0
            while ev[i].type != _EVENT_LIST_TERMINATED:
                if ev[i].type == _EVENT_WORD:
                    events.append((ev[i].text_position - 1, ev[i].audio_position))
                i += 1
            return 0

        data = text.encode("utf-8") + b"\0"
        with _lock:
            lib = _library()
            callback = _CALLBACK(collect)  # kept alive until Synth returns
            lib.espeak_SetSynthCallback(callback)
            if lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                raise ConfigError(f"espeak has no voice {self.voice!r} (see: espeak-ng --voices)")
            lib.espeak_SetParameter(_PARAM_RATE, self.rate_wpm, 0)
            rc = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None)
        if rc != 0:
            raise ConfigError(f"espeak could not speak the text (error {rc})")
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return samples.astype(np.int16), events


def _words(text: str, events: list[tuple[int, int]], samples: np.ndarray, rate: int,
           duration: float) -> tuple[list[Span], list[int]]:
    """Word spans: text sliced between word start offsets (espeak's length field drops punctuation), start
    from the event, end where the sound stops before the next word starts."""
    events = sorted({c: ms for c, ms in events if 0 <= c < len(text)}.items())
    level = _envelope(samples, rate)
    words: list[Span] = []
    starts: list[int] = []
    for i, (char, ms) in enumerate(events):
        nxt_char = events[i + 1][0] if i + 1 < len(events) else len(text)
        word = text[char:nxt_char].strip()
        if not word:
            continue
        start = ms / 1000
        limit = events[i + 1][1] / 1000 if i + 1 < len(events) else duration
        words.append(Span(text=word, start=round(start, 3), end=round(_sound_end(level, start, limit), 3)))
        starts.append(char)
    return words, starts


_HOP = 0.005  # seconds per envelope step


def _envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    hop = max(1, int(rate * _HOP))
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0)
    frames = samples[: n * hop].astype(np.float32).reshape(n, hop)
    return np.sqrt((frames ** 2).mean(axis=1))


def _sound_end(level: np.ndarray, start: float, limit: float) -> float:
    """The last moment in [start, limit) louder than 1% of full scale (a word's tail, not the pause)."""
    a, b = int(start / _HOP), min(len(level), int(limit / _HOP))
    loud = np.nonzero(level[a:b] > 327)[0]
    if len(loud) == 0:
        return max(start, limit)
    return min(limit, (a + loud[-1] + 1) * _HOP)
