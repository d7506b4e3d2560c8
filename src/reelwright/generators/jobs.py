"""Shared job handling for remote video APIs: whole-or-nothing downloads, key lookup, SDK clients,
input files and the final probe of a clip. Retries and polling are in `retry.py`, the rate limiter in
`ratelimit.py`, typed options in `options.py`; their names are re-exported here, where adapters import them.

Every HTTP adapter (xai, veo, runway, replicate, fal, luma) submits → polls → downloads
through these helpers, so retry and expiry behave the same everywhere:

- `download` writes to a temp file and renames; a 403/404/410 or a short body is an
  `ExpiredResultError`.
- `accept_clip` probes the file before a `ClipResult` exists; `keep_new_tail` trims an
  extension that came back with its input.
- `LazyClient` makes an adapter's SDK client once, on first use, and closes it.
- `start_or_resume`, `lost_sight` and `billed_job` keep a provider job paid for once: a job the take loop
  recorded (`ClipRequest.resume_job`) is polled and fetched, never submitted again; a job lost while polling
  or finished but not fetched leaves its id (and its cost) on the `GeneratorError`.

Idempotency keys: none of the video create calls reelwright drives takes one (checked in the SDKs: the
Stainless clients of openai, lumaai and runwayml set no `idempotency_header`, and neither
`videos.create`, `generations.create` nor the Runway task creates take an `Idempotency-Key`; replicate,
fal-client, google-genai's `generate_videos`, Gemini `predictLongRunning`, OpenRouter's video API and xAI's
gRPC `GenerateVideo` have none). The job id recorded before polling is the only guard against paying twice.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from ..errors import (
    BriefError,
    ExpiredResultError,
    GeneratorError,
    InputFileError,
    MissingKeyError,
    TransientGeneratorError,
)
from ..timing import fraction_str
from .base import Capabilities, ClipRequest, ClipResult
from .prices import price_per_second
from .ratelimit import RateLimiter
from .retry import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    call_mapped,
    call_with_retries,
    error_for_status,
    is_retryable_status,
    parse_retry_after,
    poll_until,
    retry_after_from_headers,
)

__all__ = ["RETRYABLE_STATUSES", "EXPIRED_STATUSES", "RateLimiter", "RetryPolicy", "TransientGeneratorError",
           "call_mapped", "call_with_retries", "error_for_status", "is_retryable_status", "parse_retry_after",
           "poll_until", "retry_after_from_headers", "download", "ProbedClip", "probe_clip", "accept_clip",
           "LazyClient", "start_or_resume", "lost_sight", "billed_job", "require_key", "data_uri", "file_base64",
           "validate_request", "tail_of_video",
           "keep_new_tail"]

C = TypeVar("C")

EXPIRED_STATUSES = frozenset({403, 404, 410})

def download(
    url: str,
    dest: Path,
    *,
    client: httpx.Client | None = None,
    expected_bytes: int | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Stream `url` to `dest` whole or not at all (temp file in the same folder, then rename).

    403/404/410 → `ExpiredResultError("result URL expired …")`; 408/409/429/5xx and
    connection failures → `TransientGeneratorError`; a body shorter than Content-Length or
    `expected_bytes` → `ExpiredResultError("… truncated …")`. Headers (which may carry a
    key) are sent but never logged; the URL is not put in messages past its path."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    shown = _redact_url(url)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, http.stream("GET", url, headers=dict(headers or {})) as resp:
                status = resp.status_code
                if status in EXPIRED_STATUSES:
                    raise ExpiredResultError(f"result URL expired or is gone (HTTP {status}): {shown}")
                if is_retryable_status(status):
                    raise TransientGeneratorError(f"download of {shown} failed with HTTP {status}",
                                                  retry_after=retry_after_from_headers(resp.headers))
                if status >= 400:
                    raise GeneratorError(f"download of {shown} failed with HTTP {status}")
                declared = _content_length(resp)
                total = expected_bytes or declared
                got = 0
                for chunk in resp.iter_raw() if _identity(resp) else resp.iter_bytes():
                    out.write(chunk)
                    got += len(chunk)
                    if progress is not None and total:
                        progress(min(1.0, got / total))
        except httpx.RemoteProtocolError as exc:
            # h11 reports a body that ends before Content-Length as a protocol error.
            raise ExpiredResultError(f"download of {shown} was truncated: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientGeneratorError(f"download of {shown} failed: {type(exc).__name__}") from exc
        if declared is not None and _identity(resp) and got != declared:
            raise ExpiredResultError(f"download of {shown} was truncated: {got} of {declared} bytes")
        if expected_bytes is not None and got != expected_bytes:
            raise ExpiredResultError(f"download of {shown} was truncated: {got} of {expected_bytes} bytes")
        if got == 0:
            raise ExpiredResultError(f"download of {shown} was empty")
        os.replace(tmp, dest)
        return dest
    finally:
        if tmp.exists():
            tmp.unlink()
        if own:
            http.close()


def _content_length(resp: httpx.Response) -> int | None:
    value = resp.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _identity(resp: httpx.Response) -> bool:
    # Content-Length counts encoded bytes: compare raw bytes only when not compressed.
    return resp.headers.get("content-encoding", "identity").lower() in ("", "identity")


def _redact_url(url: str) -> str:
    """Scheme, host and path only: signed URLs carry credentials in the query."""
    try:
        u = httpx.URL(url)
    except Exception:  # noqa: BLE001 - only for display
        return "<url>"
    return f"{u.scheme}://{u.host}{':' + str(u.port) if u.port else ''}{u.path}"


@dataclass(frozen=True)
class ProbedClip:
    """What `accept_clip` needs to know about a downloaded file."""

    duration: Fraction
    frames: int
    fps: Fraction
    width: int
    height: int
    codec: str
    has_audio: bool


def probe_clip(path: Path) -> ProbedClip:
    """Probe `path` (reelwright.media.probe) and decode its first frame; GeneratorError if it is not a video.

    A provider can answer 200 with an error page or a cut-off file: only a file that
    probes as video and decodes is accepted."""
    import av

    from ..errors import MediaError
    from ..media.probe import probe

    path = Path(path)
    try:
        info = probe(path)
    except (InputFileError, MediaError) as exc:
        reason = "has no video stream" if "no video stream" in str(exc) else f"is not a decodable video: {exc}"
        raise GeneratorError(f"the generated file {path.name} {reason}") from exc
    try:
        with av.open(str(path)) as container:
            next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration, OSError) as exc:
        raise GeneratorError(f"the generated file {path.name} is not a decodable video: {exc}") from exc
    return ProbedClip(duration=Fraction(info.video_duration), frames=info.frames, fps=Fraction(info.fps),
                      width=info.width, height=info.height, codec=info.vcodec, has_audio=info.has_audio)


def accept_clip(
    path: Path,
    request: ClipRequest,
    *,
    generator: str,
    model: str,
    cost_usd: float | None = None,
    job_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> ClipResult:
    """Probe the downloaded clip and build its `ClipResult`.

    Cost is the provider's figure when it gave one, else the price table times the
    probed duration. Raises `GeneratorError` when the file is not a decodable video."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise GeneratorError(f"the generated file {path} is missing or empty")
    info = probe_clip(path)
    if cost_usd is None:
        cost_usd = price_per_second(generator, model, request.resolution) * float(info.duration)
    meta = {"width": info.width, "height": info.height, "fps": str(info.fps), "frames": info.frames,
            "codec": info.codec, "audio": info.has_audio}
    meta.update(metadata or {})
    return ClipResult(path=path, duration=info.duration, cost_usd=round(float(cost_usd), 6), model=model,
                      job_id=job_id, seconds_generated=info.duration, metadata=meta)


