"""Clips made on a Ray cluster: `RayGenerator` stands in for a backend in this process (same name, same
capabilities, same `generate`), and each call runs on one of its `GeneratorWorker` actors.

Why actors, not one task per clip: a worker keeps its backend alive between clips — an SDK client with its
connections, or a diffusers pipeline loaded once per GPU (`gpus_per_worker=1`), not once per shot.

What crosses the cluster is values, not paths: the request's input files (first/last frame, references,
history frames, a video to extend) travel with the call, the finished clip comes back through the object
store, and this process writes it to `request.out_path`. So the run folder on the driver stays the only
source of truth and workers need no shared filesystem (see docs/SCALE.md).

Limits: every worker takes a slot from the backend's cluster-wide `BackendLimiter` around each clip, and
remote adapters take an API-call token from it when a rate is set; N workers never make more than the
backend's `concurrency` clips at once."""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from pathlib import Path
from typing import Any

from .. import errors
from ..generators.base import Capabilities, ClipRequest, ClipResult, Generator, ProgressFn
from .ray_cluster import ClusterRateLimiter, backend_limiter, connect, require_ray

_FILE_FIELDS = ("image", "last_image", "extend_from", "edit_from")
# Options that hold this process's objects (locks, clocks): they cannot travel and mean nothing remotely.
_LOCAL_ONLY = ("limiter", "sleep", "clock")


def given_options(generator: Generator) -> dict[str, Any]:
    """The options a backend was made with (those given, not its defaults), to make its twin on a worker."""
    opts = getattr(generator, "opts", None)
    if opts is not None and hasattr(opts, "model_fields_set"):
        return {name: getattr(opts, name) for name in opts.model_fields_set}
    return dict(getattr(generator, "options", {}) or {})


def pack_request(request: ClipRequest) -> dict[str, Any]:
    """The request as JSON plus the bytes of every local file it names."""
    files: dict[str, bytes] = {}

    def keep(path: Path | None) -> None:
        if path is not None:
            try:
                files.setdefault(str(path), Path(path).read_bytes())
            except OSError as exc:
                raise errors.InputFileError(f"cannot read input file {str(path)!r}: {exc.strerror}") from exc

    for name in _FILE_FIELDS:
        keep(getattr(request, name))
    for ref in request.references:
        keep(ref.path)
    for frame in request.history:
        keep(frame.path)
    return {"request": request.model_dump(mode="json"), "files": files}


def unpack_request(payload: dict[str, Any], folder: Path) -> ClipRequest:
    """The request with its files written under `folder` and its paths pointing there."""
    moved: dict[str, str] = {}
    for i, (original, data) in enumerate(payload["files"].items()):
        local = folder / f"in{i}{Path(original).suffix}"
        local.write_bytes(data)
        moved[original] = str(local)
    req = dict(payload["request"])
    for name in _FILE_FIELDS:
        if req.get(name) is not None:
            req[name] = moved[req[name]]
    req["references"] = [{**r, "path": moved[r["path"]]} for r in req.get("references", [])]
    req["history"] = [{**h, "path": moved[h["path"]]} for h in req.get("history", [])]
    req["out_path"] = str(folder / "out" / Path(req["out_path"]).name)
    return ClipRequest.model_validate(req)


def error_record(exc: BaseException) -> dict[str, Any]:
    """A reelwright error as plain data (some take extra constructor arguments, so they do not unpickle)."""
    return {"type": type(exc).__name__, "message": str(exc), "retry_after": getattr(exc, "retry_after", None)}


def raise_record(record: dict[str, Any]) -> None:
    cls = getattr(errors, record["type"], None)
    if not (isinstance(cls, type) and issubclass(cls, errors.ReelwrightError)):
        cls = errors.GeneratorError
    exc = cls.__new__(cls)
    Exception.__init__(exc, record["message"])
    if record.get("retry_after") is not None:
        exc.retry_after = record["retry_after"]
    raise exc


class GeneratorWorker:
    """One backend instance on a cluster node, serving clips one at a time (the body of the actor)."""

    def __init__(self, cls: type[Generator], model: str | None, options: dict[str, Any], limiter: Any,
                 rate_limited: bool):
        # The class travels by reference when importable (a worker imports it), by value otherwise (a script's).
        opts = dict(options)
        if rate_limited:
            opts["limiter"] = ClusterRateLimiter(limiter)
        self.generator = cls(model, **opts)
        self.limiter = limiter
        self.calls = 0

    def generate(self, payload: dict[str, Any]) -> dict[str, Any]:
        ray = require_ray()
        context = ray.get_runtime_context()
        me = context.get_actor_id()
        ray.get(self.limiter.acquire.remote(me, context.current_actor))
        try:
            with tempfile.TemporaryDirectory(prefix="reelwright-clip-") as tmp:
                folder = Path(tmp)
                (folder / "out").mkdir()
                try:
                    request = unpack_request(payload, folder)
                    result = self.generator.generate(request)
                except errors.ReelwrightError as exc:
                    return {"error": error_record(exc)}
                self.calls += 1
                where = {"executor": "ray", "ray_node_id": context.get_node_id(), "ray_worker_pid": os.getpid()}
                return {"result": result.model_dump(mode="json"), "clip": Path(result.path).read_bytes(),
                        "where": where}
        finally:
            self.limiter.release.remote(me)

    def stats(self) -> dict[str, Any]:
        """Which process serves, how many clips it made, and how many pipelines it holds (diffusers)."""
        import sys

        loaded = None
        module = sys.modules.get("reelwright.generators.diffusers")
        if module is not None:
            loaded = len(module._CACHE)  # grows by one per load, so its size counts the loads here
        return {"pid": os.getpid(), "calls": self.calls, "pipelines_loaded": loaded}

    def close(self) -> None:
        self.generator.close()


