"""Which beats are cards (title cards, end cards, logo cards, supers) and what a card shows: the deterministic
card tool draws them instead of a video model, which garbles lettering and logos."""

from __future__ import annotations

import re
from typing import Literal

from ..plan import Cast, CardSpec

CardKind = Literal["title", "end", "logo", "super"]

_CARD_WORDS = re.compile(
    r"(?i)\b(?:(?:logo\s+)?(?:title|end|logo|outro|closing|opening|intro|brand)\s+(?:card|slate|screen|frame)s?|"
    r"logo\s+lock-?up|(?:title|end)card)\b")
_SUPER = re.compile(r"(?i)^\s*supers?\b\s*(?::|-|(?=[\"'“‘])|\b(?:card|text)\b)")
_QUOTED = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|(?<!\w)'((?:[^'\n]|(?<=\w)'(?=\w))+)'(?!\w)|‘([^’\n]+)’")
# Words that may sit beside the card words without making the beat about something else ("end card with the logo").
_CARD_FILLER = re.compile(
    r"(?i)\b(?:a|an|the|with|and|our|my|their|its|of|on|showing|shows|show|featuring|logo|tagline|slogan|brand|name|"
    r"text|saying|that|says|reads|reading|big|bold|simple|clean|final|last|first|animated|static|card|super|supers|"
    r"colou?rs?|url|website|handle|cta|call|to|action|at|start|end|beginning)\b|[\s,.;:!?&+-]+")
# Colour words the request may use that are not CSS names (the card tool reads CSS names and #rrggbb).
_COLOURS = {"golden": "gold", "amber": "#ffbf00", "emerald": "#50c878", "cream": "#fffdd0", "mint": "#98ff98",
            "burgundy": "#800020", "charcoal": "#36454f", "copper": "#b87333", "bronze": "#cd7f32"}


def quoted(text: str) -> str:
    """The first quoted words in `text`, or ''."""
    m = _QUOTED.search(text)
    return next((g for g in m.groups() if g), "").strip() if m else ""


def card_kind(beat: str) -> CardKind | None:
    """'logo end card' -> 'end'; 'title card' -> 'title'; "super: 'Stay hydrated'" -> 'super'; None for a beat
    that is an event ('a dog runs past the end card of a film' names a card but is not one)."""
    if _SUPER.search(beat):
        return "super"
    m = _CARD_WORDS.search(beat)
    if not m:
        return None
    rest = _CARD_FILLER.sub(" ", _QUOTED.sub(" ", beat[: m.start()] + " " + beat[m.end():])).split()
    if len(rest) > 2:
        return None
    words = m.group(0).lower()
    if re.search(r"title|opening|intro", words):
        return "title"
    if "logo" in words and not re.search(r"end|outro|closing", words):
        return "logo"
    return "end"


def without_cards(text: str) -> str:
    """The text without its card phrases ('a robot, then it finds a flower, end card' -> 'a robot, then it finds
    a flower'), for titles."""
    parts = re.split(r"(\s*[,;]\s*|\s+then\s+|\s+and\s+)", text)
    kept = [p for p in parts[::2] if p.strip() and card_kind(p) is None]
    return ", ".join(kept) if len(kept) < len([p for p in parts[::2] if p.strip()]) else text


def card_colours(colour_words: list[str]) -> list[str]:
    """The request's colour words as colours the card tool reads ('navy', 'golden' -> 'gold')."""
    return [_COLOURS.get(c.lower(), c.lower()) for c in colour_words][:2]


def logo_palette(cast: Cast, brand: str | None) -> list[str]:
    """The brand's colours read from its logo image (background, accent) as #rrggbb, so every card of the plan —
    the title card too — wears them, and a person sees and can edit them in plan.json. [] without a readable logo."""
    from PIL import Image

    from ..media.cards import logo_colours

    eid = logo_entity(cast, brand)
    ent = cast.get(eid) if eid else None
    if ent is None:
        return []
    try:
        with Image.open(ent.references[0].path) as im:
            found = logo_colours(im)
    except OSError:
        return []  # an unreadable file is reported where references are checked; the card falls back to neutral
    return ["#%02x%02x%02x" % c for c in found]


def logo_entity(cast: Cast, brand: str | None) -> str | None:
    """The entity whose image a card shows: one named like a logo or the brand, else the subject's reference
    (the product or brand the person gave an image of), else none (the card is text only)."""
    with_refs = [e for e in cast.entities if e.references]
    for ent in with_refs:
        name = f"{ent.id} {ent.name}".lower()
        if "logo" in name or (brand and brand.lower() in name):
            return ent.id
    subject = cast.entities[0] if cast.entities else None
    return subject.id if subject is not None and subject.references else None


def card_for(kind: CardKind, beat: str, *, text: str = "", title: str, brand: str | None, product: str | None,
             tagline: str | None, colors: list[str], cast: Cast) -> CardSpec:
    """What the card shows: words the person gave (`text`, or quoted in the beat) first; else a title card shows
    the title, an end card the brand (or product) over the tagline, a logo card the logo (or the brand's name),
    a super the beat's own words."""
    said = text or quoted(beat)
    name = brand or (_cap(product) if product else "")
    logo = logo_entity(cast, brand) if kind in ("end", "logo") else None
    if kind == "super":
        text = said or re.sub(r"(?i)^\s*supers?\b\s*(?:card|text)?\s*[:-]?\s*", "", beat).strip()
        return CardSpec(text=text, colors=colors)
    if kind == "title":
        return CardSpec(text=said or title, colors=colors)
    if kind == "logo":
        return CardSpec(text=said or ("" if logo else name or title), logo=logo, colors=colors)
    text = said or name or tagline or title
    subtitle = tagline if tagline and tagline != text else ""
    return CardSpec(text=text, subtitle=subtitle, logo=logo, colors=colors)


def _cap(text: str) -> str:
    t = re.sub(r"(?i)^(?:the|a|an|my|our|your)\s+", "", text.strip())
    return t[:1].upper() + t[1:]
