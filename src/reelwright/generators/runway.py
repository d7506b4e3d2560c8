"""Runway video through the official `runwayml` SDK: image_to_video / text_to_video tasks,
polled with `tasks.retrieve`, the first output URL downloaded and probed.

Options (`RunwayOptions`): `base_url` (default the SDK's, or RUNWAYML_BASE_URL), `usd_per_credit` (0.01),
`prompt_limit` (1000 UTF-16 code units), `cancel_on_timeout` (True), and the shared job options
(`JobOptions`; here `poll_interval` defaults to 5 s).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pydantic import Field

from ..errors import BriefError, ExpiredResultError, GeneratorError, ModerationError, TransientGeneratorError
from .base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .jobs import (
    LazyClient,
    accept_clip,
    call_with_retries,
    data_uri,
    download,
    error_for_status,
    poll_until,
    require_key,
    retry_after_from_headers,
    validate_request,
)
from .options import JobOptions
from .prices import price_date, price_per_second

DEFAULT_MODEL = "gen4_turbo"
_GEN4_RATIOS = {"16:9": "1280:720", "9:16": "720:1280", "4:3": "1104:832", "3:4": "832:1104", "1:1": "960:960",
                "21:9": "1584:672"}
_VEO_RATIOS = {("16:9", "720p"): "1280:720", ("9:16", "720p"): "720:1280", ("16:9", "1080p"): "1920:1080",
               ("9:16", "1080p"): "1080:1920"}
# What each model takes, from the SDK's request types (runwayml 5.24).
MODELS: dict[str, dict[str, Any]] = {
    "gen4_turbo": {"durations": [5, 10], "text": False, "aspects": list(_GEN4_RATIOS), "text_aspects": [],
                   "resolutions": ["720p"], "audio": False, "last_frame": False, "negative": False},
    "gen4.5": {"durations": list(range(2, 11)), "text": True, "aspects": list(_GEN4_RATIOS),
               "text_aspects": ["16:9", "9:16"], "resolutions": ["720p"], "audio": False, "last_frame": False,
               "negative": False},
    "veo3.1": {"durations": [4, 6, 8], "text": True, "aspects": ["16:9", "9:16"], "text_aspects": ["16:9", "9:16"],
               "resolutions": ["720p", "1080p"], "audio": True, "last_frame": True, "negative": True},
    "veo3.1_fast": {"durations": [4, 6, 8], "text": True, "aspects": ["16:9", "9:16"],
                    "text_aspects": ["16:9", "9:16"], "resolutions": ["720p", "1080p"], "audio": True,
                    "last_frame": True, "negative": True},
}
DONE_STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED")


def truncate_prompt(text: str, limit: int = 1000) -> tuple[str, bool]:
    """`text` cut to `limit` UTF-16 code units at a word boundary; (text, whether it was cut)."""
    if len(text.encode("utf-16-le")) // 2 <= limit:
        return text, False
    cut, used = [], 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > limit:
            break
        cut.append(ch)
        used += width
    head = "".join(cut)
    space = head.rfind(" ")
    if space > limit // 2:  # a very long "word" is cut mid-word rather than losing half the prompt
        head = head[:space]
    return head.rstrip(" ,;:-"), True


def _map_runway_error(exc: BaseException) -> BaseException | None:
    import runwayml

    if isinstance(exc, runwayml.APIConnectionError):
        return TransientGeneratorError(f"runway: connection trouble: {type(exc).__name__}")
    if not isinstance(exc, runwayml.APIStatusError):
        return None
    body = exc.body if isinstance(exc.body, dict) else {}
    message = str(body.get("error") or body.get("message") or exc.message)
    if exc.status_code == 400 and any(w in message.lower() for w in ("safety", "moderation", "content policy")):
        return ModerationError(f"runway refused the request: {message}")
    return error_for_status(exc.status_code, message, retry_after=retry_after_from_headers(exc.response.headers),
                            provider="runway", key_env="RUNWAYML_API_SECRET")


class RunwayOptions(JobOptions):
    """Options for `runway:MODEL`."""

    poll_interval: float = Field(5.0, ge=0)
    base_url: str | None = None
    usd_per_credit: float = Field(0.01, ge=0)
    prompt_limit: int = Field(1000, ge=1)  # UTF-16 code units (promptText ≤ 1000 in the API)
    cancel_on_timeout: bool = True


class RunwayGenerator(Generator):
    """Runway Gen-4 / Gen-4.5 / Veo 3.1 through Runway's API."""

    name = "runway"
    key_env = "RUNWAYML_API_SECRET"
    Options = RunwayOptions
    opts: RunwayOptions

    def __init__(self, model: str | None = None, **options: Any):
        super().__init__(model or DEFAULT_MODEL, **options)
        if self.model not in MODELS:
            raise BriefError(f"unknown runway model {self.model!r}; choose one of {', '.join(MODELS)}")
        opts = self.opts
        self.base_url = opts.base_url
        self.poll_interval = opts.poll_interval
        self.deadline_s = opts.deadline_s
        self.retry = opts.retry
        self.sleep = opts.sleep
        self.usd_per_credit = opts.usd_per_credit
        self.prompt_limit = opts.prompt_limit
        self.cancel_on_timeout = opts.cancel_on_timeout
        self._client = LazyClient(self._new_client)
        self.limiter = opts.make_limiter()

    def _limit(self) -> None:
        if self.limiter is not None:
            self.limiter.acquire()

    def capabilities(self) -> Capabilities:
        spec = MODELS[self.model]
        text_note = ("text-to-video in " + ", ".join(spec["text_aspects"])) if spec["text"] else \
            "needs a first-frame image"
        return Capabilities(
            name=self.name, model=self.model, models=list(MODELS), durations=[Fraction(d) for d in spec["durations"]],
            aspects=spec["aspects"], resolutions=spec["resolutions"], max_references=0,
            text_to_video=spec["text"], image_to_video=True, last_frame=spec["last_frame"], audio=spec["audio"],
            price_per_second=price_per_second(self.name, self.model, spec["resolutions"][0]), price_date=price_date(),
            concurrency=self.opts.concurrency, notes=f"{text_note}; prompts over {self.prompt_limit} UTF-16 units are cut at a word",
        )

    def _new_client(self):
        key = require_key("RUNWAYML_API_SECRET", "Runway")
        import runwayml

        return runwayml.RunwayML(api_key=key, base_url=self.base_url, max_retries=0, timeout=120.0)

    def client(self):
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def check(self, request: ClipRequest) -> None:
        spec = MODELS[self.model]
        validate_request(self.capabilities(), request)
        if request.duration != int(request.duration):
            raise BriefError(f"runway durations are whole seconds, got {request.duration}")
        if request.image is None:
            if not spec["text"]:
                raise BriefError(f"runway {self.model} makes video only from an image: give the shot a first frame "
                                 "or choose gen4.5 / veo3.1")
            if request.aspect not in spec["text_aspects"]:
                raise BriefError(f"runway {self.model} text-to-video supports {', '.join(spec['text_aspects'])}, "
                                 f"not {request.aspect!r}")
        if request.last_image is not None and not spec["last_frame"]:
            raise BriefError(f"runway {self.model} does not take a last frame")
        if request.extend_from is not None or request.references:
            raise BriefError(f"runway {self.model} takes neither a video to extend nor reference images here")

    def ratio(self, request: ClipRequest) -> str:
        if self.model.startswith("veo"):
            return _VEO_RATIOS[(request.aspect, request.resolution)]
        return _GEN4_RATIOS[request.aspect]

    def create_args(self, request: ClipRequest, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(endpoint, keyword arguments for the SDK's create) — the SDK turns them into camelCase JSON."""
        spec = MODELS[self.model]
        prompt, cut = truncate_prompt(request.prompt, self.prompt_limit)
        if cut:
            meta.update(prompt_truncated=True, prompt_original_chars=len(request.prompt), prompt_sent_chars=len(prompt))
        args: dict[str, Any] = {"model": self.model, "prompt_text": prompt, "ratio": self.ratio(request),
                                "duration": int(request.duration), "seed": int(request.seed) % 4294967296}
        if spec["audio"]:
            args["audio"] = request.audio
        if spec["negative"] and request.negative_prompt:
            args["negative_prompt"] = request.negative_prompt
        if request.image is None:
            return "text_to_video", args
        if request.last_image is not None:
            args["prompt_image"] = [{"uri": data_uri(request.image), "position": "first"},
                                    {"uri": data_uri(request.last_image), "position": "last"}]
        else:
            args["prompt_image"] = data_uri(request.image)
        return "image_to_video", args

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        self.check(request)
        report = progress or (lambda f, m: None)
        client = self.client()
        meta: dict[str, Any] = {}
        endpoint, args = self.create_args(request, meta)
        meta["endpoint"] = endpoint
        def create():
            self._limit()
            return getattr(client, endpoint).create(**args)

        if request.resume_job:  # submitted before (this process or a killed one): never pay twice
            task_id = request.resume_job
        else:
            task_id = call_with_retries(create, policy=self.retry, sleep=self.sleep, map_error=_map_runway_error).id
            if request.on_submitted is not None:
                request.on_submitted(task_id)
        report(0.05, f"runway task {task_id} {'resumed' if request.resume_job else 'submitted'}")
        try:
            task = self._wait(client, task_id, report)
        except GeneratorError as exc:  # lost sight of the task: worth polling again, unless we cancelled it
            if not ("timed out" in str(exc) and self.cancel_on_timeout):
                exc.job_id = task_id
            raise
        if task.status != "SUCCEEDED":
            self._raise_failure(task)
        credits = getattr(getattr(task, "cost", None), "credits", None)
        cost = credits * self.usd_per_credit if credits is not None else None
        report(0.9, "downloading")
        try:
            self._download(client, task, request)
        except GeneratorError as exc:  # finished and billed: the take loop fetches this task again
            exc.job_id = task_id
            exc.billed_usd = cost if cost is not None else self.estimate_cost(request.duration)
            raise
        meta["credits"] = credits
        result = accept_clip(request.out_path, request, generator=self.name, model=self.model, cost_usd=cost,
                             job_id=task_id, metadata=meta)
        report(1.0, "done")
        return result

    def _retrieve(self, client, task_id: str):
        def get():
            self._limit()
            return client.tasks.retrieve(task_id)

        return call_with_retries(get, policy=self.retry, sleep=self.sleep, map_error=_map_runway_error)

    def _wait(self, client, task_id: str, report: ProgressFn):
        def on_pending(task) -> None:
            pct = float(getattr(task, "progress", 0) or 0)
            report(0.05 + 0.8 * min(pct, 1.0), f"runway task {task_id}: {task.status.lower()}")

        try:
            return poll_until(lambda: self._retrieve(client, task_id), is_done=lambda t: t.status in DONE_STATUSES,
                              interval=self.poll_interval, deadline_s=self.deadline_s, sleep=self.sleep,
                              clock=self.opts.clock, progress=on_pending, what=f"runway task {task_id}")
        except GeneratorError as exc:
            if "timed out" in str(exc) and self.cancel_on_timeout:
                try:  # stop paying for a task nobody will collect
                    client.tasks.delete(task_id)
                except Exception:  # noqa: BLE001 - the timeout is the error to report
                    pass
            raise

    @staticmethod
    def _raise_failure(task) -> None:
        code = getattr(task, "failure_code", None) or ""
        reason = getattr(task, "failure", "") or task.status.lower()
        if code.upper().startswith("SAFETY"):
            raise ModerationError(f"runway task {task.id} refused [{code}]: {reason}")
        if code.upper().startswith("INTERNAL") or code.upper().startswith("THROTTLED"):
            raise TransientGeneratorError(f"runway task {task.id} failed [{code}]: {reason}")
        raise GeneratorError(f"runway task {task.id} {task.status.lower()} [{code or 'no code'}]: {reason}")

    def _download(self, client, task, request: ClipRequest) -> None:
        """Fetch output[0]; an expired URL is renewed once by fetching the task again."""
        for attempt in (1, 2):
            if not task.output:
                raise GeneratorError(f"runway task {task.id} succeeded without output")
            url = task.output[0]
            try:
                call_with_retries(lambda: download(url, request.out_path), policy=self.retry, sleep=self.sleep)
                return
            except ExpiredResultError as exc:
                if attempt == 2 or "truncated" in str(exc):
                    raise
                task = self._retrieve(client, task.id)