class RayGenerator(Generator):
    """A backend whose clips are made by `workers` actors on the Ray cluster.

    Capabilities are the backend's own (asked here; they load nothing), except `concurrency`: the number of
    workers, bounded by the backend's limit (`limit`, default its declared concurrency), which the
    cluster-wide limiter enforces however many jobs share the backend."""

    def __init__(self, inner: Generator, *, workers: int = 2, limit: int | None = None,
                 gpus_per_worker: float = 0.0, cpus_per_worker: float = 1.0, address: str | None = None,
                 num_cpus: int | None = None, rate_per_s: float | None = None, rate_burst: int = 1):
        if workers < 1:
            raise errors.BriefError(f"workers must be at least 1, got {workers}")
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # the backend's name: prices, prompts and reports use it
        self.key_env = inner.key_env  # type: ignore[misc]
        self.model = inner.model
        self.options = given_options(inner)
        self.opts = getattr(inner, "opts", None)  # the backend's own: the stand-in takes no options of its own
        self._caps = inner.capabilities()
        self.limit = limit or self._caps.concurrency
        self.workers = workers
        ray = connect(address, num_cpus=num_cpus)
        # A rate given to the backend itself (rate_per_s) becomes the cluster's: one bucket for all workers.
        rate_per_s = rate_per_s or getattr(self.opts, "rate_per_s", None)
        rate_burst = max(rate_burst, getattr(self.opts, "rate_burst", 1) or 1)
        self.limiter = backend_limiter(inner.name, self.limit, rate_per_s, rate_burst)
        options = {k: v for k, v in given_options(inner).items() if k not in _LOCAL_ONLY}
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)(GeneratorWorker)
        self._spawn = lambda: actor.remote(type(inner), inner.model or None, options, self.limiter,
                                           rate_per_s is not None)
        self._actors = [self._spawn() for _ in range(workers)]
        self._idle: queue.Queue = queue.Queue()
        for a in self._actors:
            self._idle.put(a)
        self._in_flight: set[Any] = set()
        self._lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return self._caps.model_copy(update={"concurrency": min(self.workers, self.limit)})

    def estimate_cost(self, seconds: Any) -> float:
        return self.inner.estimate_cost(seconds)

    def generate(self, request: ClipRequest, progress: ProgressFn | None = None) -> ClipResult:
        ray = require_ray()
        report = progress or (lambda f, m: None)
        payload = pack_request(request)
        actor = self._idle.get()
        try:
            report(0.0, "sent to a Ray worker")
            ref = actor.generate.remote(payload)
            with self._lock:
                self._in_flight.add(ref)
            try:
                answer = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                # The worker (or its node) died: a fresh one takes its place, and the clip is worth another try.
                self.limiter.forget.remote(actor._actor_id.hex())  # its slot died with it
                with self._lock:
                    self._actors = [a for a in self._actors if a is not actor]
                    actor = self._spawn()
                    self._actors.append(actor)
                raise errors.TransientGeneratorError(f"a Ray worker died making {request.shot_id}: "
                                                     f"{str(exc).splitlines()[0][:200]}") from exc
            except ray.exceptions.RayError as exc:
                # A dead worker or node is the cluster's trouble, not the request's: worth another try.
                raise errors.TransientGeneratorError(f"Ray worker failed: {type(exc).__name__}: "
                                                     f"{str(exc).splitlines()[0][:200]}") from exc
            finally:
                with self._lock:
                    self._in_flight.discard(ref)
        finally:
            self._idle.put(actor)
        if "error" in answer:
            raise_record(answer["error"])
        result = ClipResult.model_validate(answer["result"])
        out = Path(request.out_path)
        out.parent.mkdir(parents=True, exist_ok=True)
        part = out.with_name(f".{out.name}.part")
        part.write_bytes(answer["clip"])
        os.replace(part, out)
        where = answer.get("where") or {}
        # The trace says where each clip was made (the studio's proof that a job's clips came from the cluster).
        report(1.0, f"made by Ray worker pid {where.get('ray_worker_pid')} on node {where.get('ray_node_id')}")
        return result.model_copy(update={"path": out, "metadata": {**result.metadata, **where}})

    def stats(self) -> list[dict[str, Any]]:
        ray = require_ray()
        return ray.get([a.stats.remote() for a in self._actors])

    def limiter_stats(self) -> dict[str, Any]:
        return require_ray().get(self.limiter.stats.remote())

    def cancel(self) -> None:
        """Stop clips in flight (a cancelled run should not keep paying for them)."""
        ray = require_ray()
        with self._lock:
            refs = list(self._in_flight)
        for ref in refs:
            ray.cancel(ref)

    def close(self) -> None:
        ray = require_ray()
        self.cancel()
        for a in self._actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
            # A worker killed mid-clip never gives its slot back, and the limiter outlives this job: free it here.
            self.limiter.forget.remote(a._actor_id.hex())
        self._actors = []
        self.inner.close()
