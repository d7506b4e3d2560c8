"""Step 1 of the take loop across runs: a clip accepted in any earlier run for an identical request is
taken from the clip cache instead of being paid for again; every accepted clip is put there.

The cache key is the shot's fingerprint plus what a path cannot say across runs: the bytes of the user's
reference images and first-frame image, the clip a continuing shot picks up from, the backend's options.
`REELWRIGHT_CLIP_CACHE=off` turns it off (a person who wants a fresh take of the same request)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..runs.cache import ClipCache, cache_key, file_digest
from ..runs.store import AcceptedClip
from .job import ShotJob
from .production import Production
from .request import previous_clip


def enabled() -> bool:
    return os.environ.get("REELWRIGHT_CLIP_CACHE", "on").strip().lower() not in ("off", "0", "no", "false")


def key_for(p: Production, job: ShotJob) -> str | None:
    """The cache key of the job's clip, or None when it must not be shared (its inputs are not all there)."""
    plan = p.need_plan()
    shot = job.shot
    if job.index + 1 < job.count and p.caps.extend and plan.shots[job.index + 1].continues:
        # The next shot extends this one through the provider's handle on this generation, which a
        # clip from the cache does not have.
        return None
    inputs: dict[str, object] = {"options": getattr(p.generator, "options", None)}
    try:
        refs = sorted(file_digest(r.path) for e in plan.cast.entities if e.id in shot.entities
                      for r in e.references if r.source == "user")
        inputs["refs"] = refs
        if shot.image:
            inputs["image"] = file_digest(shot.image)
        if shot.continues:
            prev = previous_clip(p, job)
            if prev is None:
                return None
            inputs["previous"] = file_digest(prev)
    except OSError:
        return None
    return cache_key(job.fingerprint, **inputs)


def from_cache(p: Production, job: ShotJob, remember: Callable[[Production, ShotJob, Path], None]) -> Path | None:
    """Place a cached clip for the job in the run and accept it at no cost (`remember` updates the cast
    memory as for any accepted clip); None on a miss."""
    if not enabled() or (key := key_for(p, job)) is None:
        return None
    dest = p.run.clips_dir / f"{job.id}-{job.fingerprint}.mp4"
    cache = ClipCache()
    try:
        entry = cache.get(key, dest)
    except Exception as exc:  # noqa: BLE001 - a broken cache costs a generation, never the run
        p.bus.emit("generate", "warning", f"clip cache not read: {str(exc).splitlines()[0] if str(exc) else exc}",
                   shot=job.id)
        return None
    finally:
        cache.close()
    if entry is None:
        return None
    rec = AcceptedClip(shot_id=job.id, fingerprint=job.fingerprint, path=str(dest.relative_to(p.run.root)),
                       attempts=0, cost_usd=0.0, seconds_generated=entry.seconds or 0.0)
    with p.budget.lock:
        p.state.accepted[job.fingerprint] = rec
        p.run.save_state(p.state)
        remember(p, job, dest)
    p.report.shot(job.id, rec.model_dump() | {"from_cache": key})
    saved = f" (saves ${entry.cost_usd:.2f})" if entry.cost_usd else ""
    p.bus.emit("generate", "skipped", f"identical clip from the clip cache{saved}", shot=job.id,
               data={"cache": key, "saved_usd": entry.cost_usd or 0.0})
    return dest


def to_cache(p: Production, job: ShotJob, clip: Path, *, cost_usd: float, seconds: float) -> None:
    """Keep an accepted clip for later runs. A failure here never fails the run: the clip is in the run."""
    if not enabled() or (key := key_for(p, job)) is None:
        return
    cache = ClipCache()
    try:
        cache.put(key, clip, cost_usd=cost_usd, generator=p.brief.generator, model=p.generator.model, seconds=seconds)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        p.bus.emit("generate", "warning", f"clip not cached: {str(exc).splitlines()[0] if str(exc) else exc}",
                   shot=job.id)
    finally:
        cache.close()
