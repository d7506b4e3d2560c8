"""The tool-using agent: a chat model drives the Toolbox through function calling, within harness
limits, with its context kept short (tool results cut, older turns compacted to a summary).
`builtin_policy` runs the same tools in the fixed order when no model is configured, and is what the
run falls back to when a model gives up (never calls a tool, loops on one call, never finishes).

Errors the model can fix (`AgentError`) go back to it as error tool results; a harness limit
(`LimitExceeded`: steps, takes, spend) ends the run with its message; anything else propagates."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from .brief import Brief
from .director.limits import Limits
from .errors import AgentError, ConfigError, LimitExceeded, StepsExceeded, TakesExceeded
from .events import EventBus
from .llm.base import ChatModel, Message, ToolCall, estimate_tokens
from .tools import ToolResult, short_args

RESULT_CHARS = 600  # a tool result the model sees, at most
PLAN_CHARS = 12_000  # the plan summary is kept whole up to this size: it is the job's map
COMPACT_AT = 0.75  # compact when the next prompt would pass this share of the budget
COMPACT_TO = 0.45  # and keep recent turns up to this share
MAX_IDLE_TURNS = 3  # replies without a tool call before the run stops
MAX_REPEATS = 5  # the same call (tool and arguments) this many times in a row is a loop, not progress

SYSTEM_PROMPT = """You are the director of a video production. You make the video the person asked for by \
calling tools; you never describe or invent results. Work in this order:
1. plan_shots once.
2. generate_clip for every shot, in order. A result says whether the clip passed its checks.
3. For a rejected clip call regenerate_clip with concrete feedback from the rejection reasons \
(what to change in the picture), or accept the plan's limits when regenerations are used up.
4. overlay_text only for text the person asked for that the plan does not already hold.
5. concat, then finish. finish ends the job.
Rules: the harness enforces durations, retries and the budget; a tool error tells you what to fix. \
Keep your own messages to one short sentence. Call several tools in one turn when they do not depend on \
each other."""


class _Stop(Exception):
    """The run ends: a harness limit (`by="limit"`) or a model that gives up (`by="model"`)."""

    def __init__(self, message: str, by: str):
        self.by = by
        super().__init__(message)


class ToolboxLike(Protocol):
    """What a driver needs of `tools.Toolbox` (tests drive the agent with lighter toolboxes)."""

    @property
    def specs(self) -> list[Any]: ...

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult: ...

    @property
    def finished(self) -> bool: ...

    def takes_left(self, shot_id: str) -> int: ...


class AgentReport(BaseModel):
    """What one agent run did and cost, for report.json."""

    policy: str = "llm"  # "llm" or "builtin"
    model: str = ""
    steps: int = 0  # model turns (or policy steps)
    tool_calls: int = 0
    tool_errors: int = 0  # calls answered with an error the model could act on
    llm_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    max_context_tokens: int = 0  # the largest prompt sent (provider's count when it gives one)
    context_budget_tokens: int = 0
    compactions: int = 0
    finished: bool = False
    stop_reason: str = ""
    stopped_by: str = ""  # "finished", "model" (gave up: no tool calls, a loop, no finish), "limit", "failed shots"
    wall_s: float = 0.0


@dataclass
class _Progress:
    """What the harness knows happened, kept as facts so older turns can be dropped."""

    plan_summary: str = ""
    shots: list[str] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # shot -> how
    rejected: dict[str, str] = field(default_factory=dict)  # shot -> last reason
    regenerations: dict[str, int] = field(default_factory=dict)
    overlays: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    def record(self, name: str, args: dict[str, Any], ok: bool, content: str, data: dict[str, Any]) -> None:
        shot = str(args.get("shot_id", "")) or None
        first = content.splitlines()[0] if content else ""
        if name == "plan_shots" and ok:
            self.plan_summary = content[:PLAN_CHARS]
            self.shots = [str(s) for s in data.get("shots", [])] or self.shots
        elif name in ("generate_clip", "regenerate_clip", "extend_clip") and shot:
            if name == "regenerate_clip":
                self.regenerations[shot] = self.regenerations.get(shot, 0) + 1
            if ok:
                self.accepted[shot] = first[:80]
                self.rejected.pop(shot, None)
            else:
                self.rejected[shot] = first[:160]
                self.accepted.pop(shot, None)
        elif name == "check_clip" and shot and not ok:
            self.rejected[shot] = first[:160]
            self.accepted.pop(shot, None)
        elif name == "overlay_text" and ok:
            self.overlays.append(first[:100])
        elif name == "trim" and ok:
            self.other.append(first[:120])
        elif name == "concat":
            self.other.append(f"concat: {first[:100]}")
        self.other = self.other[-6:]

    def summary(self) -> str:
        lines = ["Progress so far (older turns were summarised by the harness):"]
        if self.shots:
            lines.append(f"- plan: {len(self.shots)} shots")
        if self.accepted:
            lines.append(f"- accepted ({len(self.accepted)}): {' '.join(self.accepted)}")
        for shot, reason in self.rejected.items():
            used = self.regenerations.get(shot, 0)
            lines.append(f"- rejected {shot} (regenerations used {used}): {reason}")
        pending = [s for s in self.shots if s not in self.accepted and s not in self.rejected]
        if self.shots:
            lines.append(f"- not yet generated ({len(pending)}): {' '.join(pending) or 'none'}")
        if self.overlays:
            lines.append("- overlays added: " + "; ".join(self.overlays[-10:]))
        lines += [f"- {o}" for o in self.other]
        return "\n".join(lines)


def run_agent(toolbox: ToolboxLike, llm: ChatModel, brief: Brief, *, limits: Limits | None = None,
              bus: EventBus | None = None, context_budget_tokens: int = 24_000) -> AgentReport:
    """Let `llm` drive `toolbox` until `finish` delivers, a limit is reached, or the model stops.

    Errors the model can act on (bad arguments, rejected clips, moderation) go back to it as error
    tool results; any other error stops the run and propagates."""
    bus = bus or EventBus()
    if not llm.supports_tools:
        raise ConfigError(f"{llm.name} cannot call tools; run without --agent or pick another model")
    limits = limits or Limits()
    report = AgentReport(model=llm.name, context_budget_tokens=context_budget_tokens)
    started = time.perf_counter()
    ledger_start = len(llm.ledger)
    specs = list(toolbox.specs)
    head = Message(role="user", content=brief_message(brief, limits))
    history: list[Message] = []
    progress = _Progress()
    ratio = 1.0  # provider tokens per estimated token, learnt from usage
    idle = 0
    last_call: tuple[str, str] | None = None
    repeats = 0
    bus.emit("agent", "start", f"{llm.name} drives the tools", data={"budget_tokens": context_budget_tokens})
    try:
        while not toolbox.finished:
            try:
                limits.check_steps(report.steps)
            except StepsExceeded as exc:  # a model that never calls finish ends here
                report.stop_reason, report.stopped_by = str(exc), "model"
                break
            messages = _context(head, progress, history, compacted=report.compactions > 0)
            estimate = estimate_tokens(messages, SYSTEM_PROMPT, _as_tools(specs)) * ratio
            if estimate > COMPACT_AT * context_budget_tokens and len(history) > 2:
                history = _compact(history, progress, context_budget_tokens, ratio, head, specs)
                report.compactions += 1
                messages = _context(head, progress, history, compacted=True)
                estimate = estimate_tokens(messages, SYSTEM_PROMPT, _as_tools(specs)) * ratio
                bus.emit("agent", "info", f"context compacted to ~{int(estimate)} tokens",
                         data={"compactions": report.compactions})
            reply = llm.complete(messages, system=SYSTEM_PROMPT, tools=specs, purpose="agent", max_tokens=1024)
            report.steps += 1
            sent = estimate_tokens(messages, SYSTEM_PROMPT, _as_tools(specs))
            if not reply.usage.estimated and reply.usage.tokens_in:
                ratio = min(3.0, max(0.5, reply.usage.tokens_in / max(1, sent)))
            report.max_context_tokens = max(report.max_context_tokens,
                                            reply.usage.tokens_in if not reply.usage.estimated else int(estimate))
            if not reply.tool_calls:
                idle += 1
                history.append(Message(role="assistant", content=reply.text or "(no reply)"))
                if idle >= MAX_IDLE_TURNS:
                    report.stop_reason, report.stopped_by = "the model stopped calling tools", "model"
                    break
                history.append(Message(role="user", content="Continue by calling a tool; call finish when the video is done."))
                continue
            idle = 0
            history.append(Message(role="assistant", content=reply.text, tool_calls=reply.tool_calls))
            try:
                for call in reply.tool_calls:
                    key = (call.name, json.dumps(call.arguments, sort_keys=True, default=str))
                    repeats = repeats + 1 if key == last_call else 1
                    last_call = key
                    if repeats >= MAX_REPEATS:
                        raise _Stop(f"the model repeated {call.name}({short_args(call.arguments)}) "
                                    f"{repeats} times in a row", by="model")
                    history.append(_run_tool(toolbox, call, progress, report, bus))
                    if toolbox.finished:
                        break
            except _Stop as stop:
                report.stop_reason, report.stopped_by = str(stop), stop.by
                break
        else:
            report.stop_reason, report.stopped_by = "finished", "finished"
    finally:
        report.finished = toolbox.finished
        calls = llm.ledger[ledger_start:]
        report.llm_calls = len(calls)
        report.tokens_in = sum(c.tokens_in for c in calls)
        report.tokens_out = sum(c.tokens_out for c in calls)
        report.cost_usd = round(sum(c.cost_usd for c in calls), 6)
        report.wall_s = round(time.perf_counter() - started, 3)
    status = "done" if report.finished else "failed"
    bus.emit("agent", status, report.stop_reason, data=report.model_dump(), cost_usd=report.cost_usd,
             elapsed_s=report.wall_s)
    return report


def _run_tool(toolbox: ToolboxLike, call: ToolCall, progress: _Progress, report: AgentReport,
              bus: EventBus) -> Message:
    report.tool_calls += 1
    if call.arguments_error is not None:
        report.tool_errors += 1
        return Message(role="tool", tool_call_id=call.id, name=call.name, is_error=True,
                       content=f"arguments are not a JSON object: {call.arguments_error[:200]}")
    try:
        result = toolbox.call(call.name, call.arguments)
    except AgentError as exc:  # the model can fix it: bad arguments, a rejected clip, moderation
        report.tool_errors += 1
        bus.emit("tool", "failed", f"{call.name}: {exc}", shot=call.arguments.get("shot_id"))
        progress.record(call.name, call.arguments, False, str(exc), {})
        return Message(role="tool", tool_call_id=call.id, name=call.name, is_error=True,
                       content=shorten(str(exc), RESULT_CHARS))
    except LimitExceeded as exc:  # a harness limit (steps, takes, spend) the model cannot work around
        raise _Stop(str(exc), by="limit") from exc
    ok, content, data = result.ok, result.content, dict(result.data)
    progress.record(call.name, call.arguments, ok, content, data)
    limit = PLAN_CHARS if call.name == "plan_shots" else RESULT_CHARS
    text = summarise_result(call.name, content, data, limit)
    return Message(role="tool", tool_call_id=call.id, name=call.name, content=text, is_error=not ok)


def brief_message(brief: Brief, limits: Limits | None = None) -> str:
    parts = [f"Request: {brief.request}"]
    if brief.duration is not None:
        parts.append(f"Length: exactly {float(brief.duration):g} s")
    if brief.aspect:
        parts.append(f"Aspect: {brief.aspect}")
    parts.append(f"Generator: {brief.generator}")
    if limits is not None:
        parts.append(f"Limits: {limits.max_steps} tool steps, "
                     f"{limits.max_retries_per_shot} regenerations per shot"
                     + (f", ${limits.max_spend_usd:.2f} spend" if limits.max_spend_usd else ""))
    return "\n".join(parts)


def _context(head: Message, progress: _Progress, history: list[Message], *, compacted: bool) -> list[Message]:
    if not compacted:
        return [head, *history]
    pinned = head.content
    if progress.plan_summary:
        pinned += "\n\nThe plan (from plan_shots):\n" + progress.plan_summary
    pinned += "\n\n" + progress.summary()
    return [Message(role="user", content=pinned), *history]


def _compact(history: list[Message], progress: _Progress, budget: int, ratio: float, head: Message,
             specs: list[Any]) -> list[Message]:
    """Drop the oldest whole turns (an assistant message with its tool results) until the recent
    ones fit in COMPACT_TO of the budget; what they did lives on in `progress`."""
    starts = [i for i, m in enumerate(history) if m.role == "assistant"]
    fixed = estimate_tokens(_context(head, progress, [], compacted=True), SYSTEM_PROMPT, _as_tools(specs)) * ratio
    keep_from = starts[-1] if starts else len(history)
    for i in reversed(starts):
        if fixed + estimate_tokens(history[i:]) * ratio > COMPACT_TO * budget:
            break
        keep_from = i
    return history[keep_from:]


def _as_tools(specs: list[Any]):
    from .llm.base import as_tool

    return [as_tool(s) for s in specs]


_NOTABLE = re.compile(r"error|fail|reject|warn|invalid|refus|exceed|missing|cannot|not ", re.I)


def shorten(text: str, limit: int = RESULT_CHARS) -> str:
    """Long logs cut to the lines that matter: the first line, lines naming a problem, the last lines."""
    text = text.strip()
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:-2] if _NOTABLE.search(ln)] + lines[-2:]
    out = "\n".join(dict.fromkeys(ln[:200] for ln in keep))
    if len(out) > limit:
        out = out[: limit - 20] + " …"
    return out + f"\n[{len(text) - len(out)} characters cut]" if len(out) < len(text) else out


def summarise_result(name: str, content: str, data: dict[str, Any], limit: int = RESULT_CHARS) -> str:
    """What the model sees of a tool result. Probe output (often JSON) becomes one line of facts."""
    if name == "probe":
        facts = _probe_facts(content)
        if facts:
            return facts
    return shorten(content, limit)


_PROBE_KEYS = ("duration", "frames", "nb_frames", "width", "height", "fps", "r_frame_rate", "codec_name", "vcodec",
               "acodec", "sample_rate", "channels")


def _probe_facts(content: str) -> str | None:
    try:
        value = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return None
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in _PROBE_KEYS and not isinstance(v, (dict, list)) and k not in found:
                    found[k] = v
                walk(v)
        elif isinstance(node, list):
            for x in node[:4]:
                walk(x)

    walk(value)
    return ", ".join(f"{k}={v}" for k, v in found.items()) or None


def builtin_policy(toolbox: ToolboxLike, brief: Brief, *, bus: EventBus | None = None) -> AgentReport:
    """The fixed-order policy over the same tools: plan, generate every shot (each call is the take loop,
    so a failing shot already used its takes), check, regenerate what failed a later check while the shot
    has takes left, concat, finish. Overlays the person asked for are already in the plan, so none are
    added. Also the fallback when a chat model gives up, so it picks up whatever is already accepted."""
    report = AgentReport(policy="builtin", model="builtin")
    started = time.perf_counter()

    def call(name: str, **args: Any) -> ToolResult:
        report.steps += 1
        report.tool_calls += 1
        return toolbox.call(name, args)

    plan = call("plan_shots")
    shots = [str(s) for s in plan.data.get("shots", [])]
    failed: dict[str, str] = {}
    for shot in shots:
        try:
            result = call("generate_clip", shot_id=shot)
        except TakesExceeded as exc:  # an earlier driver used this shot's takes without an accepted clip
            report.tool_errors += 1
            failed[shot] = str(exc)
            continue
        if not result.ok:
            failed[shot] = result.content
    for shot in shots:
        if shot not in failed:
            checked = call("check_clip", shot_id=shot)
            if not checked.ok:
                failed[shot] = checked.content
    for shot, reason in list(failed.items()):
        while toolbox.takes_left(shot) > 0:
            result = call("regenerate_clip", shot_id=shot, feedback=reason)
            if result.ok:
                failed.pop(shot)
                break
            reason = result.content
    if failed:
        report.stop_reason = "shots failed their checks: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
        report.stopped_by = "failed shots"
    else:
        call("concat")
        call("finish")
        report.stop_reason, report.stopped_by = "finished", "finished"
    report.finished = toolbox.finished
    report.wall_s = round(time.perf_counter() - started, 3)
    if bus is not None:
        bus.emit("agent", "done" if report.finished else "failed", report.stop_reason, data=report.model_dump())
    return report
