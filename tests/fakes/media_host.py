"""Shared plumbing for the fake provider servers: real MP4s made with ffmpeg, a threaded HTTP
server on 127.0.0.1 that serves them (whole, expired or truncated) and records requests, and
`FakeService`, what every HTTP fake offers its tests."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reelwright.media.ffmpeg import run_ffmpeg

FAKE_FPS = 24
FAKE_SIZE = (160, 90)
_made: dict[tuple[float, int, tuple[int, int], bool], Path] = {}
_made_lock = threading.Lock()


def make_mp4(folder: Path, seconds: float, *, fps: int = FAKE_FPS, size: tuple[int, int] = FAKE_SIZE,
             audio: bool = True) -> Path:
    """An H.264/AAC MP4 of exactly `seconds * fps` frames, made in `folder` (reused while it exists)."""
    key = (float(seconds), fps, size, audio)
    with _made_lock:
        if key in _made and _made[key].exists():
            return _made[key]
        path = Path(folder) / f"fake_{seconds:g}s_{fps}fps_{size[0]}x{size[1]}{'_a' if audio else ''}.mp4"
        frames = round(seconds * fps)
        args = ["-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={fps}"]
        if audio:
            args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
        args += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        if audio:
            args += ["-c:a", "aac", "-t", f"{seconds:g}"]
        run_ffmpeg(args + [str(path)])
        _made[key] = path
        return path


# The short side of each resolution name the providers use.
SHORT_SIDE = {"480p": 480, "540p": 540, "580p": 580, "720p": 720, "768p": 768, "1080p": 1080, "4k": 2160,
              "2160p": 2160}
# Wan's own sizes (what Replicate's and fal's Wan models make), landscape.
WAN_SIZES = {"480p": (832, 480), "580p": (1024, 576), "720p": (1280, 720)}


def frame_size(aspect: str = "16:9", resolution: str = "720p", *, wan: bool = False) -> tuple[int, int]:
    """(width, height) a provider makes for an aspect ratio and a resolution name: the resolution is the
    short side, the long side follows the ratio, rounded to even (Wan models: their own sizes)."""
    a, b = (int(x) for x in aspect.split(":"))
    if wan and resolution in WAN_SIZES:
        long, short = WAN_SIZES[resolution]
        long = short if a == b else long
        return (long, short) if a >= b else (short, long)
    short = SHORT_SIDE[resolution]
    long = 2 * round(short * max(a, b) / min(a, b) / 2)
    return (long, short) if a >= b else (short, long)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        # Clients dropping keep-alive sockets (or a truncated download) are normal here.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Download:
    """How the media host answers one GET of a file: 'ok', 'expired' (410/403/404) or 'truncated'."""

    mode: str = "ok"
    status: int = 410


@dataclass
class FakeHTTP:
    """A ThreadingHTTPServer with a route table, a request log and file hosting.

    Routes are (method, path predicate, handler(req) -> (status, headers, body)). `guard(req)`,
    when given, checks every routed request first: an answer it returns (a refused key) is sent
    in place of the handler's; None lets the handler answer. Files put with `host_file` are
    served at /files/<name>; `downloads` is a queue of `Download` behaviours applied to the
    next file GETs (default: whole file)."""

    routes: list[tuple[str, Callable[[str], bool], Callable[[Recorded], tuple[int, dict, Any]]]] = field(default_factory=list)
    log: list[Recorded] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    downloads: deque = field(default_factory=deque)
    file_key_header: tuple[str, str] | None = None  # (header, value) the files require, if any
    guard: Callable[[Recorded], tuple[int, dict, Any] | None] | None = None
    # Injected server faults: (method, path part, status), each answering one matching request before routing.
    faults: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self
        self._fault_lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                req = Recorded(method, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                owner.log.append(req)
                path = urlsplit(self.path).path
                if (status := owner._take_fault(method, path)) is not None:
                    return owner._send(self, status, {}, {"error": {"code": status, "message": "internal error",
                                                                    "status": "INTERNAL"}, "detail": "internal error"})
                if method == "GET" and path.startswith("/files/"):
                    return owner._serve_file(self, path.removeprefix("/files/"), req)
                for m, match, handler in owner.routes:
                    if m == method and match(path):
                        refused = owner.guard(req) if owner.guard is not None else None
                        status, headers, payload = refused or handler(req)
                        return owner._send(self, status, headers, payload)
                owner._send(self, 404, {}, {"error": f"no route for {method} {path}"})

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def route(self, method: str, match: Callable[[str], bool], handler: Callable[[Recorded], tuple[int, dict, Any]]) -> None:
        self.routes.append((method, match, handler))

    def fail_next(self, method: str, contains: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` `method` requests whose path contains `contains` with `status`."""
        with self._fault_lock:
            self.faults.extend([(method, contains, status)] * times)

    def _take_fault(self, method: str, path: str) -> int | None:
        with self._fault_lock:
            for i, (m, part, status) in enumerate(self.faults):
                if m == method and part in path:
                    del self.faults[i]
                    return status
        return None

    def host_file(self, name: str, path: Path) -> str:
        self.files[name] = path
        return f"{self.url}/files/{name}"

    def requests(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return [r for r in self.log if (method is None or r.method == method) and contains in r.path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, headers: dict, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        # A route may answer with a body cut short (an "X-Truncate" header): Content-Length promises it all.
        truncate = bool(headers.pop("X-Truncate", None)) if headers else False
        h.send_response(status)
        if not any(k.lower() == "content-type" for k in headers):
            h.send_header("Content-Type", "application/json" if not isinstance(payload, bytes) else "application/octet-stream")
        for k, v in headers.items():
            h.send_header(k, str(v))
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2] if truncate else data)
        if truncate:
            h.wfile.flush()
            h.close_connection = True

    def _serve_file(self, h: BaseHTTPRequestHandler, name: str, req: Recorded) -> None:
        name = name.split(":")[0]
        if self.file_key_header is not None:
            header, value = self.file_key_header
            if req.headers.get(header.lower()) != value:
                return self._send(h, 403, {}, {"error": {"code": 403, "message": "missing key", "status": "PERMISSION_DENIED"}})
        if name not in self.files:
            return self._send(h, 404, {}, {"error": "no such file"})
        behaviour = self.downloads.popleft() if self.downloads else Download()
        if behaviour.mode == "expired":
            return self._send(h, behaviour.status, {}, {"error": "expired"})
        data = self.files[name].read_bytes()
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if behaviour.mode == "truncated":
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(data)


class FakeService:
    """The base of the HTTP provider fakes: each keeps its server in `http` (also `media`, the host
    of its results) and offers its URL, request log, download behaviours and `close()`."""

    http: FakeHTTP

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def media(self) -> FakeHTTP:
        return self.http

    @property
    def downloads(self) -> deque[Download]:
        return self.http.downloads

    def requests(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        return self.http.requests(method, contains)

    def close(self) -> None:
        self.http.close()
