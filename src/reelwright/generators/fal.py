"""fal backend: hosted video apps (`fal:fal-ai/…`) through the official `fal-client` queue —
submit, poll the status (queue position, logs), fetch the result, download the video.

Inputs per app come from `model_inputs.py` (override with `inputs={...}`). Local images are
sent as data URIs (`fal_client.encode_file`), which fal apps take for file inputs; set
`upload="storage"` to upload them to fal's CDN with `upload_file` instead. Options (`FalOptions`):
`queue_host` (else FAL_QUEUE_RUN_HOST / queue.$FAL_RUN_HOST), `upload`, `moderation_types`,
`moderation_patterns`, `inputs`, and the shared job options (`JobOptions`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Literal

import httpx

from ..errors import ConfigError, GeneratorError, ModerationError
from . import jobs, model_inputs
from .base import ClipRequest, ClipResult, ProgressFn

DEFAULT_MODEL = "fal-ai/wan/v2.2-a14b/text-to-video"
# error_type / detail[].type values fal uses for safety refusals (?); extend with moderation_types=.
MODERATION_TYPES = ("content_policy_violation", "content_moderation", "nsfw_content_detected", "safety_check_failed")
MODERATION_PATTERNS = ("content checker", "content policy", "nsfw", "safety checker", "moderation", "flagged")
_sdk_url_lock = threading.Lock()


def point_sdk_at_queue(host: str) -> None:
    """Make fal-client submit to `host` (what FAL_QUEUE_RUN_HOST does, but at call time).

    fal-client reads FAL_QUEUE_RUN_HOST once, when it is imported, into a module constant;
    this re-applies it later. It is process-wide, like the environment variable itself.
    fal-client always speaks https, so a local server needs a certificate the process trusts
    (SSL_CERT_FILE)."""
    import fal_client.client as fal_http

    url = f"https://{host.strip().rstrip('/')}/"
    with _sdk_url_lock:
        if fal_http.QUEUE_URL_FORMAT != url:
            fal_http.QUEUE_URL_FORMAT = url


class FalOptions(model_inputs.HostedOptions):
    """Options for `fal:APP`."""

    queue_host: str | None = None
    upload: Literal["data_uri", "storage"] = "data_uri"
    moderation_types: tuple[str, ...] = MODERATION_TYPES  # error_type values that mean a safety refusal


class FalGenerator(model_inputs.HostedModelGenerator):
    name = "fal"
    key_env = "FAL_KEY"
    default_model = DEFAULT_MODEL
    moderation_patterns = MODERATION_PATTERNS
    Options = FalOptions
    opts: FalOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model, **options)
        self._client = jobs.LazyClient(self._new_client, release=_close_sdk)

    def _new_client(self) -> Any:
        import fal_client

        return fal_client.SyncClient(key=jobs.require_key(self.key_env, "fal"))

    def _sdk(self) -> Any:
        client = self._client.get()
        host = self.opts.queue_host or os.environ.get("FAL_QUEUE_RUN_HOST") or (
            f"queue.{os.environ['FAL_RUN_HOST']}" if os.environ.get("FAL_RUN_HOST") else None)
        if host:
            point_sdk_at_queue(host)
        return client

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        import fal_client

        report = progress or (lambda fraction, message: None)
        sleep, policy = self.opts.sleep, self.opts.retry
        client = self._sdk()
        handles: list[Any] = []

        def submit() -> str:
            arguments = model_inputs.build_input(self.spec, request, file_ref=lambda p: self._file_ref(client, p))
            report(0.0, f"fal: submitting to {self.model}")
            # fal-client itself retries 408/409/429 a few times; this outer loop covers what it gives up on.
            handles.append(jobs.call_with_retries(
                lambda: client.submit(self.model, arguments), policy=policy, sleep=sleep, map_error=self._map_error,
                on_retry=lambda n, err, wait: report(0.0, f"fal: retry {n} in {wait:.1f} s")))
            return handles[0].request_id

        rid = jobs.start_or_resume(request, submit, "fal")  # a recorded request is polled and fetched, not redone
        handle = handles[0] if handles else client.get_handle(self.model, rid)
        try:
            status = jobs.poll_until(
                lambda: jobs.call_mapped(lambda: handle.status(with_logs=True), self._map_error),
                is_done=lambda s: isinstance(s, fal_client.Completed),
                interval=self.opts.poll_interval, deadline_s=self.opts.deadline_s,
                sleep=sleep, clock=self.opts.clock, retry=policy,
                progress=lambda s: report(*self._describe(s)),
                what=f"fal request {rid}",
            )
        except Exception as exc:
            if isinstance(exc, jobs.TransientGeneratorError):
                jobs.lost_sight(exc, rid)  # the queue is unwell, the request may be fine: the next take polls it
            else:
                self._cancel(handle)  # a deadline or a refused poll: stop paying for it
            raise
        if status.error:
            raise self._failure(str(status.error), status.error_type, [])
        try:
            result = jobs.call_with_retries(handle.get, policy=policy, sleep=sleep, map_error=self._map_error)
        except jobs.TransientGeneratorError as exc:
            jobs.lost_sight(exc, rid)
            raise
        url = model_inputs.video_url_from(result)
        if not url:
            raise GeneratorError(f"fal request {rid} finished without a video URL "
                                 f"(result keys: {sorted(result) if isinstance(result, dict) else type(result).__name__})")
        size = (result.get("video") or {}).get("file_size") if isinstance(result, dict) else None
        cost = result.get("cost_usd") if isinstance(result, dict) else None
        cost = float(cost) if isinstance(cost, (int, float)) else None
        report(0.9, "fal: downloading")
        with jobs.billed_job(rid, lambda: cost if cost is not None else self.estimate_cost(request.duration)):
            jobs.call_with_retries(  # finished and billed: on failure the next take fetches it again
                lambda: jobs.download(url, request.out_path, expected_bytes=size if isinstance(size, int) else None,
                                      progress=lambda f: report(0.9 + 0.1 * f, "fal: downloading")),
                policy=policy, sleep=sleep)
        report(1.0, "fal: done")
        return jobs.accept_clip(request.out_path, request, generator=self.name, model=self.model, cost_usd=cost,
                                job_id=rid,
                                metadata={"provider": "fal", "seed": result.get("seed") if isinstance(result, dict) else None})

    def _file_ref(self, client: Any, path: Path) -> str:
        import fal_client

        if self.opts.upload == "storage":
            return client.upload_file(path)
        return fal_client.encode_file(path)

    def _cancel(self, handle: Any) -> None:
        try:
            handle.cancel()
        except Exception:  # noqa: BLE001 - best effort; the deadline error matters more
            pass

    def _describe(self, status: Any) -> tuple[float, str]:
        import fal_client

        if isinstance(status, fal_client.Queued):
            return 0.05, f"fal: queued (position {status.position})"
        last = (status.logs or [{}])[-1].get("message", "") if getattr(status, "logs", None) else ""
        return 0.3, f"fal: in progress{': ' + last if last else ''}"

    def _failure(self, message: str, error_type: str | None, detail_types: list[str]) -> GeneratorError | ModerationError:
        types = set(self.opts.moderation_types)
        if error_type in types or types.intersection(detail_types) or self.is_moderation(message):
            return ModerationError(f"fal {self.model} refused the request: {message}")
        return GeneratorError(f"fal {self.model} failed: {message}")

    def _map_error(self, exc: BaseException) -> BaseException | None:
        import fal_client

        if isinstance(exc, fal_client.FalClientHTTPError):
            status = exc.status_code
            message, detail_types = _detail_text(exc.message)
            if status in (401, 403):
                return ConfigError(f"fal rejected FAL_KEY (HTTP {status}): {message}")
            if status in (400, 422) or detail_types or exc.error_type:
                failure = self._failure(message, exc.error_type, detail_types)
                if isinstance(failure, ModerationError) or not jobs.is_retryable_status(status):
                    return failure
            return jobs.error_for_status(status, message, provider="fal",
                                         retry_after=jobs.retry_after_from_headers(exc.response_headers))
        if isinstance(exc, httpx.TransportError):
            return jobs.TransientGeneratorError(f"fal: connection trouble ({type(exc).__name__})")
        return None

    def close(self) -> None:
        self._client.close()


def _close_sdk(client: Any) -> None:
    if "_client" in vars(client):
        client._client.close()  # noqa: SLF001 - the SDK caches an httpx client and has no close


def _detail_text(detail: Any) -> tuple[str, list[str]]:
    """fal's `detail` is a string, or FastAPI-style items [{loc, msg, type}]: (text, item types)."""
    if isinstance(detail, list):
        msgs = [str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail]
        types = [str(d.get("type")) for d in detail if isinstance(d, dict) and d.get("type")]
        return "; ".join(msgs) or "no detail", types
    return str(detail or "no detail"), []
