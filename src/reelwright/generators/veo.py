"""Google Veo 3 / 3.1 video: the Gemini REST long-running API with an API key, or
`google-genai` in Vertex mode when a Google Cloud project is configured.

Transport: option `transport` ("rest" | "vertex"), else GOOGLE_GENAI_USE_VERTEXAI, else
Vertex when GOOGLE_CLOUD_PROJECT is set, else REST with GEMINI_API_KEY / GOOGLE_API_KEY.
Options (`VeoOptions`): `base_url` (REST, default https://generativelanguage.googleapis.com; Vertex: a
custom endpoint), `api_version` ("v1beta"), `project`, `location` (GOOGLE_CLOUD_LOCATION,
default us-central1), `credentials` (Vertex), `person_generation`, `extend_seconds` (7),
`high_res_needs_8s` (True), `references_need_8s` (True), and the shared job options (`JobOptions`;
here `poll_interval` defaults to 10 s).
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field

from ..errors import BriefError, ConfigError, GeneratorError, ModerationError
from ..timing import Frac
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .jobs import (
    accept_clip,
    billed_job,
    call_with_retries,
    download,
    error_for_status,
    file_base64,
    keep_new_tail,
    lost_sight,
    poll_until,
    require_key,
    retry_after_from_headers,
    start_or_resume,
    validate_request,
)
from .options import JobOptions
from .prices import price_date, price_per_second

DEFAULT_MODEL = "veo-3.1-generate-preview"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
# Per model: resolutions, asset references, last frame, extension. (?) where only third parties say so.
MODELS: dict[str, dict[str, Any]] = {
    "veo-3.1-generate-preview": {"resolutions": ["720p", "1080p", "2160p"], "refs": 3, "last_frame": True,
                                 "extend": True},
    "veo-3.1-fast-generate-preview": {"resolutions": ["720p", "1080p", "2160p"], "refs": 3, "last_frame": True,
                                      "extend": True},
    "veo-3.0-generate-001": {"resolutions": ["720p", "1080p"], "refs": 0, "last_frame": False, "extend": False},
    "veo-3.0-fast-generate-001": {"resolutions": ["720p", "1080p"], "refs": 0, "last_frame": False, "extend": False},
}
# Phrases Google uses when a prompt or image is refused. Not "blocked": API-key restrictions say that too.
AUTH_HINT = "Run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
# reelwright's names (brief.RESOLUTIONS) → Veo's.
API_RESOLUTIONS = {"720p": "720p", "1080p": "1080p", "2160p": "4k"}
MODERATION_WORDS = ("safety", "responsible ai", "usage guidelines", "sensitive words", "prohibited content",
                    "raimediafiltered")


def _is_moderation(text: str) -> bool:
    low = (text or "").lower()
    return any(w in low for w in MODERATION_WORDS)


def _retry_delay(error: dict[str, Any]) -> float | None:
    """google.rpc.RetryInfo.retryDelay ("30s") from an error's details, when the server sent one."""
    for detail in error.get("details") or []:
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                pass
    return None


def _api_error(resp: httpx.Response) -> Exception:
    """A Google `{error:{code,message,status}}` response as the reelwright error it means."""
    try:
        error = resp.json().get("error") or {}
    except ValueError:
        error = {}
    message = error.get("message") or resp.text[:200]
    status = error.get("status", "")
    if resp.status_code == 400 and _is_moderation(message):
        return ModerationError(f"veo refused the request: {message}")
    retry_after = retry_after_from_headers(resp.headers)
    if retry_after is None and isinstance(error, dict):
        retry_after = _retry_delay(error)
    return error_for_status(resp.status_code, f"{status} {message}".strip(), retry_after=retry_after, provider="veo",
                            key_env="GEMINI_API_KEY")