def _close(client: Any) -> None:
    client.close()


class LazyClient(Generic[C]):
    """An adapter's SDK client: made by `make()` on first `get()`, once, under a lock (threads share
    it); `close()` lets it go and releases it with `release(client)` (default `client.close()`)."""

    def __init__(self, make: Callable[[], C], release: Callable[[C], None] = _close):
        self._make = make
        self._release = release
        self._client: C | None = None
        self._lock = threading.Lock()

    def get(self) -> C:
        with self._lock:
            if self._client is None:
                self._client = self._make()
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            self._release(client)


def start_or_resume(request: ClipRequest, submit: Callable[[], str], provider: str = "the provider") -> str:
    """The provider job of this take: `request.resume_job` when the take loop recorded one (poll and fetch
    it, never pay twice), else the id `submit()` returns, handed to `request.on_submitted` before any poll."""
    if request.resume_job:
        return request.resume_job
    job_id = submit()
    if not job_id:
        raise GeneratorError(f"{provider} accepted the request but returned no job id")
    if request.on_submitted is not None:
        request.on_submitted(job_id)
    return job_id


def lost_sight(exc: BaseException, job_id: str, *, cancelled: bool = False) -> None:
    """A polling failure: when polling lost sight of a job that may still finish (a transient error, or the
    deadline passed and the job was not cancelled), `exc.job_id` says so and the next take polls it again."""
    timed_out = isinstance(exc, GeneratorError) and "timed out" in str(exc)
    if not cancelled and (isinstance(exc, TransientGeneratorError) or timed_out):
        exc.job_id = job_id  # type: ignore[union-attr]


