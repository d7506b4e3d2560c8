"""Numbers and times in words: '90', 'twenty-five', '1:30', '2.5 seconds', 'a minute and a half' -> exact
seconds, for the request parser (the video's length, overlay times)."""

from __future__ import annotations

import re
from fractions import Fraction

from ..errors import BriefError
from . import lexicon as lx


def number_value(words: str) -> Fraction | None:
    """'90' -> 90, '1.5' -> 3/2, 'twenty-five' -> 25, 'a'/'an' -> 1, 'a couple of' -> 2."""
    t = words.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return Fraction(t)
    if re.fullmatch(r"\d+\s*/\s*\d+", t):
        a, b = (int(x) for x in t.split("/"))
        return Fraction(a, b) if b else None
    if t in ("a", "an"):
        return Fraction(1)
    if re.fullmatch(r"a\s+couple\s+of", t):
        return Fraction(2)
    parts = re.split(r"[\s-]+", t)
    if parts[-1] == "hundred":
        head = parts[0] if len(parts) == 2 else "one"
        return Fraction(100) * (1 if head in ("a", "one") else lx.SMALL_NUMBERS.get(head, 0)) or None
    total = 0
    for p in parts:
        if p in lx.TENS:
            total += lx.TENS[p]
        elif p in lx.SMALL_NUMBERS:
            total += lx.SMALL_NUMBERS[p]
        else:
            return None
    return Fraction(total)


def _unit_seconds(unit: str) -> int:
    u = unit.lower()
    return 3600 if u.startswith("h") else 60 if u.startswith("m") else 1


def parse_timestamp(text: str) -> Fraction:
    """'0:05' -> 5, '1:02:03' -> 3723, '10s' -> 10, '2.5 seconds' -> 5/2, '1 min' -> 60."""
    t = text.strip().lower()
    m = re.fullmatch(r"(\d+):(\d{1,2}(?:\.\d+)?)(?::(\d{1,2}(?:\.\d+)?))?", t)
    if m:
        a, b, c = m.groups()
        if c is None:
            return Fraction(a) * 60 + Fraction(b)
        return Fraction(a) * 3600 + Fraction(b) * 60 + Fraction(c)
    m = re.fullmatch(rf"({lx.NUM})\s*-?\s*({lx.UNIT})?", t)
    if m:
        value = number_value(m.group(1))
        if value is not None:
            return value * (_unit_seconds(m.group(2)) if m.group(2) else 1)
    raise BriefError(f"cannot read the time {text!r}: use 0:05, 5s or 5 seconds")


def find_duration(text: str) -> tuple[Fraction, int, int] | None:
    """The video's length the words give, and the span of the words that said it (with 'lasting', 'long'…),
    or None. Several candidates: the one that reads most like a length ('a 30 second video') wins."""
    taken: list[tuple[int, int, Fraction]] = []
    for kind, rx in lx.DURATION_PATTERNS:
        for m in rx.finditer(text):
            if any(m.start() < e and s < m.end() for s, e, _ in taken):
                continue
            seconds = _duration_value(kind, m, text)
            if seconds is not None and seconds > 0:
                taken.append((m.start(), m.end(), seconds))
    if not taken:
        return None
    best = max(taken, key=lambda c: (_duration_score(text, c[0], c[1]), -c[0]))
    start, end, seconds = best
    tail = lx.DURATION_TAIL.match(text, end)
    end = tail.end() if tail else end
    head = lx.DURATION_HEAD.search(text[:start])
    start = head.start() if head else start
    return seconds, start, end


def _duration_value(kind: str, m: re.Match[str], text: str) -> Fraction | None:
    g = m.groupdict()
    if kind == "half":
        return Fraction(_unit_seconds(g["u"]), 2)
    if kind == "quarter":
        return Fraction(900)
    if kind == "clock":
        if re.search(r"\b(?:at|by|around|from|until|till)\s*$", text[: m.start()], re.I):
            return None  # a time of day
        return parse_timestamp(m.group(0))
    if kind == "compound":
        n1, n2 = number_value(g["n1"]), number_value(g["n2"])
        u1, u2 = _unit_seconds(g["u1"]), _unit_seconds(g["u2"])
        seps = (m.string[m.end("n1"): m.start("u1")], m.string[m.end("n2"): m.start("u2")])
        if (n1 is None or n2 is None or u2 >= u1 or not _unit_ok(g["n1"], g["u1"], seps[0])
                or not _unit_ok(g["n2"], g["u2"], seps[1])):
            return None
        return n1 * u1 + n2 * u2
    n = number_value(g["n"])
    if n is None or not _unit_ok(g["n"], g["u"], g.get("sep") or ""):
        return None
    if kind in ("and_half_after", "and_half_before"):
        return (n + Fraction(1, 2)) * _unit_seconds(g["u"])
    unit = g["u"].lower()
    if g["n"].strip().lower() in ("a", "an") and unit.startswith("sec"):
        return None  # "a second friend" is not a one-second video
    if unit == "s" and not g.get("sep") and lx.DECADE_CONTEXT(text, m):
        return None  # "the 80s", "90s style"
    return n * _unit_seconds(unit)


def _unit_ok(num: str, unit: str, sep: str) -> bool:
    """Single-letter units only after digits ('30s', not 'a m'); 'm' and 'h' only attached ('5m', not '100 m')."""
    if len(unit) > 1:
        return True
    return bool(re.match(r"\d", num.strip())) and (unit.lower() == "s" or not sep)


def _duration_score(text: str, start: int, end: int) -> int:
    score = 0
    if lx.DURATION_NOUN_AFTER.match(text, end):
        score += 2
    before = text[:start]
    if lx.DURATION_CUE_BEFORE.search(before):
        score += 1
    if re.search(r"\b(?:for|every|each|after|within)\s*$", before, re.I):
        score -= 1
    return score