def _map_genai_error(exc: BaseException) -> BaseException | None:
    """google-genai APIError → reelwright error (Vertex transport)."""
    from google.auth import exceptions as auth_errors
    from google.genai import errors as genai_errors

    if isinstance(exc, auth_errors.GoogleAuthError):
        return ConfigError(f"veo's Vertex transport could not authenticate: {exc}. {AUTH_HINT}")
    if not isinstance(exc, genai_errors.APIError):
        return None
    message = exc.message or str(exc)
    code = int(exc.code or 0)
    if code == 400 and _is_moderation(message):
        return ModerationError(f"veo refused the request: {message}")
    headers = getattr(getattr(exc, "response", None), "headers", None)
    details = exc.details.get("error", {}) if isinstance(exc.details, dict) else {}
    retry_after = retry_after_from_headers(headers) if headers else None
    if retry_after is None and isinstance(details, dict):
        retry_after = _retry_delay(details)
    return error_for_status(code, f"{exc.status or ''} {message}".strip(), retry_after=retry_after, provider="veo")


@dataclass
class _Poll:
    body: dict[str, Any]
    retry_after: float | None


class VeoOptions(JobOptions):
    """Options for `veo:MODEL`."""

    poll_interval: float = Field(10.0, ge=0)
    transport: Literal["rest", "vertex"] | None = None  # None: from the environment (see the module doc)
    base_url: str | None = None
    api_version: str = "v1beta"
    project: str | None = None
    location: str | None = None
    credentials: Any = None  # google.auth credentials (Vertex)
    person_generation: str | None = None  # allow_all | allow_adult | dont_allow, passed through as Google names it
    extend_seconds: Frac = Fraction(7)
    high_res_needs_8s: bool = True
    references_need_8s: bool = True
    allow_unknown_model: bool = False


