"""Planning with a chat model: the model drafts the storyboard through structured output, with
bounded repair; the harness turns the draft into a `Plan`, enforcing the hard facts itself."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..brief import Brief
from ..errors import BriefError, LLMError
from ..events import EventBus
from ..generators.base import Capabilities
from ..llm.base import ChatModel, Message
from ..plan import Appearance, Entity, EntityKind, Overlay, Plan, Shot
from ..timing import seconds_to_frames
from .builtin import _allowed_for, build_plan  # the same duration rules as the built-in planner
from .durations import DurationRange, allocate_durations, longest_duration
from .parse import parse_request
from .rewrite import missing_words, strip_parameter_prose
from .styles import load_style_instructions, style_for_generator, uses_negative

MAX_SHOTS = 400


class DraftEntity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="short lowercase id, e.g. 'dog'")
    name: str
    kind: EntityKind
    description: str = Field(description="what it looks like, the same words in every shot")


class DraftShot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beat: str = Field(description="the person's words for this moment")
    prompt: str = Field(description="the dense prompt for the video model")
    camera: str = Field(description="shot size and camera movement")
    setting: str
    entities: list[str] = Field(description="ids from cast that appear")
    seconds: float = Field(description="how long this shot should last, roughly")


class DraftOverlay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    start_s: float
    duration_s: float
    position: Literal["center", "top", "bottom", "lower-third"]


class LLMPlanDraft(BaseModel):
    """What the model writes. Durations here are wishes; the harness decides the frames."""

    model_config = ConfigDict(extra="forbid")
    title: str
    subject: str
    setting: str
    style: str
    cast: list[DraftEntity]
    shots: list[DraftShot]
    overlays: list[DraftOverlay]


SYSTEM_PROMPT = """You are a film director planning a short video as a storyboard of shots for a \
video generation model. Reply with one JSON object that matches the schema.
Rules:
- Keep every beat the person named, in their words and in their order; add opening or closing shots only if they help.
- Each shot is one continuous camera take of one moment. Give each shot's length in seconds; the lengths should \
add up to the video's length and each should be one the generator can make.
- The cast lists each character, object or place that must look the same across shots, described identically.
- Write each shot's prompt in the style guide below. Never write durations, resolutions, aspect ratios or frame \
rates in prompts: they are set separately.
- Overlays are only for on-screen text the person asked for.

Style guide for the prompts:
"""


def plan_with_llm(brief: Brief, capabilities: Capabilities, llm: ChatModel, *, fallback: str | None = None,
                  bus: EventBus | None = None, max_repairs: int = 2) -> Plan:
    """Plan `brief` with a chat model. Invalid drafts are sent back with their errors up to `max_repairs`
    times; then the run stops with a `BriefError`, or, with `fallback="builtin"`, continues on the
    built-in planner and says so in a warning event and the plan's notes."""
    if fallback not in (None, "builtin", "none"):
        raise BriefError(f"unknown --fallback {fallback!r}: use builtin")
    base = build_plan(brief, capabilities)  # the hard facts: length, size, cast with references, overlays
    facts = parse_request(brief.request)
    style = style_for_generator(capabilities.name, capabilities.model or brief.generator.partition(":")[2])
    allowed = _allowed_for(capabilities, style, bool(brief.references), [])
    messages = [Message(role="user", content=_request_text(brief, base, facts.beats, allowed))]
    system = SYSTEM_PROMPT + load_style_instructions(style)
    problems: list[str] = []
    for attempt in range(1 + max_repairs):
        try:
            reply = llm.complete(messages, system=system, response_format=LLMPlanDraft, purpose="plan",
                                 max_tokens=8000)
        except LLMError as exc:
            problems = [str(exc)]
            break
        draft, problems = _read_draft(reply.json_text(), facts.beats, base)
        if draft is not None and not problems:
            plan = _to_plan(draft, base, capabilities, allowed, style)
            plan.notes.append(f"planned by {llm.name} ({attempt + 1} call{'s' if attempt else ''})")
            if bus is not None:
                bus.emit("plan", "info", f"{llm.name} planned {len(draft.shots)} shots; the harness made "
                         f"{len(plan.shots)} at exact lengths", data={"repairs": attempt})
            return plan
        if bus is not None and attempt < max_repairs:
            bus.emit("plan", "retry", f"the plan from {llm.name} needs repair: {problems[0]}",
                     data={"problems": problems[:10]})
        messages += [Message(role="assistant", content=reply.text[:20_000]),
                     Message(role="user", content="That plan cannot be used:\n- " + "\n- ".join(problems[:20]) +
                             "\nReturn the whole corrected JSON object.")]
    reason = problems[0] if problems else "no valid plan"
    if fallback == "builtin":
        base.notes.append(f"{llm.name} did not produce a valid plan ({reason}); planned by the built-in planner")
        if bus is not None:
            bus.emit("plan", "warning", f"{llm.name} did not produce a valid plan ({reason}); "
                     "continuing with the built-in planner", data={"problems": problems[:10]})
        return base
    raise BriefError(f"{llm.name} did not produce a valid plan after {1 + max_repairs} tries: {reason} "
                     "(pass --fallback builtin to use the built-in planner instead)")


