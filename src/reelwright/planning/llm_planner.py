"""Planning with a chat model: the model drafts the storyboard through structured output, with
bounded repair; the harness turns the draft into a `Plan`, enforcing the hard facts itself."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..brief import Brief
from ..errors import BriefError, LLMError
from ..events import EventBus
from ..generators.base import Capabilities
from ..llm.base import ChatModel, Message
from ..plan import EntityKind, Plan
from .builtin import _allowed_for, build_plan  # the same duration rules as the built-in planner
from .durations import DurationRange, longest_duration
from .harness import MAX_SHOTS, to_plan
from .parse import parse_request
from .styles import load_style_instructions, style_for_generator


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


def plan_with_llm(brief: Brief, capabilities: Capabilities, llm: ChatModel, *, no_fallback: bool = False,
                  fallback: str | None = None, bus: EventBus | None = None, max_repairs: int = 2) -> Plan:
    """Plan `brief` with a chat model. Whatever a schema-valid draft says, the harness keeps the facts (see
    `harness.to_plan`). A draft that is not valid JSON of the schema goes back with its errors up to `max_repairs`
    times; then the built-in planner takes over with a warning (an event, and the plan's `warnings`), or, with
    `no_fallback` (or the older `fallback="none"`), planning stops with a `BriefError`."""
    if fallback not in (None, "builtin", "none"):
        raise BriefError(f"unknown --fallback {fallback!r}: use builtin or none")
    no_fallback = no_fallback or fallback == "none"
    base = build_plan(brief, capabilities)  # the hard facts: length, size, cast with references, overlays, cards
    facts = parse_request(brief.request)
    style = style_for_generator(capabilities.name, capabilities.model or brief.generator.partition(":")[2])
    allowed = _allowed_for(capabilities, style, bool(brief.references), [])
    messages = [Message(role="user", content=_request_text(brief, base, facts.beats, allowed))]
    system = SYSTEM_PROMPT + load_style_instructions(style)
    problems: list[str] = []
    for attempt in range(1 + max_repairs):
        try:
            reply = llm.complete(messages, system=system, response_format=LLMPlanDraft, purpose="plan",
                                 max_tokens=_max_tokens(base))
        except LLMError as exc:
            problems = [str(exc)]
            break
        draft, problems = _read_draft(reply.json_text(), base)
        if draft is not None and not problems:
            plan = to_plan(draft, base, capabilities, allowed, style, facts)
            plan.notes.append(f"planned by {llm.name} ({attempt + 1} call{'s' if attempt else ''})")
            if bus is not None:
                fixed = len(plan.notes) - len(base.notes)
                bus.emit("plan", "info", f"{llm.name} planned {len(draft.shots)} shots; the harness made "
                         f"{len(plan.shots)} at exact lengths", data={"repairs": attempt, "harness_notes": fixed})
            return plan
        if bus is not None and attempt < max_repairs:
            bus.emit("plan", "retry", f"the plan from {llm.name} needs repair: {problems[0]}",
                     data={"problems": problems[:10]})
        messages += [Message(role="assistant", content=reply.text[:20_000]),
                     Message(role="user", content="That plan cannot be used:\n- " + "\n- ".join(problems[:20]) +
                             "\nReturn the whole corrected JSON object.")]
    reason = problems[0] if problems else "no valid plan"
    if no_fallback:
        raise BriefError(f"{llm.name} did not produce a valid plan after {attempt + 1} tries: {reason} "
                         "(without --no-fallback the built-in planner takes over)")
    warning = f"{llm.name} did not produce a valid plan ({reason}); planned by the built-in planner instead"
    base.notes.append(warning)
    base.warnings.append(warning)
    if bus is not None:
        bus.emit("plan", "warning", f"{llm.name} did not produce a valid plan ({reason}); "
                 "continuing with the built-in planner", data={"problems": problems[:10]})
    return base


def _max_tokens(base: Plan) -> int:
    """Room for the draft the plan needs (about 250 tokens a shot plus the cast), not a fixed 8,000: a small local
    model can take minutes to fill a large budget with repetition."""
    return min(8000, 1200 + 300 * max(4, len(base.shots) + 2))


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
    drawn = [s for s in base.shots if s.kind == "card" and s.beat not in beats and s.card is not None]
    if drawn:
        lines.append("Cards the harness draws itself (plan no shots for them): "
                     + "; ".join(f'{s.purpose} "{s.card.text}"' for s in drawn if s.card is not None))
    if base.overlays:
        lines.append("On-screen text already placed by the harness: " + "; ".join(f'"{o.text}"' for o in base.overlays))
    return "\n".join(lines)


def _read_draft(text: str, base: Plan) -> tuple[LLMPlanDraft | None, list[str]]:
    """The draft and what the harness cannot fix itself (empty when usable), in words the model can act on.
    Missing beats, odd lengths, repeated prompts, unknown ids and overlays past the end the harness fixes."""
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
    return draft, problems
