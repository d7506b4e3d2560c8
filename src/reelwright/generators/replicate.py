"""Replicate backend: any hosted video model (`replicate:OWNER/NAME`) through the official
`replicate` SDK — create a model prediction, poll it, download its output.

Inputs per model come from `model_inputs.py` (override with `inputs={...}`). Options
(`ReplicateOptions`): `base_url` (else REPLICATE_BASE_URL, else api.replicate.com, as the SDK does), `wait`
(seconds to hold the create request open with `Prefer: wait`; default off, poll instead),
`file_encoding` ("auto": data URIs up to 256 KiB, else the Files API | "base64" | "url"),
`moderation_patterns`, `inputs`, and the shared job options (`JobOptions`).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field

from ..errors import ConfigError, GeneratorError, ModerationError
from . import jobs, model_inputs
from .base import ClipRequest, ClipResult, ProgressFn

DEFAULT_MODEL = "wan-video/wan-2.2-t2v-fast"
INLINE_LIMIT = 256 * 1024  # Replicate suggests data URIs only for small files
# Replicate's own wording for blocked inputs/outputs ("flagged as sensitive … (E005)") and
# what hosted models say when their safety checker fires.
MODERATION_PATTERNS = ("flagged as sensitive", "(e005)", "nsfw", "content policy", "safety filter",
                       "safety checker", "moderation")
TERMINAL = ("succeeded", "failed", "canceled")


class ReplicateOptions(model_inputs.HostedOptions):
    """Options for `replicate:OWNER/NAME`."""

    base_url: str | None = None
    wait: int | None = Field(None, ge=1, le=60)  # Prefer: wait=N (the API holds a request 1–60 s)
    file_encoding: Literal["auto", "base64", "url"] = "auto"


class ReplicateGenerator(model_inputs.HostedModelGenerator):
    name = "replicate"
    key_env = "REPLICATE_API_TOKEN"
    default_model = DEFAULT_MODEL
    moderation_patterns = MODERATION_PATTERNS
    Options = ReplicateOptions
    opts: ReplicateOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model, **options)
        self._client = jobs.LazyClient(self._new_client, release=_close_sdk)
        self._retry_after = threading.local()

    def _new_client(self) -> Any:
        import replicate

        token = jobs.require_key(self.key_env, "Replicate")
        # The SDK drops response headers when it raises; keep Retry-After per thread.
        return replicate.Client(api_token=token, base_url=self.opts.base_url,
                                event_hooks={"response": [self._remember_retry_after]})

    def _remember_retry_after(self, response: httpx.Response) -> None:
        self._retry_after.value = jobs.retry_after_from_headers(response.headers)

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        report = progress or (lambda fraction, message: None)
        sleep, policy = self.opts.sleep, self.opts.retry
        client = self._client.get()
        inputs = model_inputs.build_input(self.spec, request, file_ref=self._file_ref)
        report(0.0, f"replicate: starting {self.model}")
        params: dict[str, Any] = {"file_encoding_strategy": "url"}
        if self.opts.wait:
            params["wait"] = self.opts.wait
        created: list[Any] = []

        def submit() -> str:  # models.predictions.create, not predictions.create: the latter drops `wait` in 1.0.x
            created.append(jobs.call_with_retries(
                lambda: client.models.predictions.create(model=self.model, input=inputs, **params),
                policy=policy, sleep=sleep, map_error=self._map_error,
                on_retry=lambda n, err, wait: report(0.0, f"replicate: retry {n} in {wait:.1f} s ({err})")))
            return created[0].id

        pid = jobs.start_or_resume(request, submit, "replicate")  # a recorded prediction is polled, not redone
        prediction = created[0] if created else None
        try:
            if prediction is None or prediction.status not in TERMINAL:
                prediction = jobs.poll_until(
                    lambda: jobs.call_mapped(lambda: client.predictions.get(pid), self._map_error),
                    is_done=lambda p: p.status in TERMINAL,
                    interval=self.opts.poll_interval, deadline_s=self.opts.deadline_s,
                    sleep=sleep, clock=self.opts.clock, retry=policy,
                    progress=lambda p: report(self._fraction(p), f"replicate: {p.status}"),
                    what=f"replicate prediction {pid}")
        except Exception as exc:
            if isinstance(exc, jobs.TransientGeneratorError):
                jobs.lost_sight(exc, pid)  # the service is unwell, the prediction may be fine: poll it next take
            else:
                self._cancel(client, pid)  # a deadline or a refused poll: stop paying for it
            raise
        return self._finish(prediction, request, report, policy, sleep)

    def _finish(self, prediction: Any, request: ClipRequest, report: ProgressFn, policy: jobs.RetryPolicy,
                sleep: Callable[[float], None]) -> ClipResult:
        if prediction.status == "canceled":
            raise GeneratorError(f"replicate prediction {prediction.id} was canceled")
        if prediction.status == "failed":
            message = str(prediction.error or "no error given")
            if self.is_moderation(message):
                raise ModerationError(f"replicate {self.model} refused the request: {message}")
            raise GeneratorError(f"replicate prediction {prediction.id} failed: {message}")
        url = model_inputs.video_url_from(prediction.output)
        if not url:
            raise GeneratorError(f"replicate prediction {prediction.id} succeeded without a video URL "
                                 f"(output: {str(prediction.output)[:200]})")
        report(0.9, "replicate: downloading")
        cost = _cost_from(prediction.metrics)
        with jobs.billed_job(prediction.id, lambda: cost if cost is not None else self.estimate_cost(request.duration)):
            jobs.call_with_retries(  # finished and billed: on failure the next take fetches it again
                lambda: _fetch_output(url, request.out_path, lambda f: report(0.9 + 0.1 * f, "replicate: downloading")),
                policy=policy, sleep=sleep)
        report(1.0, "replicate: done")
        return jobs.accept_clip(request.out_path, request, generator=self.name, model=self.model,
                                cost_usd=cost, job_id=prediction.id,
                                metadata={"provider": "replicate", "input": _loggable(prediction.input)})

    def _file_ref(self, path: Path) -> Any:
        encoding = self.opts.file_encoding
        if encoding == "base64" or (encoding == "auto" and path.stat().st_size <= INLINE_LIMIT):
            return jobs.data_uri(path)
        return path  # the SDK uploads Paths through the Files API

    def _cancel(self, client: Any, prediction_id: str) -> None:
        try:
            client.predictions.cancel(prediction_id)
        except Exception:  # noqa: BLE001 - best effort; the original error matters more
            pass

    def _map_error(self, exc: BaseException) -> BaseException | None:
        from replicate.exceptions import ReplicateError

        if isinstance(exc, ReplicateError):
            status = exc.status or 0
            message = " — ".join(x for x in (exc.title, exc.detail) if x) or "no detail"
            if status in (401, 403):
                return ConfigError(f"Replicate rejected REPLICATE_API_TOKEN (HTTP {status}): {message}")
            if self.is_moderation(message):
                return ModerationError(f"replicate {self.model} refused the request: {message}")
            retry_after = getattr(self._retry_after, "value", None) if status == 429 else None
            return jobs.error_for_status(status, message, retry_after=retry_after, provider="replicate")
        if isinstance(exc, httpx.TransportError):
            return jobs.TransientGeneratorError(f"replicate: connection trouble ({type(exc).__name__})")
        return None

    @staticmethod
    def _fraction(prediction: Any) -> float:
        if prediction.status == "starting":
            return 0.05
        parsed = prediction.progress
        return 0.1 + 0.8 * parsed.percentage if parsed is not None else 0.1

    def close(self) -> None:
        self._client.close()


def _close_sdk(client: Any) -> None:
    try:
        client._client.close()  # noqa: SLF001 - the SDK has no public close
    except Exception:  # noqa: BLE001
        pass


def _fetch_output(url: str, dest: Path, progress: Callable[[float], None]) -> None:
    """Download an output URL, or decode a `data:` URL (Replicate may inline small outputs)."""
    if url.startswith("data:"):
        header, _, payload = url.partition(",")
        if ";base64" not in header:
            raise GeneratorError("replicate returned a data URL that is not base64")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(base64.b64decode(payload))
        return
    jobs.download(url, dest, progress=progress)


def _loggable(inputs: dict[str, Any] | None) -> dict[str, Any]:
    """The inputs as sent, with inline files shortened (they can be megabytes of base64)."""
    def short(value: Any) -> Any:
        if isinstance(value, list):
            return [short(v) for v in value]
        return value[:40] + "…" if isinstance(value, str) and value.startswith("data:") else value

    return {k: short(v) for k, v in (inputs or {}).items()}


def _cost_from(metrics: dict[str, Any] | None) -> float | None:
    """A cost the response states (some deployments report one in metrics); else None."""
    for key in ("cost_usd", "cost", "total_cost"):
        value = (metrics or {}).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
