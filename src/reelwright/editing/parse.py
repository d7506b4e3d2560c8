"""Edit requests in words → typed edit operations, each routed to the cheapest thing that does it:
a deterministic tool when pixels need not change, regeneration of only the shots that must."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, WithJsonSchema

from ..errors import BriefError

Route = Literal["tool", "regenerate"]
# Seconds as a model writes them: a JSON number in the schema (no provider enforces pydantic's
# "string, format fraction", so a schema-valid "warm" used to fail validation); "1/3" still validates.
Seconds = Annotated[Fraction, WithJsonSchema({"type": "number"})]


class EditOp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["overlay", "cut_shot", "speed", "aspect", "trim_total", "fade_out", "fade_in",
                  "restyle_shot", "replace_shot", "extend_to"]
    route: Route = "tool"
    shot: int | None = None  # 1-based shot number; -1 means the last shot
    text: str = ""
    start: Seconds | None = None
    duration: Seconds | None = None
    factor: Seconds | None = None
    aspect: str | None = None
    position: str = "center"


_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
              "ten": 10, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
              "eighth": 8, "ninth": 9, "tenth": 10}
_QUOTED = r"[\"'“‘](?P<text>.+?)[\"'”’](?=\s|$|[,.;!?])"


def _seconds(text: str) -> Fraction:
    """'0:05' / '1:02.5' / '5' / '5s' / '5 seconds' / '2 minutes' → exact seconds."""
    text = text.strip().lower()
    m = re.fullmatch(r"(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        h = int(m.group(1) or 0)
        return Fraction(h * 3600 + int(m.group(2)) * 60) + Fraction(m.group(3))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?)?", text)
    if not m:
        raise BriefError(f"cannot read a time in {text!r}")
    value = Fraction(m.group(1))
    return value * 60 if (m.group(2) or "s").startswith("m") else value


def _shot_ref(text: str) -> int | None:
    low = text.lower()
    if re.search(r"\b(last|final)\s+(shot|clip|scene)\b", low):
        return -1
    m = re.search(r"\b(?:shot|clip|scene)\s*#?\s*(\d+)\b", low) or re.search(r"\b(\d+)(?:st|nd|rd|th)\s+(?:shot|clip|scene)\b", low)
    if m:
        return int(m.group(1))
    m = re.search(r"\b(" + "|".join(_NUM_WORDS) + r")\s+(?:shot|clip|scene)\b", low) or \
        re.search(r"\b(?:shot|clip|scene)\s+(" + "|".join(_NUM_WORDS) + r")\b", low)
    if m:
        return _NUM_WORDS[m.group(1)]
    return None


_TIME = r"(\d+:\d+(?::\d+)?(?:\.\d+)?|\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds?|m|min|mins|minutes?)?)"


def parse_edit(request: str) -> list[EditOp]:
    """Parse one edit request (clauses joined by 'and', ';' or '.') into operations, in order.

    Raises BriefError when a clause is not understood, so nothing is half-applied."""
    text = request.strip()
    if not text:
        raise BriefError("the edit request is empty: say what to change")
    ops: list[EditOp] = []
    for clause in _clauses(text):
        op = _parse_clause(clause)
        if op is None:
            raise BriefError(f"cannot tell what to do with {clause!r}; try e.g. \"add 'SALE' at 0:05 for 3 seconds\", "
                             "\"cut the last shot\", \"make shot 2 half speed\", \"make it vertical\", "
                             "\"trim to 30 seconds\", \"fade out at the end\", \"replace shot 4 with ...\"")
        ops.append(op)
    return ops


def _clauses(text: str) -> list[str]:
    # Split on ';' and on ' and ' / '. ' outside quotes, keeping quoted overlay text whole.
    parts, buf, quote = [], "", None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf += ch
            if ch == quote or (quote == "“" and ch == "”") or (quote == "‘" and ch == "’"):
                quote = None
            i += 1
            continue
        if ch in "\"“" or (ch in "'‘" and (i == 0 or not text[i - 1].isalnum())):
            quote = ch
            buf += ch
            i += 1
            continue
        if ch == ";" or (ch == "." and (i + 1 == len(text) or text[i + 1] == " ") and not (i and text[i - 1].isdigit() and i + 1 < len(text) and text[i + 1].isdigit())):
            parts.append(buf)
            buf = ""
            i += 1
            continue
        if text[i:i + 5].lower() == " and " and not re.search(r"(with|of|in)\s*$", buf.lower()):
            rest = text[i + 5:].lower()
            if re.match(r"(add|show|put|cut|remove|drop|delete|make|trim|shorten|fade|replace|change|turn|speed|slow)\b", rest):
                parts.append(buf)
                buf = ""
                i += 5
                continue
        buf += ch
        i += 1
    parts.append(buf)
    return [p.strip() for p in parts if p.strip()]


def _parse_clause(clause: str) -> EditOp | None:
    low = clause.lower()
    # text overlay: add/show/put 'TEXT' at T for D
    m = re.search(r"\b(?:add|show|put|overlay|write|display)\b.*?" + _QUOTED, clause, flags=re.IGNORECASE)
    if m:
        text = m.group("text")
        rest = clause[m.end():].lower()
        start = Fraction(0)
        tm = re.search(r"\bat\s+" + _TIME, rest)
        if tm:
            start = _seconds(tm.group(1))
        dm = re.search(r"\bfor\s+" + _TIME, rest)
        duration = _seconds(dm.group(1)) if dm else Fraction(3)
        position = "center"
        for pos in ("lower-third", "lower third", "top", "bottom", "center"):
            if pos in rest:
                position = pos.replace(" ", "-")
                break
        if re.search(r"\bat the end\b", rest):
            start = Fraction(-1)  # resolved against the video's length when applied
        return EditOp(kind="overlay", text=text, start=start, duration=duration, position=position)
    if re.search(r"\b(cut|remove|drop|delete)\b", low) and re.search(r"\b(shot|clip|scene)\b", low):
        shot = _shot_ref(low)
        if shot is None:
            return None
        return EditOp(kind="cut_shot", shot=shot)
    m = re.search(r"\b(half|quarter|double|twice|(\d+(?:\.\d+)?)\s*x)\s*(?:the\s+)?speed\b|\bslow(?:ed)?\s*(?:it\s*)?down\b|\bslow motion\b|\bspeed\s*(?:it\s*)?up\b", low)
    if m:
        word = m.group(1) or ""
        if "half" in word or "slow" in m.group(0):
            factor = Fraction(1, 2)
        elif "quarter" in word:
            factor = Fraction(1, 4)
        elif word in ("double", "twice") or "up" in m.group(0):
            factor = Fraction(2)
        else:
            factor = Fraction(m.group(2))
        if factor <= 0:
            return None
        return EditOp(kind="speed", shot=_shot_ref(low), factor=factor)
    m = re.search(r"\b(?:make|turn|convert|change)\b.*\b(vertical|portrait|square|widescreen|landscape|horizontal|9:16|16:9|1:1|4:5|4:3)\b", low)
    if m:
        from ..brief import normalise_aspect

        word = m.group(1)
        aspect = normalise_aspect(word) if word != "4:5" else "4:5"
        return EditOp(kind="aspect", aspect=aspect)
    m = re.search(r"\b(?:trim|shorten|cut)\b(?:\s+(?:it|the video|this))?\s+(?:down\s+)?to\s+" + _TIME, low)
    if m:
        return EditOp(kind="trim_total", duration=_seconds(m.group(1)))
    m = re.search(r"\bmake\s+(?:it|this|the video|this video)\s+" + r"(\d+(?:\.\d+)?\s*(?:s|sec|secs|seconds?|m|min|mins|minutes?)|one minute|a minute|half a minute)\b(?:\s+long)?", low)
    if m:
        word = m.group(1)
        seconds = {"one minute": Fraction(60), "a minute": Fraction(60), "half a minute": Fraction(30)}.get(word)
        return EditOp(kind="extend_to", duration=seconds if seconds is not None else _seconds(word))
    m = re.search(r"\bfade\s*(out|in)\b", low) or re.search(r"\bfade\b.*\b(end|start|beginning)\b", low)
    if m:
        which = m.group(1)
        kind = "fade_in" if which in ("in", "start", "beginning") else "fade_out"
        dm = re.search(r"\bover\s+" + _TIME, low) or re.search(r"\b(?:for|of)\s+" + _TIME, low)
        return EditOp(kind=kind, duration=_seconds(dm.group(1)) if dm else Fraction(1))
    m = re.search(r"\breplace\s+(.+?)\s+with\s+(.+)$", clause, flags=re.IGNORECASE)
    if m:
        shot = _shot_ref(m.group(1))
        if shot is None:
            return None
        return EditOp(kind="replace_shot", route="regenerate", shot=shot, text=m.group(2).strip())
    shot = _shot_ref(low)
    if shot is not None and re.search(r"\b(make|turn|change|give|put)\b", low):
        return EditOp(kind="restyle_shot", route="regenerate", shot=shot, text=clause.strip())
    return None
