"""Shared job handling for remote video APIs: retries with capped backoff, polling with a
deadline, whole-or-nothing downloads, rate limiting, key lookup, SDK clients and the final probe of a clip.

Every HTTP adapter (xai, veo, runway, replicate, fal, luma) submits → polls → downloads
through these helpers, so retry and expiry behave the same everywhere:

- `call_with_retries` retries only `TransientGeneratorError` (408/409/429/5xx, connection
  trouble); `ModerationError` and other client errors go straight back to the caller.
  `call_mapped` applies an adapter's SDK error mapping to a single call.
- `poll_until` honours a server poll hint (Retry-After) and stops at a deadline.
- `download` writes to a temp file and renames; a 403/404/410 or a short body is an
  `ExpiredResultError`.
- `accept_clip` probes the file before a `ClipResult` exists; `keep_new_tail` trims an
  extension that came back with its input.
- `LazyClient` makes an adapter's SDK client once, on first use, and closes it;
  `limiter_from` reads the rate-limit options.
"""

from __future__ import annotations

import base64
import email.utils
import mimetypes
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
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
    ModerationError,
    TransientGeneratorError,
)
from ..timing import fraction_str
from .base import Capabilities, ClipRequest, ClipResult
from .prices import price_per_second

T = TypeVar("T")
S = TypeVar("S")
C = TypeVar("C")

RETRYABLE_STATUSES = frozenset({408, 409, 429})
EXPIRED_STATUSES = frozenset({403, 404, 410})


def is_retryable_status(code: int) -> bool:
    """408, 409, 429 and every 5xx are worth retrying; nothing else is."""
    return code in RETRYABLE_STATUSES or 500 <= code <= 599


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) value: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After from response headers; `retry-after-ms` wins when both are present."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    return parse_retry_after(lower.get("retry-after"))


def error_for_status(status: int, message: str, *, retry_after: float | None = None,
                     provider: str = "") -> GeneratorError:
    """The error a non-2xx API response maps to (returned, so callers `raise ... from`)."""
    prefix = f"{provider}: " if provider else ""
    text = f"{prefix}HTTP {status}: {message}".rstrip(": ")
    if is_retryable_status(status):
        return TransientGeneratorError(text, retry_after=retry_after)
    return GeneratorError(text)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins, capped."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        # Half fixed, half jitter: spreads clients apart without ever waiting ~0.
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _as_transient(exc: BaseException) -> TransientGeneratorError | None:
    if isinstance(exc, ModerationError):
        return None
    if isinstance(exc, TransientGeneratorError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if is_retryable_status(status):
            return TransientGeneratorError(f"HTTP {status}", retry_after=retry_after_from_headers(exc.response.headers))
        return None
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return TransientGeneratorError(f"connection trouble: {type(exc).__name__}")
    return None


def call_with_retries(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    map_error: Callable[[BaseException], BaseException | None] | None = None,
) -> T:
    """Run `fn`, retrying transient failures up to `policy.max_attempts` times in all.

    Retried: `TransientGeneratorError`, httpx transport errors and 408/409/429/5xx
    `httpx.HTTPStatusError`. `map_error(exc)` lets an adapter translate its SDK's errors
    first (return a reelwright error, or None to keep `exc`). `on_retry(attempt, error,
    delay)` is called before each sleep. After the last attempt the error is raised."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised if not retryable
            mapped = map_error(exc) if map_error is not None else None
            error = mapped if mapped is not None else exc
            transient = _as_transient(error)
            if transient is None or attempt >= policy.max_attempts:
                if error is exc:
                    raise
                raise error from exc
            wait = policy.delay(attempt, transient.retry_after)
            if on_retry is not None:
                on_retry(attempt, transient, wait)
            sleep(wait)


def call_mapped(fn: Callable[[], T], map_error: Callable[[BaseException], BaseException | None]) -> T:
    """Run `fn` once; an error it raises goes out as `map_error(exc)` (raised from `exc`), or as
    itself when `map_error` returns None. For SDK calls made outside `call_with_retries`."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - mapped to the error tree
        mapped = map_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def poll_until(
    fetch: Callable[[], S],
    *,
    is_done: Callable[[S], bool],
    interval: float = 2.0,
    deadline_s: float = 900,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[S], None] | None = None,
    hint: Callable[[S], float | None] = lambda state: None,
    clock: Callable[[], float] = time.monotonic,
    retry: RetryPolicy | None = None,
    what: str = "generation job",
) -> S:
    """Call `fetch()` until `is_done(state)`; return that state.

    Between polls waits `hint(state)` seconds when the server gave one (a Retry-After on
    the poll response), else `interval`, never past the deadline. `progress(state)` sees
    every unfinished state. With `retry`, each fetch is retried on transient errors.
    Raises `GeneratorError("<what> timed out after N s")` once `deadline_s` has passed."""
    start = clock()
    while True:
        if retry is not None:
            state = call_with_retries(fetch, policy=retry, sleep=sleep)
        else:
            state = fetch()
        if is_done(state):
            return state
        if progress is not None:
            progress(state)
        elapsed = clock() - start
        if elapsed >= deadline_s:
            raise GeneratorError(f"{what} timed out after {deadline_s:g} s")
        wait = hint(state)
        wait = interval if wait is None else max(0.0, float(wait))
        sleep(min(wait, max(0.0, deadline_s - elapsed)))


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


# Float refills can land a hair under a whole token; waiting for that hair could spin forever.
_TOKEN_EPSILON = 1e-9


class RateLimiter:
    """A thread-safe token bucket: `rate_per_s` tokens a second, at most `burst` saved up."""

    def __init__(self, rate_per_s: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"rate_per_s must be > 0 and burst >= 1, got {rate_per_s!r}, {burst!r}")
        self.rate = float(rate_per_s)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_acquire(self) -> bool:
        """Take a token if one is there; never waits."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - _TOKEN_EPSILON:
                self._tokens = max(0.0, self._tokens - 1)
                return True
            return False

    def acquire(self) -> float:
        """Take a token, waiting as long as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens >= 1 - _TOKEN_EPSILON:
                    self._tokens = max(0.0, self._tokens - 1)
                    return waited
                wait = (1 - self._tokens) / self.rate
            self._sleep(wait)
            waited += wait


def limiter_from(options: Mapping[str, Any]) -> RateLimiter | None:
    """An adapter's rate limit from its options: a shared `limiter` (it keeps several generators on
    one key under the provider's request rate), else one of `rate_per_s` / `rate_burst`, else None."""
    rate = options.get("rate_per_s")
    return options.get("limiter") or (RateLimiter(float(rate), int(options.get("rate_burst", 1))) if rate else None)


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
    from ..media.ffmpeg import run_ffmpeg

    total = probe_clip(Path(src)).duration
    start = max(Fraction(0), total - Fraction(seconds))
    args = ["-ss", f"{float(start):.6f}", "-i", str(src), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart", str(dest)]
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
