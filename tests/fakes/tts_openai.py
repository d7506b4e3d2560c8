"""A fake OpenAI-compatible `/v1/audio/speech` server on 127.0.0.1 for tests.

Its audio derives from the request: each word of `input` becomes a tone burst as long as the word is
long (about 2.6 words a second), with a pause after commas and longer ones after sentence ends, at
24 kHz mono, encoded by ffmpeg in the `response_format` asked. It refuses what the real API refuses:
no or wrong key (401), unknown model (404), unknown voice or format, empty or over-long input, speed
outside 0.25–4 (400, OpenAI's error shape). `bursts` records, per request, where each word really is."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from reelwright.media.ffmpeg import ffmpeg_exe

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar")
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
FORMATS = {"mp3": ("mp3", "libmp3lame"), "opus": ("ogg", "libopus"), "aac": ("adts", "aac"), "flac": ("flac", "flac"),
           "wav": ("wav", "pcm_s16le"), "pcm": ("s16le", "pcm_s16le")}
RATE = 24000


def speech_for(text: str, speed: float = 1.0) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Samples and [(word, start, end)] for `text`: a burst per word, pauses at punctuation."""
    out: list[np.ndarray] = [np.zeros(int(0.12 * RATE))]
    spans: list[tuple[str, float, float]] = []
    t = 0.12
    for i, word in enumerate(text.split()):
        length = (0.1 + 0.055 * len(re.sub(r"\W", "", word))) / speed
        n = int(length * RATE)
        x = np.arange(n) / RATE
        pitch = 140 + 25 * (i % 4)
        burst = sum(np.sin(2 * np.pi * pitch * k * x) / k for k in (1, 2, 3)) * np.hanning(n) * 0.5
        out.append(burst)
        spans.append((word, t, t + length))
        t += length
        pause = 0.45 if word.endswith((".", "!", "?")) else 0.22 if word.endswith((",", ";", ":")) else 0.04
        out.append(np.zeros(int(pause / speed * RATE)))
        t += int(pause / speed * RATE) / RATE
    out.append(np.zeros(int(0.2 * RATE)))
    return np.concatenate(out).astype(np.float32), spans


class FakeSpeechServer:
    def __init__(self, api_key: str = "test-key"):
        self.api_key = api_key
        self.requests: list[dict] = []
        self.bursts: list[list[tuple[str, float, float]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                status, body, ctype = server.answer(self.path, dict(self.headers), raw)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    @staticmethod
    def _error(status: int, message: str, param: str | None = None, code: str | None = None):
        body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
        return status, json.dumps(body).encode(), "application/json"

    def answer(self, path: str, headers: dict, raw: bytes):
        if path.rstrip("/") != "/v1/audio/speech":
            return self._error(404, f"Invalid URL (POST {path})")
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", code="invalid_api_key")
        try:
            req = json.loads(raw)
        except json.JSONDecodeError:
            return self._error(400, "We could not parse the JSON body of your request.")
        self.requests.append(req)
        text, voice, model = req.get("input"), req.get("voice"), req.get("model")
        fmt = req.get("response_format", "mp3")
        speed = req.get("speed", 1.0)
        if model not in MODELS:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.",
                               code="model_not_found")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "[{'type': 'string_too_short', 'loc': ('body', 'input')}]", "input")
        if len(text) > 4096:
            return self._error(400, "[{'type': 'string_too_long', 'loc': ('body', 'input')}]", "input")
        if voice not in VOICES:
            return self._error(400, f"Invalid value: '{voice}'. Supported values are: {', '.join(VOICES)}.",
                               "voice", "invalid_value")
        if fmt not in FORMATS:
            return self._error(400, f"Invalid value: '{fmt}'. Supported values are: {', '.join(FORMATS)}.",
                               "response_format", "invalid_value")
        if not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
            return self._error(400, f"Invalid 'speed': {speed}. Must be between 0.25 and 4.0.", "speed")
        samples, spans = speech_for(text, float(speed))
        self.bursts.append(spans)
        container, codec = FORMATS[fmt]
        proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-",
                               "-c:a", codec, "-f", container, "-"], input=samples.tobytes(), capture_output=True)
        if proc.returncode != 0:
            return self._error(500, "The server had an error while processing your request.")
        return 200, proc.stdout, f"audio/{fmt}"