def _request_text(brief: Brief, base: Plan, beats: list[str], allowed) -> str:
    seconds = float(base.duration)
    longest = longest_duration(allowed)
    min_shots = max(1, math.ceil(base.duration / longest))
    if isinstance(allowed, DurationRange):
        lengths = f"{float(allowed.minimum):g} to {float(allowed.maximum):g} s in steps of {float(allowed.step):g} s"
    else:
        lengths = ", ".join(f"{float(d):g}" for d in allowed) + " s"
    lines = [f"Request: {brief.request}",
             f"Video length: exactly {seconds:g} s (at least {min_shots} shot{'s' if min_shots > 1 else ''}).",
             f"Shot lengths the generator makes: {lengths}.",
             f"Aspect {base.aspect}, mode {base.mode}."]
    if beats:
        lines.append("Beats the person named (keep each, in order): " + "; ".join(f'"{b}"' for b in beats))
    with_refs = [e for e in base.cast.entities if e.references]
    if with_refs:
        lines.append("Reference images were given for: " + ", ".join(f"{e.name} (id {e.id})" for e in with_refs)
                     + ". Use these ids in the cast.")
    if base.overlays:
        lines.append("On-screen text already placed by the harness: " + "; ".join(f'"{o.text}"' for o in base.overlays))
    return "\n".join(lines)


def _read_draft(text: str, beats: list[str], base: Plan) -> tuple[LLMPlanDraft | None, list[str]]:
    """The draft and what is wrong with it (empty when usable), in words the model can act on."""
    try:
        draft = LLMPlanDraft.model_validate_json(text)
    except ValidationError as exc:
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            return None, [f"the reply is not valid JSON: {errors[0]['msg']}"]
        return None, [f"{'.'.join(map(str, e['loc'])) or 'the object'}: {e['msg']}" for e in errors[:20]]
    problems: list[str] = []
    if not draft.shots:
        problems.append("shots: the plan has no shots")
    if len(draft.shots) > min(MAX_SHOTS, base.target_frames):
        problems.append(f"shots: {len(draft.shots)} shots are too many for {float(base.duration):g} s")
    for i, shot in enumerate(draft.shots):
        if not shot.beat.strip() or not shot.prompt.strip():
            problems.append(f"shots.{i}: beat and prompt must not be empty")
        if not math.isfinite(shot.seconds) or shot.seconds <= 0:
            problems.append(f"shots.{i}.seconds: must be a positive number, got {shot.seconds}")
    written = [f"{s.beat} {s.prompt}" for s in draft.shots]
    for beat in beats:
        if not any(not missing_words(beat, text) for text in written):
            problems.append(f'the beat "{beat}" is missing: give it a shot whose beat keeps those words')
    ids = [e.id for e in draft.cast]
    if len(set(ids)) != len(ids):
        problems.append(f"cast: ids repeat: {ids}")
    return draft, problems


