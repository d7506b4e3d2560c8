"""Where clips are made: `local` (the Director's thread pool in this process, bounded per backend) or `ray`
(generator workers on a Ray cluster, limits held cluster-wide). See docs/SCALE.md."""

from __future__ import annotations

import contextlib

from ..errors import BriefError

EXECUTORS = ("local", "ray")


def check_executor(name: str | None) -> str:
    """The executor's name, checked; BriefError quoting the value otherwise."""
    value = (name or "local").strip().lower()
    if value not in EXECUTORS:
        raise BriefError(f"unknown executor {name!r}: use one of {', '.join(EXECUTORS)}")
    return value


def wrap_generator(generator, executor: str | None, *, workers: int | None = None, address: str | None = None,
                   num_cpus: int | None = None):
    """`generator` itself for the local pool; for `ray`, a stand-in whose clips are made by Ray workers.

    Local models (diffusers) get one worker per GPU on the cluster, each holding one GPU, so a model is
    loaded once per device; remote APIs get `workers` (default: the backend's own concurrency)."""
    if check_executor(executor) == "local":
        return generator
    from .ray_cluster import connect
    from .ray_generator import RayGenerator

    caps = generator.capabilities()
    gpus_per_worker = 0.0
    if caps.local and workers is None:
        ray = connect(address, num_cpus=num_cpus)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus:
            workers, gpus_per_worker = gpus, 1.0
    workers = workers or caps.concurrency
    # A local model's workers are its limit (each holds its own copy); a remote API keeps the provider's.
    limit = workers if caps.local else caps.concurrency
    # A worker for a remote API spends its time waiting on the network: a quarter of a CPU each.
    cpus = 1.0 if caps.local else 0.25
    return RayGenerator(generator, workers=workers, limit=limit, gpus_per_worker=gpus_per_worker,
                        cpus_per_worker=0.0 if gpus_per_worker else cpus, address=address, num_cpus=num_cpus)


def make_generator(spec: str, options: dict | None = None, executor: str | None = None, **ray_kwargs):
    """The backend `spec` made with `options`, wrapped for `executor` (see `wrap_generator`)."""
    from ..generators.registry import get_generator

    return wrap_generator(get_generator(spec, **(options or {})), executor, **ray_kwargs)


@contextlib.contextmanager
def released(generator):
    """Ray workers are let go when the run ends or stops (Ctrl-C, a cancelled job's SIGTERM): clips in flight
    are cancelled, not left running and billing. Local backends keep their clients (and the pipeline cache)."""
    from .ray_generator import RayGenerator  # imports no Ray itself

    try:
        yield generator
    finally:
        if isinstance(generator, RayGenerator):
            generator.close()
