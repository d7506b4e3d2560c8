"""Words -> facts: the deterministic reading of a request (duration, aspect, mode, subject, setting,
beats, overlays, style, product/brand) that the built-in planner builds its storyboard from."""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..brief import ASPECTS
from ..errors import BriefError
from ..plan import Overlay
from ..timing import Frac
from . import lexicon as lx
from .cards import card_kind
from .times import find_duration, parse_timestamp

DEFAULT_OVERLAY_SECONDS = Fraction(3)
Anchor = Literal["at", "start", "end"]


class OverlaySpec(BaseModel):
    """An overlay as the person said it; "at the end" needs the video's length to become exact."""

    model_config = ConfigDict(extra="forbid")
    text: str
    anchor: Anchor = "at"
    at: Frac = Fraction(0)  # seconds from the start (anchor "at")
    duration: Frac = DEFAULT_OVERLAY_SECONDS
    position: Literal["center", "top", "bottom", "lower-third"] = "center"
    size: float = 0.08
    phrase: str = ""  # the words it came from
    card: Literal["title", "end"] | None = None  # asked for as a title or end card: the card tool draws it

    def resolve(self, total: Fraction) -> Overlay:
        """The exact overlay in a video of `total` seconds. Raises BriefError if it starts after the end."""
        total = Fraction(total)
        dur = min(Fraction(self.duration), total)
        start = {"at": Fraction(self.at), "start": Fraction(0), "end": total - dur}[self.anchor]
        if start >= total:
            raise BriefError(f"overlay {self.text!r} starts at {float(start):g} s, after the video ends at "
                             f"{float(total):g} s ({self.phrase or self.text!r})")
        dur = min(dur, total - start)  # clamp to the end of the video
        return Overlay(text=self.text, start=start, duration=dur, position=self.position, size=self.size)


class RequestFacts(BaseModel):
    """What the words of a request say. Empty/None where the words say nothing."""

    model_config = ConfigDict(extra="forbid")
    text: str
    cleaned: str  # the request with overlay phrases removed
    core: str = ""  # what the video shows, without framing ("make a 1 min video of")
    duration: Frac | None = None
    aspect: str | None = None
    mode: str | None = None
    subject: str = ""
    setting: str = ""  # a prepositional phrase ("in a park"), as stated
    beats: list[str] = Field(default_factory=list)
    overlay_specs: list[OverlaySpec] = Field(default_factory=list)
    style: list[str] = Field(default_factory=list)
    lighting: str = ""
    product: str | None = None
    brand: str | None = None
    tagline: str | None = None
    colors: list[str] = Field(default_factory=list)
    resolution: str | None = None
    fps: Frac | None = None

    @property
    def overlays(self) -> list[Overlay]:
        """Overlays with exact times, resolved against the parsed duration (those anchored at the end
        need a duration: they are left out while none is known; use `overlays_for`)."""
        if self.duration is not None:
            return self.overlays_for(self.duration)
        return [Overlay(text=s.text, start=s.at if s.anchor == "at" else 0, duration=s.duration, position=s.position,
                        size=s.size) for s in self.overlay_specs if s.anchor != "end"]

    def overlays_for(self, total: Fraction) -> list[Overlay]:
        return [s.resolve(total) for s in self.overlay_specs]


def parse_request(text: str) -> RequestFacts:
    """Read a request. Deterministic; words it does not understand leave their fields empty. Raises
    BriefError only for an empty request or an overlay whose own times contradict each other."""
    if not text or not text.strip():
        raise BriefError("the request is empty: say what the video should show")
    work = _Text(text.strip())
    specs = _take_overlays(work)
    cleaned = _squash(work.text)
    tagline = _take_tagline(work)
    aspect = _take_aspect(work)
    resolution, fps = _take_format(work)
    duration = _take_duration(work)
    setting = _take_stated_setting(work)
    style = _find_all(lx.STYLE_WORDS, work.text)
    work.remove_all(lx.STYLE_PHRASE)
    lighting = lighting_of(work.text)
    mode = next((m for m, rx in lx.MODE_HINTS if rx.search(work.text)), None)
    product, brand = _product_and_brand(work.text)
    colors = [m.group(0).lower() for m in lx.COLOUR.finditer(work.text)]
    core = _core(work.text)
    subject, lead_setting, beats = _subject_setting_beats(core, product)
    subject = _subject_from_beats(subject, beats)
    return RequestFacts(
        text=text, cleaned=cleaned, core=core, duration=duration, aspect=aspect, mode=mode, subject=subject,
        setting=setting or lead_setting, beats=beats, overlay_specs=specs, style=style, lighting=lighting,
        product=product, brand=brand, tagline=tagline, colors=list(dict.fromkeys(colors)),
        resolution=resolution, fps=fps)


