"""Effects from the request's words: "a door slams at 0:12", "a bell at 5 s", "a whoosh on every cut",
"a bell when the logo appears". Each becomes an `AudioCue(kind="sfx")` whose `start` is where it hits."""

from __future__ import annotations

import re
from fractions import Fraction

from ..errors import BriefError
from ..plan import AudioCue, Plan

_EFFECT_WORDS = (
    (r"door|slam", "door slam"), (r"bell|ding|chime", "ding"), (r"whoosh|swoosh|swish", "whoosh"),
    (r"footstep|steps?\b", "footstep"), (r"click|tick", "click"), (r"\bpops?\b", "pop"),
    (r"impact|boom|crash|bang|thud|\bhit", "impact"),
)
_TIME = r"(?P<time>\d{1,2}:\d{2}(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?P<unit>s\b|secs?\b|seconds?\b)?"
_AT = re.compile(r"(?P<what>(?:an?|the|some)?\s*[a-z][\w\s'-]{0,40}?)\s+(?:at|@)\s+" + _TIME, re.I)
_ON_CUTS = re.compile(r"(?P<what>[a-z][\w\s'-]{0,30}?)\s+on\s+(?:each|every|all(?: the)?)\s+cuts?", re.I)
_WHEN_LOGO = re.compile(r"(?P<what>[a-z][\w\s'-]{0,30}?)\s+when\s+the\s+logo\s+(?:appears|shows|lands)", re.I)


def effect_in(words: str) -> str | None:
    """The built-in effect a phrase names ('a door slams' -> 'door slam'), or None."""
    tail = words.lower().split(",")[-1].split(";")[-1]
    return next((name for rx, name in _EFFECT_WORDS if re.search(rx, tail)), None)


def _seconds(m: re.Match) -> Fraction:
    t = m.group("time")
    if ":" in t:
        mins, secs = t.split(":")
        return int(mins) * 60 + Fraction(secs)
    return Fraction(t)


def cues_from_request(request: str, plan: Plan) -> list[AudioCue]:
    """The effect cues a request asks for in words; a time past the end is a BriefError with the numbers."""
    total = plan.duration
    cues: list[AudioCue] = []
    for m in _AT.finditer(request):
        effect = effect_in(m.group("what"))
        if effect is None:
            continue
        at = _seconds(m)
        if at >= total:
            raise BriefError(f"the {effect} is asked at {float(at):g} s but the video is {float(total):g} s long")
        cues.append(AudioCue(kind="sfx", effect=effect, start=at, text=m.group(0).strip()))
    for m in _ON_CUTS.finditer(request):
        effect = effect_in(m.group("what"))
        if effect:
            cues += [AudioCue(kind="sfx", effect=effect, start=plan.shot_start(s), text=m.group(0).strip())
                     for s in plan.shots[1:]]
    for m in _WHEN_LOGO.finditer(request):
        effect = effect_in(m.group("what"))
        shot = next((s for s in plan.shots if "logo" in f"{s.purpose} {s.beat}".lower()), None)
        if effect and shot is not None:
            cues.append(AudioCue(kind="sfx", effect=effect, start=plan.shot_start(shot), text=m.group(0).strip()))
    return sorted(cues, key=lambda c: c.start)