class VeoGenerator(Generator):
    """Veo through the Gemini API (REST) or Vertex AI (google-genai)."""

    name = "veo"
    key_env = "GEMINI_API_KEY"
    Options = VeoOptions
    opts: VeoOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or DEFAULT_MODEL, **options)
        opts = self.opts
        if self.model not in MODELS and not opts.allow_unknown_model:
            raise BriefError(f"unknown veo model {self.model!r}; choose one of {', '.join(MODELS)}")
        self.transport = opts.transport or self._default_transport()
        self.base_url = opts.base_url
        self.api_version = opts.api_version
        self.poll_interval = opts.poll_interval
        self.deadline_s = opts.deadline_s
        self.retry = opts.retry
        self.sleep = opts.sleep
        self.person_generation = opts.person_generation
        self.extend_seconds = opts.extend_seconds
        self.high_res_needs_8s = opts.high_res_needs_8s
        self.references_need_8s = opts.references_need_8s
        self._http: httpx.Client | None = None
        self._genai = None
        self.limiter = opts.make_limiter()
        self._lock = threading.Lock()

    @staticmethod
    def _default_transport() -> str:
        flag = os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").strip().lower()
        if flag in ("1", "true", "yes"):
            return "vertex"
        if flag in ("0", "false", "no"):
            return "rest"
        return "vertex" if os.environ.get("GOOGLE_CLOUD_PROJECT", "").strip() else "rest"

    def _limit(self) -> None:
        if self.limiter is not None:
            self.limiter.acquire()

    def capabilities(self) -> Capabilities:
        spec = MODELS.get(self.model, MODELS[DEFAULT_MODEL])
        vertex = self.transport == "vertex"
        return Capabilities(
            name=self.name, model=self.model, models=list(MODELS), durations=[Fraction(4), Fraction(6), Fraction(8)],
            aspects=["16:9", "9:16"], resolutions=spec["resolutions"], fps=[Fraction(24)],
            max_references=spec["refs"], text_to_video=True, image_to_video=True, last_frame=spec["last_frame"],
            extend=spec["extend"], reference_images=spec["refs"] > 0, audio=True,
            extend_durations=[self.extend_seconds] if spec["extend"] else [],
            reference_durations=[Fraction(8)] if spec["refs"] > 0 and self.references_need_8s else [],
            price_per_second=price_per_second(self.name, self.model, "720p"), price_date=price_date(),
            concurrency=self.opts.concurrency,
            notes=("asset references need 8 s clips; last frame needs a first image; "
                   + ("extension takes a local video (Vertex)" if vertex else
                      "extension continues a Veo video by its URI (request.extend_job = a previous result's "
                      "metadata['video_uri'])")),
        )

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None
            self._genai = None

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        self.check(request)
        report = progress or (lambda f, m: None)
        if self.transport == "vertex":
            return self._generate_vertex(request, report)
        return self._generate_rest(request, report)

    def check(self, request: ClipRequest) -> None:
        """Refuse what Veo cannot make, before money is spent."""
        caps = self.capabilities()
        extending = request.extend_from is not None or request.extend_job is not None
        if extending:
            if not caps.extend:
                raise BriefError(f"veo model {self.model!r} cannot extend a video")
            if request.extend_from is not None and self.transport == "rest" and request.extend_job is None:
                raise BriefError("veo over the Gemini API extends only Veo-made videos: pass the previous "
                                 "result's metadata['video_uri'] as extend_job (or use the Vertex transport)")
            if Fraction(request.duration) not in caps.extend_durations:
                raise BriefError(f"veo extensions add {self.extend_seconds} s, asked for {request.duration} s")
            validate_request(caps.model_copy(update={"durations": caps.extend_durations}), request)
        else:
            validate_request(caps, request)
        if request.last_image is not None and request.image is None:
            raise BriefError("veo takes a last frame only together with a first-frame image")
        if request.last_image is not None and not caps.last_frame:
            raise BriefError(f"veo model {self.model!r} does not take a last frame")
        if request.references and self.references_need_8s and request.duration != 8:
            raise BriefError(f"veo clips with reference images must be 8 s, asked for {request.duration} s")
        if (request.resolution in ("1080p", "2160p") and self.high_res_needs_8s and not extending
                and request.duration != 8):
            raise BriefError(f"veo makes {request.resolution} only as 8 s clips, asked for {request.duration} s")

    def _http_client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                key = require_key(["GEMINI_API_KEY", "GOOGLE_API_KEY"], "Google Veo (Gemini API)")
                self._http = httpx.Client(base_url=self.base_url or DEFAULT_BASE_URL, timeout=120.0,
                                          headers={"x-goog-api-key": key}, follow_redirects=True)
            return self._http

    def rest_body(self, request: ClipRequest) -> dict[str, Any]:
        """The `predictLongRunning` body for a request (public so it can be inspected)."""
        instance: dict[str, Any] = {"prompt": request.prompt}
        if request.image is not None:
            instance["image"] = _inline_image(request.image)
        if request.last_image is not None:
            instance["lastFrame"] = _inline_image(request.last_image)
        if request.references:
            instance["referenceImages"] = [{"image": _inline_image(r.path), "referenceType": "asset"}
                                           for r in request.references]
        if request.extend_job is not None:
            instance["video"] = {"uri": request.extend_job}
        parameters: dict[str, Any] = {"aspectRatio": request.aspect,
                                      "resolution": API_RESOLUTIONS.get(request.resolution, request.resolution)}
        if request.extend_job is None:
            parameters["durationSeconds"] = int(request.duration)
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        if self.person_generation:
            parameters["personGeneration"] = self.person_generation
        return {"instances": [instance], "parameters": parameters}

    def _generate_rest(self, request: ClipRequest, report: ProgressFn) -> ClipResult:
        http = self._http_client()
        path = f"/{self.api_version}/models/{self.model}:predictLongRunning"
        body = self.rest_body(request)

        def submit() -> dict[str, Any]:
            self._limit()
            resp = http.post(path, json=body)
            if resp.status_code >= 400:
                raise _api_error(resp)
            return resp.json()

        submitted: dict[str, Any] = {}

        def start() -> str:
            submitted.update(call_with_retries(submit, policy=self.retry, sleep=self.sleep))
            return submitted.get("name") or ""

        name = start_or_resume(request, start, "veo")  # a recorded operation is polled, never submitted again
        op = submitted or {"name": name}
        report(0.05, f"veo operation {name.rsplit('/', 1)[-1]} {'resumed' if request.resume_job else 'submitted'}")

        def fetch() -> _Poll:
            self._limit()
            resp = http.get(f"/{self.api_version}/{name}")
            if resp.status_code >= 400:
                raise _api_error(resp)
            return _Poll(resp.json(), retry_after_from_headers(resp.headers))

        polls = [0]

        def on_pending(state: _Poll) -> None:
            polls[0] += 1
            report(min(0.85, 0.05 + 0.05 * polls[0]), f"veo operation: generating (poll {polls[0]})")

        try:  # no cancel in the Gemini API: an operation lost from sight is polled again by the next take
            final = op if op.get("done") else poll_until(
                fetch, is_done=lambda s: bool(s.body.get("done")), interval=self.poll_interval,
                deadline_s=self.deadline_s, sleep=self.sleep, clock=self.opts.clock, progress=on_pending,
                hint=lambda s: s.retry_after, retry=self.retry, what=f"veo operation {name}").body
        except GeneratorError as exc:
            lost_sight(exc, name)
            raise
        self._raise_operation_error(final.get("error"), name)
        result = (final.get("response") or {}).get("generateVideoResponse") or {}
        samples = result.get("generatedSamples") or []
        self._raise_if_filtered(result, samples, name)
        video = samples[0].get("video") or {}
        report(0.9, "downloading")
        meta: dict[str, Any] = {"transport": "rest", "operation": name}
        if video.get("uri"):
            uri = video["uri"]
            with billed_job(name, lambda: self.estimate_cost(request.duration)):  # finished: fetch it again
                call_with_retries(lambda: download(uri, request.out_path, headers=self._download_headers(uri)),
                                  policy=self.retry, sleep=self.sleep)
            meta["video_uri"] = uri
        elif video.get("encodedVideo"):
            _write_bytes(request.out_path, base64.b64decode(video["encodedVideo"]))
        else:
            raise GeneratorError(f"veo operation {name} finished without a video")
        return self._finish(request, name, meta, report)

    def _download_headers(self, uri: str) -> dict[str, str]:
        # The key goes only to the API's own host, never to wherever a URI might point.
        api_host = httpx.URL(self.base_url or DEFAULT_BASE_URL).host
        if httpx.URL(uri).host == api_host and self._http is not None:
            return {"x-goog-api-key": self._http.headers["x-goog-api-key"]}
        return {}

    @staticmethod
    def _raise_operation_error(error: dict[str, Any] | None, name: str) -> None:
        if not error:
            return
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        if _is_moderation(message):
            raise ModerationError(f"veo operation {name} was refused: {message}")
        raise GeneratorError(f"veo operation {name} failed: {message or error}")

    @staticmethod
    def _raise_if_filtered(result: dict[str, Any], samples: list, name: str) -> None:
        filtered = int(result.get("raiMediaFilteredCount") or result.get("rai_media_filtered_count") or 0)
        reasons = result.get("raiMediaFilteredReasons") or result.get("rai_media_filtered_reasons") or []
        if not samples:
            if filtered or reasons:
                raise ModerationError(f"veo operation {name}: output filtered by responsible-AI checks: "
                                      + "; ".join(reasons or ["no reason given"]))
            raise GeneratorError(f"veo operation {name} finished without a video")

    def _finish(self, request: ClipRequest, job_id: str, meta: dict[str, Any], report: ProgressFn) -> ClipResult:
        if request.extend_from is not None or request.extend_job is not None:
            keep_new_tail(request, meta)
        result = accept_clip(request.out_path, request, generator=self.name, model=self.model, job_id=job_id,
                             metadata=meta)
        report(1.0, "done")
        return result

    def genai_client(self):
        """google-genai Client in Vertex mode (project/location from options or the environment)."""
        with self._lock:
            if self._genai is None:
                from google import genai
                from google.genai import types

                project = self.opts.project or os.environ.get("GOOGLE_CLOUD_PROJECT", "").strip()
                if not project:
                    raise ConfigError("veo's Vertex transport needs a project: set GOOGLE_CLOUD_PROJECT")
                location = self.opts.location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
                # Our own retry loop honours Retry-After and the injected sleep; the SDK's would not.
                http_options = types.HttpOptions(base_url=self.base_url,
                                                 retry_options=types.HttpRetryOptions(attempts=1))
                try:
                    self._genai = genai.Client(vertexai=True, project=project, location=location,
                                               credentials=self.opts.credentials, http_options=http_options)
                except Exception as exc:  # google.auth raises several unrelated types for missing credentials
                    raise ConfigError(f"veo's Vertex transport could not authenticate: {exc}. {AUTH_HINT}") from exc
            return self._genai

    def vertex_call(self, request: ClipRequest) -> dict[str, Any]:
        """The arguments for `client.models.generate_videos` (public so request building can be tested)."""
        from google.genai import types

        source = types.GenerateVideosSource(prompt=request.prompt)
        if request.image is not None:
            source.image = _genai_image(request.image)
        if request.extend_from is not None:
            source.video = types.Video(video_bytes=Path(request.extend_from).read_bytes(), mime_type="video/mp4")
        elif request.extend_job is not None:
            source.video = types.Video(uri=request.extend_job)
        config = types.GenerateVideosConfig(
            number_of_videos=1, aspect_ratio=request.aspect,
            resolution=API_RESOLUTIONS.get(request.resolution, request.resolution),
            generate_audio=request.audio, seed=request.seed,
            duration_seconds=None if (request.extend_from or request.extend_job) else int(request.duration),
            negative_prompt=request.negative_prompt or None, person_generation=self.person_generation,
            last_frame=_genai_image(request.last_image) if request.last_image is not None else None,
            reference_images=[types.VideoGenerationReferenceImage(image=_genai_image(r.path), reference_type="asset")
                              for r in request.references] or None,
        )
        return {"model": self.model, "source": source, "config": config}

    def _generate_vertex(self, request: ClipRequest, report: ProgressFn) -> ClipResult:
        client = self.genai_client()
        call = self.vertex_call(request)
        def submit():
            self._limit()
            return client.models.generate_videos(**call)

        from google.genai import types

        ops: list[Any] = []

        def start() -> str:
            ops.append(call_with_retries(submit, policy=self.retry, sleep=self.sleep, map_error=_map_genai_error))
            return ops[0].name or ""

        name = start_or_resume(request, start, "veo")  # a recorded operation is polled, never submitted again
        op = ops[0] if ops else types.GenerateVideosOperation(name=name)
        report(0.05, f"veo operation {name.rsplit('/', 1)[-1]} {'resumed' if request.resume_job else 'submitted'}")

        def get():
            self._limit()
            return client.operations.get(op)

        def fetch():
            return call_with_retries(get, policy=self.retry, sleep=self.sleep, map_error=_map_genai_error)

        try:
            final = op if op.done else poll_until(fetch, is_done=lambda o: bool(o.done), interval=self.poll_interval,
                                                  deadline_s=self.deadline_s, sleep=self.sleep, clock=self.opts.clock,
                                                  progress=lambda o: report(0.5, "veo operation: generating"),
                                                  what=f"veo operation {name}")
        except GeneratorError as exc:
            lost_sight(exc, name)
            raise
        self._raise_operation_error(final.error, name)
        response = final.response or final.result
        samples = list(response.generated_videos or []) if response is not None else []
        self._raise_if_filtered({"rai_media_filtered_count": getattr(response, "rai_media_filtered_count", 0),
                                 "rai_media_filtered_reasons": getattr(response, "rai_media_filtered_reasons", None)},
                                samples, name)
        video = samples[0].video
        meta: dict[str, Any] = {"transport": "vertex", "operation": name}
        if video is not None and video.video_bytes:
            _write_bytes(request.out_path, video.video_bytes)
        elif video is not None and video.uri:
            raise GeneratorError(f"veo operation {name} stored its video at {video.uri}; reelwright fetches inline "
                                 "bytes only (leave output_gcs_uri unset)")
        else:
            raise GeneratorError(f"veo operation {name} finished without a video")
        return self._finish(request, name, meta, report)


def _inline_image(path: Path) -> dict[str, str]:
    mime, data = file_base64(path)
    return {"bytesBase64Encoded": data, "mimeType": mime}


def _genai_image(path: Path):
    from google.genai import types

    mime, data = file_base64(path)
    return types.Image(image_bytes=base64.b64decode(data), mime_type=mime)


def _write_bytes(dest: Path, data: bytes) -> None:
    """Write inline video bytes whole: temp name, then rename."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_bytes(data)
    tmp.replace(dest)
