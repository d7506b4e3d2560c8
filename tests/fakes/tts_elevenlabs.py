"""A fake ElevenLabs text-to-speech server on 127.0.0.1: `POST /v1/text-to-speech/{voice_id}/with-timestamps`.

The audio derives from the request's text (a burst per word, see `tts_openai.speech_for`), encoded in the
`output_format` asked (mp3_*, pcm_*); the character timings spread each word's burst over its characters,
spaces and punctuation in between get the pause. Refuses like the real API: missing/wrong `xi-api-key`
(401), unknown voice (404 voice_not_found), unknown model or output format, empty text (400/422)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from reelwright.media.ffmpeg import ffmpeg_exe

from .tts_openai import RATE, speech_for

MODELS = ("eleven_multilingual_v2", "eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3")
FORMATS = re.compile(r"^(mp3_(22050|44100)_(32|64|96|128|192)|pcm_(16000|22050|24000|44100))$")


def alignment_for(text: str, spans: list[tuple[str, float, float]]) -> dict:
    """Character timings: each word's characters share its burst; the gaps between words get the pause."""
    chars, starts, ends = [], [], []
    pos = 0
    prev_end = 0.0
    for word, a, b in spans:
        at = text.index(word, pos)
        for ch in text[pos:at]:  # the whitespace before the word
            chars.append(ch); starts.append(prev_end); ends.append(a)
        step = (b - a) / len(word)
        for k, ch in enumerate(word):
            chars.append(ch); starts.append(round(a + k * step, 4)); ends.append(round(a + (k + 1) * step, 4))
        pos, prev_end = at + len(word), b
    for ch in text[pos:]:
        chars.append(ch); starts.append(prev_end); ends.append(prev_end)
    return {"characters": chars, "character_start_times_seconds": starts, "character_end_times_seconds": ends}


class FakeElevenLabs:
    def __init__(self, api_key: str = "el-test-key", voices: tuple[str, ...] = ("JBFqnCBsd6RMkjVDRZzb",)):
        self.api_key = api_key
        self.voices = set(voices)
        self.requests: list[dict] = []
        self.bursts: list[list[tuple[str, float, float]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, body = server.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, path: str, headers: dict, raw: bytes):
        url = urlparse(path)
        m = re.fullmatch(r"/v1/text-to-speech/([^/]+)/with-timestamps", url.path)
        if not m:
            return 404, {"detail": "Not Found"}
        if headers.get("xi-api-key") != self.api_key:
            return 401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
        voice = m.group(1)
        if voice not in self.voices:
            return 404, {"detail": {"status": "voice_not_found",
                                    "message": f"A voice with the voice_id {voice} was not found."}}
        fmt = parse_qs(url.query).get("output_format", ["mp3_44100_128"])[0]
        if not FORMATS.match(fmt):
            return 400, {"detail": {"status": "invalid_output_format", "message": f"Invalid output format {fmt}"}}
        req = json.loads(raw or b"{}")
        self.requests.append(req)
        text = req.get("text")
        if not isinstance(text, str) or not text.strip():
            return 422, {"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "value_error.missing"}]}
        model = req.get("model_id") or "eleven_multilingual_v2"
        if model not in MODELS:
            return 400, {"detail": {"status": "model_not_found", "message": f"Model {model} does not exist"}}
        samples, spans = speech_for(text)
        self.bursts.append(spans)
        kind, rate, *_ = fmt.split("_")
        out = ["-c:a", "libmp3lame", "-f", "mp3"] if kind == "mp3" else ["-c:a", "pcm_s16le", "-f", "s16le"]
        proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-",
                               "-ar", rate, *out, "-"], input=samples.tobytes(), capture_output=True, check=True)
        alignment = alignment_for(text, spans)
        return 200, {"audio_base64": base64.b64encode(proc.stdout).decode(), "alignment": alignment,
                     "normalized_alignment": alignment}
