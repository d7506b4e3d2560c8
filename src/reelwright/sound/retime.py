"""`--timing narration`: the cut follows the voice. Each shot's line is synthesized first; shot lengths
become proportional to their lines (plus the lead-in and the breath after), so every cut falls on a
sentence boundary; the total stays the requested frames exactly, and each shot is still one the generator
can make (its generated duration is the shortest allowed one that holds it; a line longer than the
longest clip spreads over two shots of its beat)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..generators.base import Capabilities
from ..plan import Plan, Shot
from ..planning.durations import allocate_durations, allowed_durations
from ..planning.narration import LEAD_S, TAIL_S
from ..timing import frames_to_seconds
from .speech import synthesize
from .voices import Voice


def retime(plan: Plan, voice: Voice, capabilities: Capabilities, cache: Path) -> Plan:
    """Move shot boundaries to the ends of their lines (see the module docstring); returns `plan`, changed."""
    cues = {c.shot: c for c in plan.audio if c.kind == "voiceover" and c.shot and c.text.strip()}
    if not cues:
        return plan
    weights = []
    for shot in plan.shots:
        cue = cues.get(shot.id)
        if cue is None:
            weights.append(Fraction(plan.shot_duration(shot)))
        else:
            seconds = synthesize(voice, cue.text, cache).duration + LEAD_S + TAIL_S
            weights.append(Fraction(round(seconds * 1000), 1000))
    allocations = allocate_durations(plan.target_frames, plan.fps, allowed_durations(capabilities), len(plan.shots),
                                     weights=weights, tolerance=Fraction(0))
    old_starts = {s.id: plan.shot_start(s) for s in plan.shots}
    shots: list[Shot] = []
    parts: dict[int, int] = {}
    for alloc in allocations:
        base = plan.shots[alloc.beat]
        part = parts[alloc.beat] = parts.get(alloc.beat, -1) + 1
        shot = base.model_copy(deep=True) if part == 0 else base.model_copy(
            deep=True, update={"id": f"{base.id}-{part + 1}", "seed": base.seed + 1000 * part, "continues": True})
        shot.frames, shot.gen_duration = alloc.frames, alloc.gen_duration
        shots.append(shot)
    plan.shots = shots
    plan.relayout()
    for cue in plan.audio:
        if cue.kind == "voiceover" and cue.shot:
            first = plan.shot(cue.shot)
            beat = [s for s in plan.shots if s.id == cue.shot or s.id.startswith(f"{cue.shot}-")]
            cue.start = plan.shot_start(first)
            cue.duration = frames_to_seconds(sum(s.frames for s in beat), plan.fps)
    moved = {old_starts[s.id]: plan.shot_start(s) for s in plan.shots if s.id in old_starts}
    for overlay in plan.overlays:
        end_at_total = overlay.end == frames_to_seconds(plan.target_frames, plan.fps)
        if overlay.start in moved:
            new = moved[overlay.start]
            overlay.duration = (overlay.end - new) if end_at_total else overlay.duration
            overlay.start = new
    plan.notes.append("timing from the narration: shot lengths follow their lines, cuts fall between sentences")
    return plan
