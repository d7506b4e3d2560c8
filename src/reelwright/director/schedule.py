"""The schedule: which shots are made together. Shots that continue the one before form a chain made
in order; chains run concurrently on a pool bounded by the backend (and --concurrency); with a
backend that takes references, the chains holding a character's first appearance run first, so its
verified frame is that character's reference for every later shot whatever order threads finish in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..plan import Plan, Shot
from .production import Production
from .takes import ShotOutcome

Produce = Callable[[Shot, bool], ShotOutcome]


def chains(plan: Plan, shots: list[Shot]) -> list[list[Shot]]:
    """`shots` grouped so each continuing shot follows the shot it continues."""
    position = {id(s): i for i, s in enumerate(plan.shots)}
    out: list[list[Shot]] = []
    for s in shots:
        i = position[id(s)]
        if s.continues and out and i > 0 and out[-1][-1] is plan.shots[i - 1]:
            out[-1].append(s)
        else:
            out.append([s])
    return out


def phases(p: Production, groups: list[list[Shot]]) -> list[list[list[Shot]]]:
    """First appearances first (see the module doc), when the backend takes references."""
    plan = p.need_plan()
    if not p.caps.reference_images:
        return [groups]
    firsts: set[str] = set()
    seen: set[str] = set()
    for s in plan.shots:
        for ent_id in s.entities:
            ent = plan.cast.get(ent_id)
            if ent_id not in seen and ent is not None and ent.kind == "character" and not ent.references:
                firsts.add(s.id)
            seen.add(ent_id)
    lead = [c for c in groups if any(s.id in firsts for s in c)]
    rest = [c for c in groups if not any(s.id in firsts for s in c)]
    return [g for g in (lead, rest) if g]


def generate_all(p: Production, produce: Produce, shot_ids: Iterable[str] | None = None, *,
                 force: bool = False) -> list[ShotOutcome]:
    """Produce every shot (or the named ones) through the take loop, concurrently."""
    plan = p.need_plan()
    wanted = set(shot_ids) if shot_ids is not None else None
    shots = [s for s in plan.shots if wanted is None or s.id in wanted]
    p.save_state("generating")
    groups = chains(plan, shots)
    t0 = time.perf_counter()
    p.bus.emit("generate", "start", f"generating {len(shots)} clips", total=len(shots), completed=0)
    outcomes: list[ShotOutcome] = []
    with ThreadPoolExecutor(max_workers=max(1, min(p.concurrency, len(groups))), thread_name_prefix="clip") as pool:
        for phase in phases(p, groups):
            _run_phase(p, pool, phase, lambda chain: [produce(s, force) for s in chain], outcomes, len(shots))
    p.report.step("generate", t0)
    p.bus.emit("generate", "done", f"{len(shots)} clips ready", elapsed_s=time.perf_counter() - t0,
               total=len(shots), completed=len(shots))
    order = [s.id for s in plan.shots]
    return sorted(outcomes, key=lambda o: order.index(o.shot_id))


def _run_phase(p: Production, pool: ThreadPoolExecutor, groups: list[list[Shot]],
               run_chain: Callable[[list[Shot]], list[ShotOutcome]], outcomes: list[ShotOutcome], total: int) -> None:
    futures = [pool.submit(run_chain, chain) for chain in groups]
    try:
        for fut in as_completed(futures):
            for outcome in fut.result():
                outcomes.append(outcome)
                p.bus.emit("generate", "progress", f"{len(outcomes)}/{total} clips", total=total,
                           completed=len(outcomes), progress=len(outcomes) / total)
    except BaseException:
        for f in futures:
            f.cancel()
        raise