def _to_plan(draft: LLMPlanDraft, base: Plan, caps: Capabilities, allowed, style: str) -> Plan:
    """The harness's half: exact frames from allowed durations (the model's seconds as weights), the
    cast merged with the references the person gave, overlays clamped to the video."""
    fps = base.fps
    weights = [Fraction(repr(max(s.seconds, 0.1))) for s in draft.shots]
    allocations = allocate_durations(base.target_frames, fps, allowed, len(draft.shots), weights=weights)
    cast, id_map = _merge_cast(draft, base)
    subject_id = id_map.get(_norm(draft.cast[0].id)) if draft.cast else None
    negative = next((s.negative_prompt for s in base.shots if s.negative_prompt), "") if uses_negative(style) else ""
    shots: list[Shot] = []
    start = 0
    for i, alloc in enumerate(allocations):
        d = draft.shots[alloc.beat]
        entity_ids = list(dict.fromkeys(id_map[_norm(e)] for e in d.entities if _norm(e) in id_map))
        shot_id = f"s{i + 1:02d}"
        has_refs = any((e := cast.get(eid)) is not None and e.references for eid in entity_ids)
        shots.append(Shot(
            id=shot_id, beat=d.beat.strip(), prompt=strip_parameter_prose(d.prompt), negative_prompt=negative,
            start_frame=start, frames=alloc.frames, gen_duration=alloc.gen_duration, entities=entity_ids,
            roles={eid: ("principal" if eid == subject_id else "supporting") for eid in entity_ids},
            camera=d.camera.strip() or "medium shot", setting=d.setting.strip() or draft.setting,
            source="reference" if has_refs and caps.reference_images and caps.max_references > 0 else "text",
            seed=base.brief.seed + i))
        start += alloc.frames
        for eid in entity_ids:
            cast.get(eid).appearances.append(Appearance(shot=shot_id))  # type: ignore[union-attr]
    total = base.duration
    overlays = list(base.overlays)
    for o in draft.overlays:
        if any(o.text.strip() == b.text for b in overlays):
            continue
        overlay = _clamp_overlay(o, total, fps)
        if overlay is not None:
            overlays.append(overlay)
    # the built-in planner's notes on its own shot layout do not describe this plan
    notes = [n for n in base.notes if not re.match(r"\d+ shots for \d+ beats|no time for the ", n)]
    asked = sum(Fraction(repr(s.seconds)) for s in draft.shots)
    if asked != total or len(allocations) != len(draft.shots):
        notes.append(f"the model's shot lengths ({float(asked):g} s in {len(draft.shots)} shots) were fitted to "
                     f"{float(total):g} s in {len(allocations)} shots the generator can make")
    gen_seconds = sum((s.gen_duration or Fraction(0) for s in shots), Fraction(0))
    return base.model_copy(update={
        "title": draft.title.strip() or base.title, "subject": draft.subject.strip() or base.subject,
        "setting": draft.setting.strip() or base.setting, "style": draft.style.strip() or base.style,
        "shots": shots, "cast": cast, "overlays": sorted(overlays, key=lambda o: o.start), "notes": notes,
        "estimated_cost_usd": round(float(gen_seconds) * caps.price_per_second, 4)})


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _merge_cast(draft: LLMPlanDraft, base: Plan):
    """The model's cast, keeping the references (and ids) of the entities the person gave images for."""
    from ..plan import Cast

    cast = Cast()
    id_map: dict[str, str] = {}
    labels = {Path(r.path): r.name for r in base.brief.references if r.name}
    given = [e for e in base.cast.entities if e.references]
    keys = {e.id: {_norm(e.id), _norm(e.name)} | {_norm(labels[Path(r.path)]) for r in e.references
                                                  if Path(r.path) in labels} for e in given}

    def match(d: DraftEntity) -> Entity | None:
        mine = {_norm(d.id), _norm(d.name)}
        words = set(_norm(f"{d.id} {d.name}").split("-"))
        for e in given:
            if mine & keys[e.id] or any(k and set(k.split("-")) <= words for k in keys[e.id]):
                return e
        return None

    reserved = {e.id for e in base.cast.entities if e.references}
    used: set[str] = set()
    for d in draft.cast:
        known = match(d)
        if known is not None and known.id not in used:
            ent = known.model_copy(update={"description": d.description or known.description, "appearances": []},
                                   deep=True)
        else:
            stem = _norm(d.id) or _norm(d.name) or "entity"
            eid, n = stem, 2
            while eid in used or eid in reserved:
                eid, n = f"{stem}-{n}", n + 1
            ent = Entity(id=eid, name=d.name.strip() or eid, kind=d.kind, description=d.description)
        used.add(ent.id)
        cast.entities.append(ent)
        id_map[_norm(d.id)] = ent.id
        id_map.setdefault(_norm(d.name), ent.id)
    for e in base.cast.entities:  # references the model left out still travel with the plan
        if e.references and e.id not in used:
            cast.entities.append(e.model_copy(update={"appearances": []}, deep=True))
            id_map.setdefault(_norm(e.id), e.id)
    return cast, id_map


def _clamp_overlay(o: DraftOverlay, total: Fraction, fps: Fraction) -> Overlay | None:
    if not o.text.strip() or not math.isfinite(o.start_s) or not math.isfinite(o.duration_s):
        return None
    start = Fraction(seconds_to_frames(Fraction(repr(max(o.start_s, 0.0))), fps)) / fps
    if start >= total:
        return None
    dur = Fraction(max(1, seconds_to_frames(Fraction(repr(max(o.duration_s, 0.0))), fps))) / fps
    dur = min(dur, total - start)
    return Overlay(text=o.text.strip(), start=start, duration=dur, position=o.position)
