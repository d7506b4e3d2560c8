"""Joining a Ray cluster, and the one limiter per backend that every worker on it shares.

`connect()` joins the cluster named by `address` or `RAY_ADDRESS`, or starts a local one in-process.
`BackendLimiter` is a named, detached async actor (`reelwright-limit-<backend>` in the `reelwright` namespace,
made once, found by every later job, outliving the job that made it): at most `concurrency` clips of that
backend in flight and at most `rate_per_s` API calls, across all workers and jobs on the cluster, not per worker.
A slot held by a worker that died without giving it back (its job's process was killed) is taken back when
someone waits for one: the limiter asks the holders, and a dead one answers with an error."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from ..errors import MissingDependencyError
from ..generators.ratelimit import RateLimiter

NAMESPACE = "reelwright"
SWEEP_S = 5.0  # a wait for a slot this long checks whether the holders are still alive


def require_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise MissingDependencyError("Ray (for --executor ray)", "pip install 'reelwright[ray]'") from exc
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Join (or start) the cluster once per process; returns the `ray` module."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"namespace": NAMESPACE, "include_dashboard": False, "log_to_driver": False}
    if address in (None, "local"):
        # "local": a cluster of our own. Without it Ray would join whatever `ray start` last left its address
        # in /tmp/ray (a stale one fails), which is not what a missing RAY_ADDRESS means.
        address = "local"
        if num_cpus is not None:
            kwargs["num_cpus"] = num_cpus  # only a cluster started here can be sized here
    ray.init(address=address, **kwargs)
    return ray


def start_local(num_cpus: int | None = None) -> str:
    """Start a Ray cluster on this machine, held by this process (it ends when the process does, even when
    killed: Ray's reaper), and return its address for other processes (the studio's job workers) to join."""
    ray = connect("local", num_cpus=num_cpus)
    return ray.get_runtime_context().gcs_address


class _BackendLimiter:
    """The body of the limiter actor (an asyncio actor: waiting callers cost no thread)."""

    def __init__(self, concurrency: int, rate_per_s: float | None = None, burst: int = 1):
        self.concurrency = max(1, int(concurrency))
        self._slots = asyncio.Semaphore(self.concurrency)
        self.rate = rate_per_s
        self.burst = max(1, int(burst))
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._token_lock = asyncio.Lock()
        self._held: dict[str, int] = {}
        self._handles: dict[str, Any] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.granted = 0

    async def acquire(self, holder: str = "", handle: Any = None, sweep_s: float = SWEEP_S) -> int:
        """Wait for a slot for `holder` (a worker's actor id, `handle` the worker itself); returns how many are
        in flight with this one. A wait longer than `sweep_s` checks the holders and frees dead ones' slots."""
        while True:
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=sweep_s)
                break
            except asyncio.TimeoutError:
                await self.sweep()
        if handle is not None:
            self._handles[holder] = handle
        self.in_flight += 1
        self.granted += 1
        self._held[holder] = self._held.get(holder, 0) + 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self.in_flight

    def release(self, holder: str = "") -> None:
        if self._held.get(holder, 0) <= 0:
            return  # already given back for a worker that died
        self._held[holder] -= 1
        self.in_flight -= 1
        self._slots.release()

    async def sweep(self) -> list[str]:
        """Free the slots of holders that are dead (a call to a dead actor fails at once; a busy live one's
        call just waits in its queue, so a timeout means alive). Returns the holders forgotten."""
        dead = []
        for holder, count in list(self._held.items()):
            handle = self._handles.get(holder)
            if count <= 0 or handle is None:
                continue
            try:
                await asyncio.wait_for(handle.stats.remote(), timeout=2.0)
            except asyncio.TimeoutError:
                continue
            except Exception:  # noqa: BLE001 - an actor that is gone: RayActorError and its kin
                dead.append(holder)
                self.forget(holder)
        return dead

    def forget(self, holder: str) -> int:
        """Give back every slot a dead worker held (it can no longer release them); returns how many."""
        self._handles.pop(holder, None)
        count = self._held.pop(holder, 0)
        for _ in range(count):
            self.in_flight -= 1
            self._slots.release()
        return count

    async def token(self) -> float:
        """Wait for an API-call token (no-op without a rate); returns the seconds waited."""
        if not self.rate:
            return 0.0
        waited = 0.0
        async with self._token_lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1 - 1e-9:
                    self._tokens -= 1
                    return waited
                wait = (1 - self._tokens) / self.rate
                await asyncio.sleep(wait)
                waited += wait

    async def try_token(self) -> bool:
        """Take a token if one is there; never waits."""
        if not self.rate:
            return True
        async with self._token_lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1 - 1e-9:
                self._tokens -= 1
                return True
            return False

    def stats(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                "granted": self.granted}


def backend_limiter(backend: str, concurrency: int, rate_per_s: float | None = None, burst: int = 1) -> Any:
    """The cluster's limiter for `backend`: made by the first job that asks, shared by every later one."""
    ray = require_ray()
    actor = ray.remote(num_cpus=0)(_BackendLimiter)
    # Detached: one job's process ending must not take the limiter from the jobs still running on it.
    return actor.options(name=f"reelwright-limit-{backend}", namespace=NAMESPACE, get_if_exists=True,
                         lifetime="detached", max_concurrency=1000).remote(concurrency, rate_per_s, burst)


class ClusterRateLimiter(RateLimiter):
    """A `RateLimiter` for adapters' `limiter=` option whose tokens come from the backend's limiter actor,
    so the provider's request rate holds across the whole cluster (no local bucket at all)."""

    def __init__(self, actor: Any):  # noqa: D107 - deliberately not the local bucket's __init__
        self.actor = actor

    def try_acquire(self) -> bool:
        return require_ray().get(self.actor.try_token.remote())

    def acquire(self) -> float:
        ray = require_ray()
        return ray.get(self.actor.token.remote())
