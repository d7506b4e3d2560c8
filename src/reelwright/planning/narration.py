"""The voice-over of a plan: one line per shot. `--voice auto` writes lines sized to each shot at a
natural speaking rate; `--voice "TEXT"` / `--voice FILE.txt` splits the person's words across the shots;
`--voice none` speaks nothing. Without a flag, the request's words decide ("with a voice-over saying
'…'", "narrated"), else the mode (auto for ugc-product and brand-identity, none otherwise).

Narration that the video cannot hold at a sane rate is refused here, with the numbers, before any
clip is paid for."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import BriefError, InputFileError
from ..plan import AudioCue, Plan, Shot

WORDS_PER_SECOND = 2.5  # natural voice-over pace
MAX_WORDS_PER_SECOND = 3.3  # brisk: past this the voice must rush or run over the picture
LEAD_S = 0.25  # a line starts this long after its shot's cut…
TAIL_S = 0.35  # …and leaves this much room before the next
AUTO_MODES = ("ugc-product", "brand-identity")

VoiceMode = Literal["none", "auto", "text"]


@dataclass
class VoiceSetting:
    mode: VoiceMode
    text: str = ""
    source: str = ""  # where the choice came from, for the plan's notes


_SAYING = re.compile(r"(?:voice[\s-]*over|narrat\w*|voice)\s+(?:saying|that says|says|reading)\s*:?\s*"
                     r"(?:[\"“](?P<dq>[^\"”]+)[\"”]|[‘'](?P<sq>.+?)[’'](?=[\s,.;:!?]|$))", re.I)
_NARRATED = re.compile(r"\b(?:narrated|narration|narrator|voice[\s-]*over|voiceover)\b", re.I)


def voice_setting(value: str | None, mode: str, request: str) -> VoiceSetting:
    """What to narrate: the flag's value (auto | none | TEXT | path to a .txt file), else the request's words,
    else the mode's default."""
    if value is not None and value.strip():
        v = value.strip()
        if v.lower() in ("none", "off", "no"):
            return VoiceSetting("none", source="--voice none")
        if v.lower() == "auto":
            return VoiceSetting("auto", source="--voice auto")
        path = Path(v).expanduser()
        if v.lower().endswith(".txt") or _is_file(path):
            try:
                text = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputFileError(f"cannot read the narration file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
            if not text:
                raise BriefError(f"the narration file {path} is empty")
            return VoiceSetting("text", text, f"--voice {path.name}")
        return VoiceSetting("text", v, "--voice TEXT")
    m = _SAYING.search(request)
    if m:
        return VoiceSetting("text", (m.group("dq") or m.group("sq")).strip(), "the request's words")
    if _NARRATED.search(request):
        return VoiceSetting("auto", source="the request's words")
    if mode in AUTO_MODES:
        return VoiceSetting("auto", source=f"the {mode} mode's default")
    return VoiceSetting("none", source=f"the {mode} mode's default")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a long sentence is not a path
        return False


def word_count(text: str) -> int:
    return len(re.findall(r"[\w'’-]+", text))


def shot_budget(seconds: float) -> int:
    """Words a shot holds at the natural pace, leaving room at both ends."""
    return max(0, math.floor((seconds - LEAD_S - TAIL_S) * WORDS_PER_SECOND))


def check_fit(text: str, seconds: float) -> None:
    """Refuse narration the video cannot hold even at a brisk pace (BriefError with the numbers)."""
    words = word_count(text)
    most = math.floor(seconds * MAX_WORDS_PER_SECOND)
    if words > most:
        natural = math.floor(seconds * WORDS_PER_SECOND)
        raise BriefError(
            f"the narration has {words} words but {seconds:g} s of video holds about {natural} at a natural pace "
            f"({WORDS_PER_SECOND:g} words/s) and at most {most} ({MAX_WORDS_PER_SECOND:g} words/s): "
            f"shorten it to {most} words or ask for at least {math.ceil(words / WORDS_PER_SECOND)} s")


def narrate(plan: Plan, setting: VoiceSetting, *, sentences_only: bool = False, llm=None) -> Plan:
    """Put one voice-over cue per narrated shot into `plan.audio` (replacing earlier voice-over cues).
    `sentences_only`: the person's words are split between sentences only (the cut will follow them).
    `llm`: with `auto`, the chat model writes the lines (held to each shot's word budget)."""
    plan.audio = [c for c in plan.audio if c.kind != "voiceover"]
    if setting.mode == "none":
        return plan
    if setting.mode == "text":
        check_fit(setting.text, float(plan.duration))
        lines = split_lines(setting.text, plan, sentences_only=sentences_only)
    elif llm is not None:
        lines = llm_lines(plan, llm)
    else:
        lines = auto_lines(plan)
    for shot, line in zip(plan.shots, lines):
        if line:
            plan.audio.append(AudioCue(kind="voiceover", text=line, shot=shot.id, start=plan.shot_start(shot),
                                       duration=plan.shot_duration(shot)))
    plan.notes.append(f"narration from {setting.source}: {sum(1 for l in lines if l)} of {len(plan.shots)} shots, "
                      f"{sum(word_count(l) for l in lines)} words")
    return plan


def split_lines(text: str, plan: Plan, *, sentences_only: bool = False) -> list[str]:
    """The person's words spread over the shots in proportion to their length, cut at sentence ends when
    one is near (within 3 words), else at a comma, else between words; or only ever at sentence ends."""
    words = text.split()
    if not words:
        return ["" for _ in plan.shots]
    ends = {i + 1 for i, w in enumerate(words) if re.search(r"[.!?…][\"'”’)]*$", w)}
    commas = {i + 1 for i, w in enumerate(words) if w.endswith((",", ";", ":", "—"))}
    total = float(plan.duration)
    cuts = [0]
    elapsed = 0.0
    for shot in plan.shots[:-1]:
        elapsed += float(plan.shot_duration(shot))
        ideal = round(len(words) * elapsed / total)
        if sentences_only:
            cut = _nearest(ideal, ends | {len(words)}, len(words)) or len(words)
        else:
            cut = _nearest(ideal, ends, 3) or _nearest(ideal, commas, 2) or ideal
        cuts.append(min(len(words), max(cuts[-1], cut)))
    cuts.append(len(words))
    return [" ".join(words[a:b]) for a, b in zip(cuts, cuts[1:])]


def _nearest(ideal: int, candidates: set[int], reach: int) -> int | None:
    near = [c for c in candidates if abs(c - ideal) <= reach]
    return min(near, key=lambda c: (abs(c - ideal), c)) if near else None


def llm_lines(plan: Plan, llm) -> list[str]:
    """Lines written by the chat model: one per shot, asked with each shot's beat, length and word budget,
    in a schema with one field per shot id. Lines over budget are cut back (whole sentences first); a shot
    the model left empty, or a failed call, gets the built-in line (noted in the plan)."""
    from ..errors import LLMError

    budgets = {s.id: shot_budget(float(plan.shot_duration(s))) for s in plan.shots}
    schema = {"type": "object", "additionalProperties": False, "required": list(budgets),
              "properties": {sid: {"type": "string", "description": f"at most {n} words"} for sid, n in budgets.items()}}
    rows = "\n".join(f"- {s.id} ({float(plan.shot_duration(s)):.1f} s, at most {budgets[s.id]} words, "
                     f"{s.purpose or 'beat'}): {s.beat}" for s in plan.shots)
    prompt = (f"Write the voice-over for this {plan.mode} video about {_principal(plan)}: one spoken line per shot, "
              f"plain words a voice actor reads aloud (no stage directions, no markdown, no emoji), natural and "
              f"specific, each line within its word budget so it fits the shot.\n{rows}")
    fallback = auto_lines(plan)
    try:
        reply = llm.complete(prompt, response_format={"title": "narration", **schema}, purpose="narration",
                             max_tokens=1200)
        data = json.loads(reply.text)
    except (LLMError, ValueError) as exc:
        plan.notes.append(f"the chat model's narration failed ({str(exc).splitlines()[0][:120]}); built-in lines used")
        return fallback
    out = []
    for shot, builtin in zip(plan.shots, fallback):
        text = re.sub(r"\s+", " ", str(data.get(shot.id) or "")).strip()
        out.append(_fit(_split_sentences(text), budgets[shot.id]) if text else builtin)
    return out


def _split_sentences(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if p.strip()]


def auto_lines(plan: Plan) -> list[str]:
    """One line per shot, written from its purpose and beat, no longer than the shot holds."""
    name = _principal(plan)
    out = []
    for shot in plan.shots:
        budget = shot_budget(float(plan.shot_duration(shot)))
        out.append(_fit(_sentences(shot, name, plan.mode), budget))
    return out


def _principal(plan: Plan) -> str:
    for e in plan.cast.entities:
        if any(s.roles.get(e.id) == "principal" for s in plan.shots):
            return e.name
    return plan.subject or "this"


def _fit(sentences: list[str], budget: int) -> str:
    """Whole sentences while they fit; the first one cut to the budget if even it does not."""
    if budget < 2:
        return ""
    chosen: list[str] = []
    used = 0
    for s in sentences:
        n = word_count(s)
        if used + n <= budget:
            chosen.append(s)
            used += n
    if not chosen:
        words = sentences[0].rstrip(".!?").split()[:budget]
        chosen = [" ".join(words) + "."]
    return " ".join(chosen)


def _beat_sentence(beat: str) -> str:
    text = re.sub(r"^[\w ]+:\s*", "", beat).strip(" .")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def _sentences(shot: Shot, name: str, mode: str) -> list[str]:
    """Candidate sentences for a shot, most important first."""
    beat = _beat_sentence(shot.beat)
    said = shot.beat and ":" not in shot.beat
    p = shot.purpose
    table: dict[str, list[str]] = {
        "hook": [f"Okay, you need to see {name}.", "I was not expecting this.", "Stay with me for a second."],
        "problem": ["You know the feeling.", "Every day, the same struggle.", "Nothing ever quite keeps up.",
                    "I was done settling for that."],
        "product in use": [beat, f"{name} makes it easy.", "No fuss at all.", "It just works, every time."],
        "proof": ["And honestly? The difference is real.", "I use it every single day now.",
                  f"{name} just keeps up with me."],
        "call to action": [f"Try {name} for yourself.", "Link below.", "You will thank me later."],
        "logo reveal": [f"This is {name}.", "Made with care.", "Built for what comes next."],
        "palette": ["Bold colour.", "Clean lines.", "A look you remember."],
        "brand moment": [beat, f"That is {name}."],
        "end card": [f"{name}.", "Find out more today."],
        "opening": ["It begins here.", f"Meet {name}.", "Take a moment to look around."],
        "closing": ["And that is where we leave it.", "Until next time."],
        "setup": [beat if said else "An ordinary day.", "Nothing out of place."],
        "turn": [beat if said else "Then, something changes.", "Everything shifts."],
        "resolution": [beat if said else "And finally, a quiet calm.", "Right where it should be."],
    }
    return [s[:1].upper() + s[1:] for s in table.get(p, [beat or f"Here is {name}.", f"Watch {name}."]) if s]