@contextmanager
def billed_job(job_id: str, billed_usd: float | Callable[[], float]) -> Iterator[None]:
    """Around fetching a finished job: a `GeneratorError` inside carries `job_id` and `billed_usd` (the
    provider's figure, or a callable estimating it), so the take loop counts it once and fetches it again."""
    try:
        yield
    except GeneratorError as exc:
        exc.job_id = job_id
        exc.billed_usd = float(billed_usd() if callable(billed_usd) else billed_usd)
        raise


def require_key(env_var: str | Iterable[str], provider: str) -> str:
    """The first non-empty value of `env_var` (a name or names); MissingKeyError naming them otherwise."""
    names = [env_var] if isinstance(env_var, str) else list(env_var)
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    raise MissingKeyError(" or ".join(names), provider)


def data_uri(path: Path, mime: str | None = None) -> str:
    """A local file as a base64 `data:` URI (for APIs that take image URLs)."""
    mime, raw = file_base64(path, mime)
    return f"data:{mime};base64,{raw}"


def file_base64(path: Path, mime: str | None = None) -> tuple[str, str]:
    """(mime type, base64 text) of a local file; InputFileError when it cannot be read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read input file {str(path)!r}: {exc.strerror}") from exc
    mime = mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return mime, base64.b64encode(raw).decode("ascii")


def validate_request(caps: Capabilities, request: ClipRequest) -> None:
    """BriefError, quoting the value, when a request asks for what `caps` does not declare."""
    allowed = caps.allowed_durations()
    if Fraction(request.duration) not in allowed:
        shown = ", ".join(fraction_str(d) for d in allowed)
        raise BriefError(f"{caps.name} {caps.model} cannot make a {fraction_str(request.duration)} s clip; "
                         f"allowed durations: {shown}")
    if caps.aspects and request.aspect not in caps.aspects:
        raise BriefError(f"{caps.name} {caps.model} does not support aspect {request.aspect!r}; "
                         f"choose one of {', '.join(caps.aspects)}")
    if caps.resolutions and request.resolution not in caps.resolutions:
        raise BriefError(f"{caps.name} {caps.model} does not support resolution {request.resolution!r}; "
                         f"choose one of {', '.join(caps.resolutions)}")
    if request.references and len(request.references) > caps.max_references:
        raise BriefError(f"{caps.name} {caps.model} takes at most {caps.max_references} reference images, "
                         f"got {len(request.references)}")
    for path in [request.image, request.last_image, request.extend_from, *(r.path for r in request.references)]:
        if path is not None and not Path(path).is_file():
            raise InputFileError(f"input file not found: {str(path)!r}")


def tail_of_video(src: Path, dest: Path, seconds: float | Fraction) -> Path:
    """The last `seconds` of `src` as H.264/AAC MP4 (re-encoded, so the cut is frame-exact)."""
    from ..media.encode import aac_args, h264_args, mp4_args
    from ..media.ffmpeg import run_ffmpeg

    total = probe_clip(Path(src)).duration
    start = max(Fraction(0), total - Fraction(seconds))
    args = ["-ss", f"{float(start):.6f}", "-i", str(src),
            *h264_args(preset="veryfast", crf=20), *aac_args(bitrate=None), *mp4_args(), str(dest)]
    run_ffmpeg(args)
    return Path(dest)


def keep_new_tail(request: ClipRequest, meta: dict[str, Any]) -> None:
    """An extension may come back as input + continuation: keep only the asked-for tail.

    When the clip at `request.out_path` is over half a second longer than asked, the whole video
    moves to `<stem>.extended-full.mp4` (named in `meta["full_extension"]`) and the out path gets
    its last `request.duration` seconds."""
    got = probe_clip(request.out_path).duration
    if got - Fraction(request.duration) > Fraction(1, 2):
        whole = request.out_path.with_name(request.out_path.stem + ".extended-full.mp4")
        request.out_path.replace(whole)
        tail_of_video(whole, request.out_path, request.duration)
        meta["full_extension"] = str(whole)