class _Text:
    """The request being consumed: phrases that were understood are cut out so they don't become beats."""

    def __init__(self, text: str):
        self.text = text

    def cut(self, start: int, end: int, filler: str = " ") -> None:
        self.text = self.text[:start] + filler + self.text[end:]

    def remove_all(self, rx: re.Pattern[str]) -> None:
        self.text = rx.sub(" ", self.text)


def _squash(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" +([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return "\n".join(line.strip() for line in text.splitlines()).strip(" ,;")


def lighting_of(text: str) -> str:
    """The light the words ask for ('at sunset' -> 'warm sunset light with long soft shadows'), or ''."""
    return next(iter(_find_all(lx.LIGHTING_WORDS, text)), "")


def _find_all(table: tuple[tuple[re.Pattern[str], str], ...], text: str) -> list[str]:
    hits = sorted((m.start(), value) for rx, value in table for m in [rx.search(text)] if m)
    return list(dict.fromkeys(value for _, value in hits))


# ---------------------------------------------------------------- overlays

def _take_overlays(work: _Text) -> list[OverlaySpec]:
    specs: list[OverlaySpec] = []
    spans: list[tuple[int, int]] = []
    for m in lx.OVERLAY.finditer(work.text):
        kind = (m.group("kind") or "").lower()
        if not (m.group("verb") or kind or re.search(r"(?i)text|word|caption|title", m.group("conn") or "")):
            continue  # a quote on its own is not an overlay ("a 'Best Boy' bandana")
        quote = next(g for g in (m.group("q1"), m.group("q2"), m.group("q3"), m.group("q4")) if g is not None)
        spec = OverlaySpec(text=quote.strip(), phrase=m.group(0).strip())
        kind = re.sub(r"[\s-]+", " ", kind)
        if kind in ("title card", "title"):
            spec.anchor, spec.size = "start", 0.1
            spec.card = "title" if kind == "title card" else None
        elif kind in ("end card", "end screen", "end slate", "outro card", "outro"):
            spec.anchor, spec.size, spec.card = "end", 0.1, "end"
        elif kind == "lower third":
            spec.position = "lower-third"
        elif kind in ("caption", "subtitle"):
            spec.position = "bottom"
        _apply_overlay_modifiers(spec, m.group("mods") or "")
        specs.append(spec)
        spans.append(m.span())
    for start, end in reversed(spans):
        work.cut(start, end, ", ")
    return specs


def _apply_overlay_modifiers(spec: OverlaySpec, mods: str) -> None:
    for m in lx.OVERLAY_MOD.finditer(mods):
        g = m.groupdict()
        if g.get("last"):
            spec.anchor, spec.duration = "end", parse_timestamp(g["last"])
        elif g.get("first"):
            spec.anchor, spec.duration = "start", parse_timestamp(g["first"])
        elif g.get("startw"):
            spec.anchor = "start"
        elif g.get("endw"):
            spec.anchor = "end"
        elif g.get("at"):
            spec.anchor, spec.at = "at", parse_timestamp(g["at"])
        elif g.get("dur"):
            spec.duration = parse_timestamp(g["dur"])
        elif g.get("until"):
            until = parse_timestamp(g["until"])
            if until <= spec.at:
                raise BriefError(f"overlay {spec.text!r} ends at {float(until):g} s, before it starts at {float(spec.at):g} s")
            spec.duration = until - spec.at
        elif g.get("pos"):
            pos = re.sub(r"[\s-]+", " ", g["pos"].lower())
            spec.position = {"middle": "center", "centre": "center", "lower third": "lower-third"}.get(pos, pos)  # type: ignore[assignment]
    if spec.duration <= 0:
        raise BriefError(f"overlay {spec.text!r} needs a positive duration, got {float(spec.duration):g} s")


def _take_tagline(work: _Text) -> str | None:
    m = lx.TAGLINE.search(work.text)
    if not m:
        return None
    quote = next(g for g in (m.group("q1"), m.group("q2"), m.group("q3"), m.group("q4")) if g is not None)
    work.cut(*m.span(), ", ")
    return quote.strip()


# ---------------------------------------------------------------- aspect, format, duration

def _take_aspect(work: _Text) -> str | None:
    found: list[tuple[int, str]] = []
    for m in lx.ASPECT_RATIO.finditer(work.text):
        ratio = f"{int(m.group('a'))}:{int(m.group('b'))}"
        if ratio in ASPECTS:
            found.append((m.start(), ratio))
    work.text = lx.ASPECT_RATIO.sub(lambda m: " " if f"{int(m.group('a'))}:{int(m.group('b'))}" in ASPECTS else m.group(0), work.text)
    for rx, ratio in lx.ASPECT_WORDS:
        for m in list(rx.finditer(work.text)):
            if _aspect_word_ok(work.text, m):
                found.append((m.start(), ratio))
        work.text = rx.sub(lambda m: " " if _aspect_word_ok(m.string, m) else m.group(0), work.text)
    return min(found)[1] if found else None


def _aspect_word_ok(text: str, m: re.Match[str]) -> bool:
    """'square'/'landscape'/'portrait' are aspects only as formats, not as things ("town square")."""
    word = (m.groupdict().get("w") or "").lower()
    if word not in ("square", "landscape", "portrait"):
        return True
    if m.groupdict().get("fmt") or m.groupdict().get("lead"):
        return True
    if re.match(r"\s*of\b", text[m.end():], re.I):
        return False
    if lx.ASPECT_NOUN_AFTER.match(text, m.end()):
        return True
    before = text[: m.start()].rstrip().lower()
    return before == "" or before.endswith((",", ";", "make it", "and"))


def _take_format(work: _Text) -> tuple[str | None, Fraction | None]:
    resolution = fps = None
    m = lx.RESOLUTION.search(work.text)
    if m:
        value = m.group("res").lower()
        resolution = {"4k": "2160p", "uhd": "2160p", "full hd": "1080p", "hd": "720p"}.get(value, value)
        work.cut(*m.span())
    m = lx.FPS.search(work.text)
    if m:
        fps = Fraction(m.group("fps"))
        work.cut(*m.span())
    return resolution, fps


def _take_duration(work: _Text) -> Fraction | None:
    found = find_duration(work.text)
    if found is None:
        return None
    seconds, start, end = found
    work.cut(start, end)
    return seconds


def _take_stated_setting(work: _Text) -> str:
    m = lx.STATED_SETTING.search(work.text)
    if not m:
        return ""
    place = (m.group("place") or m.group("place2") or "").strip(" ,.;")
    place = re.split(r"(?i)\s+(?:where|while|when|who|that|which|and|as|during)\s+", place)[0]
    work.cut(m.start(), m.start() + m.group(0).index(place) + len(place), ", ")
    return place if re.match(r"(?i)(?:in|at|on|inside|aboard)\b", place) else f"in {place}"


# ---------------------------------------------------------------- product and brand

def _product_and_brand(text: str) -> tuple[str | None, str | None]:
    product = brand = None
    m = lx.PRODUCT.search(text)
    if m:
        phrase = m.group("p").strip(" ,.;:")
        owner = re.match(r"(?P<b>[A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*){0,2})['’]s\s+(?P<rest>.+)", phrase)
        if owner:
            brand, phrase = owner.group("b"), owner.group("rest")
        phrase = re.sub(r"(?i)^(?:my|our|the|a|an|this|his|her|their|new)\s+", "", phrase)
        product = phrase or None
    m = lx.BRAND.search(text)
    if m:
        brand = next(g for g in m.groups() if g).strip(" ,.;:'\"")
    return product, brand


# ---------------------------------------------------------------- subject, setting, beats

def _core(text: str) -> str:
    """What the video shows: the request without 'make me a ... video of'."""
    t = _squash(text)
    m = lx.FRAMING.match(t)
    adjectives = m.group("adj").replace(",", " ").split() if m else []
    if m and not any(lx.is_verbish(w, plural_subject=False) or w.lower() in lx.PREPOSITIONS for w in adjectives):
        rest = t[m.end():]
        t = rest if rest.strip(" ,.;:-") else m.group("adj")
    else:
        t = lx.REQUEST_VERB.sub("", t, count=1)
    t = _squash(lx.TRAILING_FILLER.sub("", t))
    t = re.sub(r"([.;:!?])(?:\s*[,.;:])+", r"\1", t)
    t = re.sub(r"(?i)(?:[\s,]+(?:and|then|with|or))+\s*$", "", t.lstrip(" .,;:").rstrip(" ,;:-"))
    return t.lstrip(" .,;:").rstrip(" ,;:-")


def _subject_setting_beats(core: str, known: str | None = None) -> tuple[str, str, list[str]]:
    if not core:
        return "", "", []
    items = _list_items(core)
    if items is not None:
        preamble, beats = items
        subject, setting, rest = _split_lead(_core(preamble) or preamble, known)
        extra = _split_events(rest, commas=True) if rest else []
        return subject, setting, _drop_non_beats(extra + beats)
    sentences = [s for s in lx.SENTENCE_SPLIT.split(core) if s.strip(" .!?")]
    if not sentences:
        return "", "", []
    subject, setting, rest = _split_lead(sentences[0], known)
    beats = _split_events(rest, commas=True)
    if (len(beats) > 1 and rest.startswith(beats[0]) and not lx.starts_verbish(beats[0])
            and lx.starts_verbish(beats[1]) and re.match(r"\s*,", sentences[0][len(subject):])):
        subject = f"{subject}, {beats.pop(0)}"  # an aside about the subject: "a robot, rusted and old, wanders"
    for sentence in sentences[1:]:
        beats += _split_events(sentence, commas=False)
    return subject, setting, _drop_non_beats(beats)


def _subject_from_beats(subject: str, beats: list[str]) -> str:
    """A list with no preamble ('1. a dog wakes up 2. ...') names its subject in the first item."""
    if subject or not beats:
        return subject
    lead, _, rest = _split_lead(beats[0])
    return lead if rest else ""


def _drop_non_beats(beats: list[str]) -> list[str]:
    """Palette, light and style words ('navy and gold', 'golden hour') describe the look, not an event."""
    return [b for b in beats if not lx.is_look_only(b)]


def _list_items(text: str) -> tuple[str, list[str]] | None:
    lines = text.splitlines()
    marks = [i for i, ln in enumerate(lines) if lx.LIST_LINE.match(ln)]
    if len(marks) >= 2:
        preamble = " ".join(lines[: marks[0]])
        items = [_clean_beat(lx.LIST_LINE.match(lines[i]).group("item")) for i in marks]  # type: ignore[union-attr]
        return preamble, [b for b in items if b]
    numbered = list(lx.INLINE_NUMBER.finditer(text))
    expected = 1
    seq = []
    for m in numbered:
        if int(m.group("n")) == expected:
            seq.append(m)
            expected += 1
    if len(seq) >= 2:
        bounds = [m.end() for m in seq] + [len(text)]
        starts = [m.start() for m in seq[1:]] + [len(text)]
        items = [_clean_beat(text[bounds[i]:starts[i]]) for i in range(len(seq))]
        return text[: seq[0].start()], [b for b in items if b]
    return None


def _split_lead(sentence: str, known: str | None = None) -> tuple[str, str, str]:
    """'a dog in a park going on a walk, ...' -> ('a dog', 'in a park', 'going on a walk, ...').

    `known`: a subject found another way (the product of an ad), taken whole when the sentence opens with it."""
    words = list(re.finditer(r"[\w'’&.-]+|[,;:()]", sentence))

    def tok(k: int) -> str:
        return words[k].group(0).rstrip(".").lower() if k < len(words) else ""

    if known:
        m = re.search(re.escape(known), sentence, re.I)
        lead = sentence[: m.start()].split() if m else []
        if m and len(lead) <= 3 and not any(lx.is_verbish(w) or w.lower() in lx.PREPOSITIONS for w in lead):
            i = next((k for k, w in enumerate(words) if w.start() >= m.end()), len(words))
            extra, setting, rest = _after_subject(sentence, words, i, tok, plural=False)
            return f"{sentence[: m.end()]} {extra}".strip(" ,;:"), setting, rest

    if not words or (lx.is_verbish(tok(0), tok(1), leading=True) and not words[0].group(0)[:1].isupper()):
        return "", "", sentence.strip(" ,;:")
    i = subject_end = 0
    content = plural = False
    while i < len(words):
        t = tok(i)
        if t in ("", ",", ";", ":", "(", ")"):
            break
        if i >= 9:
            break
        if content and t in ("called", "named"):
            name = re.match(r"\s+(?:\"[^\"]+\"|'[^']+'|[A-Z][\w'’&.-]*(?:\s+[A-Z][\w'’&.-]*)*)", sentence[words[i].end():])
            if name:
                subject_end = words[i].end() + name.end()
                while i < len(words) and words[i].start() < subject_end:
                    i += 1
                continue
        if content and (lx.is_verbish(t, tok(i + 1), plural_subject=plural) or t in lx.RELATIVES or t in lx.AUX
                        or (t in lx.PREPOSITIONS and t not in ("of", "with"))):
            break
        if t in lx.DETERMINERS:
            plural = plural or t not in ("a", "an", "the", "my", "our", "your", "his", "her", "their", "its", "this",
                                         "that", "one")
        elif t.isdecimal():
            plural = int(t) > 1
        elif t not in ("of", "with", "and"):
            content = True
            plural = plural or (t.endswith("s") and not t.endswith(("ss", "us", "is", "'s", "’s")))
        subject_end = words[i].end()
        i += 1
    extra, setting, rest = _after_subject(sentence, words, i, tok, plural)
    return f"{sentence[:subject_end]} {extra}".strip(" ,;:"), setting, rest


def _after_subject(sentence: str, words: list[re.Match[str]], i: int, tok: Callable[[int], str], plural: bool) -> tuple[str, str, str]:
    """Prepositional phrases after the subject: places make the setting, anything else describes the subject.
    Returns (more of the subject, setting, the rest: the events)."""
    subject = setting = ""
    while i < len(words) and tok(i) in lx.PREPOSITIONS:
        j = i + 1
        while j < len(words) and tok(j) not in ("", ",", ";", ":", "(", ")") and not (
                lx.is_verbish(tok(j), tok(j + 1), plural_subject=plural) or tok(j) in lx.RELATIVES or tok(j) in lx.AUX
                or (tok(j) in lx.PREPOSITIONS and j > i + 1)):
            j += 1
        phrase = sentence[words[i].start(): words[j - 1].end()]
        if lx.is_place(phrase):
            setting = f"{setting} {phrase}".strip()
        else:
            subject = f"{subject} {phrase}".strip()
        i = j
    rest = sentence[words[i].start():] if i < len(words) else ""
    rest = re.sub(r"(?i)^(?:who|that|which)\s+(?:is\s+|are\s+)?", "", rest.strip(" ,;:"))
    return subject.strip(), setting.strip(" ,;:"), rest.strip()


def _split_events(text: str, *, commas: bool) -> list[str]:
    frags: list[str] = []
    for part in lx.SEQUENCE_SPLIT.split(text):
        pieces = re.split(r"\s*,\s*(?:and\s+)?", part) if commas else [part]
        frags += [p for p in (_clean_beat(x) for x in pieces) if p and not lx.is_look_only(p)]
    return _merge_descriptors(_split_on_and(frags))


def _split_on_and(frags: list[str]) -> list[str]:
    """'getting a pup cup and meeting a friend' -> two events; 'salt and pepper' stays one."""
    out: list[str] = []
    for frag in frags:
        words = frag.split()
        if not words or not lx.starts_verbish(frag):
            out.append(frag)
            continue
        pieces, last = [], 0
        for m in re.finditer(r"\s+and\s+", frag):
            head, tail = frag[last: m.start()], frag[m.end():].split()
            if tail and len(head.split()) >= 2 and lx.same_verb_form(words[0], tail[0]):
                pieces.append(head)
                last = m.end()
        pieces.append(frag[last:])
        out += [p for p in (_clean_beat(x) for x in pieces) if p]
    return out


def _merge_descriptors(frags: list[str]) -> list[str]:
    """Commas also separate descriptions ('a quiet, sunny street'): glue non-events to the event before."""
    if len(frags) < 2:
        return frags
    verbish = [lx.starts_verbish(f) or card_kind(f) is not None for f in frags]  # a card is a beat of its own
    if sum(verbish) * 2 < len(frags):
        return frags  # not a list of actions: keep the person's pieces as they are
    out: list[str] = []
    for frag, is_event in zip(frags, verbish):
        if is_event or not out:
            out.append(frag)
        else:
            out[-1] = f"{out[-1]}, {frag}"
    return out


def _clean_beat(text: str) -> str:
    t = re.sub(r"\s+", " ", text).strip(" ,;:.!?-–•*")
    t = lx.BEAT_LEAD.sub("", t).strip(" ,;:")
    return "" if not t or lx.FILLER_BEAT.fullmatch(t) else t
