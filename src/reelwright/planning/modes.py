"""The four modes' structures for the built-in planner: create-video, short-film, ugc-product and
brand-identity — their defaults (length, aspect, look) and the segments (beats) a plan is cut into."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from . import lexicon as lx
from .cards import card_kind, without_cards
from .parse import RequestFacts

MIN_SHOT_SECONDS = Fraction(2)  # below this average, optional segments are dropped
STRUCTURAL_MAX_SECONDS = Fraction(8)  # an opening, closing, hook… is one shot at most this long

CAMERAS: dict[str, str] = {
    "establishing": "wide establishing shot, slow push-in",
    "tracking": "medium tracking shot, tracking alongside",
    "close": "close-up, gentle handheld drift",
    "two-shot": "medium two-shot, slow arc around the pair",
    "low": "low-angle medium shot, slow upward tilt",
    "overhead": "high-angle wide shot, slow crane down",
    "dolly": "medium shot, slow dolly-in",
    "pan": "wide shot, smooth pan",
    "orbit": "medium shot, slow orbit",
    "pullback": "wide shot, slow pull-back",
    "selfie": "handheld selfie medium close-up, handheld",
    "macro": "macro close-up, slow lateral slide",
    "centered": "centered symmetrical close-up, slow push-in",
    "centered-wide": "centered symmetrical wide shot, locked-off tripod",
    "glide": "medium shot, smooth lateral glide",
}
_ROTATION = ("dolly", "tracking", "close", "low", "orbit", "pan", "two-shot", "overhead")
_CAMERA_FOR_WORDS = (
    (r"walk|run|stroll|ride|driv|chas|race|trot|hike|jog|march|fly|sail|skat|cycl|wander", "tracking"),
    (r"sniff|eat|drink|tast|lick|smell|read|writ|cook|pour|touch|hold|cup|open|look|watch|unbox|apply|sip", "close"),
    (r"meet|talk|hug|friend|greet|kiss|together|play|danc|share", "two-shot"),
    (r"jump|climb|ris|soar|stand|launch|reach", "low"),
    (r"sleep|nap|rest|relax|sit|lie|lay", "overhead"),
    (r"explor|arriv|enter|discover|find|search|look\s+around", "pan"),
)


@dataclass
class Segment:
    """A part of the plan: one beat, which gets one or more shots."""

    purpose: str  # opening, beat, closing, setup, turn, resolution, hook, problem, product, proof, call to action…
    beat: str  # sparse: the person's words, or a short note for a structural shot
    action: str  # what the subject does, for the dense prompt
    weight: Fraction = Fraction(1)
    camera: str | None = None  # a CAMERAS key for the first shot of the segment
    optional: int = 0  # 0: required; optional ones are dropped highest first when time is short
    subject: str | None = None  # who acts in this segment when it is not the plan's subject
    mood: str | None = None
    entities: list[str] = field(default_factory=list)  # extra entity keys: "presenter"
    said: bool = False  # the beat is the person's own words (not a structural shot)
    card: str | None = None  # a CardKind: drawn by the card tool, never generated
    card_text: str = ""  # words the person gave for the card ("title card 'Day One'")
    card_seconds: Fraction | None = None  # how long the person asked the card to stay up


@dataclass
class Story:
    """What a mode makes of the facts: the subject, the look and the segments."""

    mode: str
    subject: str
    subject_kind: str  # character | object
    style_words: list[str]
    lighting: str
    mood: str
    default_setting: str
    segments: list[Segment]
    title: str
    presenter: str | None = None
    end_card_text: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModeDefaults:
    seconds: Fraction
    aspect: str
    style_words: tuple[str, ...]
    lighting: str
    mood: str
    setting: str


MODE_DEFAULTS: dict[str, ModeDefaults] = {
    "create-video": ModeDefaults(Fraction(30), "16:9", ("cinematic", "photorealistic"), "soft natural daylight",
                                 "warm and inviting", "in a softly lit, everyday location"),
    "short-film": ModeDefaults(Fraction(60), "16:9", ("cinematic",), "motivated cinematic lighting with soft contrast",
                               "emotional and intimate", "in a quiet, atmospheric location"),
    "ugc-product": ModeDefaults(Fraction(30), "9:16", ("ugc", "handheld"), "bright natural window light",
                                "authentic and upbeat", "in a bright, tidy home"),
    "brand-identity": ModeDefaults(Fraction(15), "16:9", ("motion graphics", "minimalist"), "clean, even studio lighting",
                                   "confident and polished", "on a clean studio backdrop"),
}


def camera_for(beat: str, previous: str | None, part: int = 0) -> str:
    """A CAMERAS key that suits the beat's words and differs from the previous shot's."""
    key = None if part else next((k for pattern, k in _CAMERA_FOR_WORDS if re.search(pattern, beat, re.I)), None)
    if key is None or key == previous:
        start = (len(beat) + part) % len(_ROTATION)
        key = next(k for k in _ROTATION[start:] + _ROTATION[:start] if k != previous)
    return key


def stated_place(text: str) -> str:
    """The place a beat names ('meeting a friend at the beach' -> 'at the beach'), or ''."""
    words = list(re.finditer(r"[\w'’-]+", text))
    for i, w in enumerate(words):
        if w.group(0).lower() not in lx.PREPOSITIONS:
            continue
        for j in range(i + 1, min(i + 6, len(words))):
            phrase = text[w.start(): words[j].end()]
            if words[j].group(0).lower() in lx.PLACE_NOUNS and lx.is_place(phrase):
                return phrase
    return ""


def implied_place(text: str) -> str:
    """A place the words suggest ('getting a pup cup' -> 'in a cosy coffee shop'): the earliest hint wins."""
    hits = [(m.start(), i, value) for i, (rx, value) in enumerate(lx.SETTING_HINTS) if (m := rx.search(text))]
    return min(hits)[2] if hits else ""


def drop_for_time(segments: list[Segment], seconds: Fraction) -> tuple[list[Segment], list[Segment]]:
    """Drop optional segments (highest `optional` first, later first) until the average shot is long enough."""
    kept = list(segments)
    dropped: list[Segment] = []
    while seconds / len(kept) < MIN_SHOT_SECONDS:
        candidates = [(s.optional, i) for i, s in enumerate(kept) if s.optional > 0]
        if not candidates:
            break
        _, i = max(candidates)
        dropped.append(kept.pop(i))
    return kept, dropped


# A template segment whose purpose one of the person's beats already serves: (purpose, the beat's words).
_DUPLICATES: dict[str, re.Pattern[str]] = {p: re.compile(rx, re.I) for p, rx in {
    "opening": r"\b(?:open(?:s|ing)?\s+(?:shot|scene|on|with)|establish\w*)\b",
    "closing": r"\b(?:clos(?:es|ing)\s+(?:shot|scene|on|with)|final\s+(?:shot|scene|moment)|end(?:s|ing)?\s+(?:on|with)|"
               r"fade\s+out)\b",
    "hook": r"\b(?:hook|first\s+look|grab\w*\s+attention|up\s+close)\b",
    "problem": r"\b(?:problem|struggl\w*|frustrat\w*|annoy\w*|pain\s+point|hassle|before\s+(?:using|I\s+(?:found|tried|had)))\b",
    "proof": r"\b(?:proof|results?|before\s+and\s+after|after\s+(?:using|a\s+week|a\s+month)|review\w*|testimonial|"
             r"show\w*\s+off|lov(?:e|es|ing)\s+it|delight\w*)\b",
    "call to action": r"\b(?:call[\s-]to[\s-]action|cta|buy|shop\s+now|link\s+in\s+bio|(?<!in\s)order(?:s|ing)?(?!\s+to)|"
                      r"get\s+yours|try\s+it|"
                      r"discount|promo\s+code|(?:logo\s+)?end\s+card|logo\s+card|end\s+screen)\b",
    "logo reveal": r"\b(?:logo\s+(?:reveal|appears|animat\w*|card|lock-?up)|reveal\w*\s+(?:the\s+)?logo)\b",
    "end card": r"\b(?:end\s+(?:card|screen|slate|frame)|outro|closing\s+card)\b",
}.items()}


def merge_duplicates(segments: list[Segment]) -> tuple[list[Segment], list[str]]:
    """Template segments whose purpose a beat of the person's already serves merge into that beat: it keeps
    its words and place, takes the purpose (and the card, for a card template), and at least the weight."""
    said = [s for s in segments if s.said]
    out: list[Segment] = []
    notes: list[str] = []
    taken: set[int] = set()
    for seg in segments:
        rx = None if seg.said else _DUPLICATES.get(seg.purpose)
        twin = next((b for b in said if id(b) not in taken and rx is not None and rx.search(b.beat)), None)
        if twin is None:
            out.append(seg)
            continue
        taken.add(id(twin))
        if twin.card is None:
            twin.purpose, twin.card = seg.purpose, seg.card
        twin.weight = max(twin.weight, seg.weight)
        twin.camera = twin.camera or seg.camera
        notes.append(f"the {seg.purpose} shot is the person's own beat \"{twin.beat}\"")
    return out, notes


def favour_said(segments: list[Segment]) -> None:
    """The person's beats get more time than template beats: each at least weight 1, templates at most 3/4 of
    the lightest of them (cards are timed apart)."""
    said = [s for s in segments if s.said and s.card is None]
    if not said:
        return
    for s in said:
        s.weight = max(Fraction(s.weight), Fraction(1))
    cap = Fraction(3, 4) * min(s.weight for s in said)
    for s in segments:
        if not s.said and s.card is None:
            s.weight = min(Fraction(s.weight), cap)


_OBJECT_PRONOUN = re.compile(r"(?<=\w)(\s+)(?:it|them)\b(?!['’])", re.I)


def resolve_pronouns(beat: str, the: str) -> str:
    """'filling it at the gym' -> 'filling the Tide bottle at the gym': in an ad the object is the product."""
    return _OBJECT_PRONOUN.sub(lambda m: f"{m.group(1)}{the}", beat)


def said_segment(purpose: str, beat: str, action: str, weight: Fraction = Fraction(1), camera: str | None = None,
                 **kw) -> Segment:
    """A segment for one of the person's beats; a beat that is a card ('logo end card') is drawn, not generated."""
    kind = card_kind(beat)
    if kind is not None:
        return Segment(f"{kind} card" if kind != "super" else "super", beat, "", weight, "static", said=True, card=kind)
    return Segment(purpose, beat, action, weight, camera, said=True, **kw)


def structural_weights(segments: list[Segment], seconds: Fraction, longest: Fraction) -> list[Fraction]:
    """Segment weights where each structural segment (opening, closing, hook…) gets at most one shot of
    min(longest clip, 8 s), so long videos spend their time on the person's beats."""
    weights = [Fraction(s.weight) for s in segments]
    if all(not s.said for s in segments):
        return weights
    limit = min(Fraction(longest), STRUCTURAL_MAX_SECONDS)
    for _ in range(len(segments) + 1):
        changed = False
        for i, seg in enumerate(segments):
            total = sum(weights)
            if not seg.said and weights[i] / total * seconds > limit:
                weights[i] = limit * (total - weights[i]) / (seconds - limit)
                changed = True
        if not changed:
            break
    return weights


def _the(thing: str) -> str:
    t = re.sub(r"(?i)^(?:a|an|my|our|the|this|your)\s+", "", thing.strip())
    return f"the {t}" if t else "the product"


def _title(text: str, limit: int = 70) -> str:
    t = re.sub(r"\s+", " ", without_cards(text)).strip(" .,;:")
    if len(t) > limit:
        t = t[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return t[:1].upper() + t[1:]


def story_for(mode: str, facts: RequestFacts) -> Story:
    d = MODE_DEFAULTS[mode]
    style = list(facts.style) or list(d.style_words)
    lighting = facts.lighting or d.lighting
    build = {"create-video": _create_video, "short-film": _short_film, "ugc-product": _ugc_product,
             "brand-identity": _brand_identity}[mode]
    story = build(facts, style, lighting, d)
    story.segments, story.notes = merge_duplicates(story.segments)
    story.segments = _cards_to_the_ends(story.segments)
    favour_said(story.segments)
    return story


def _cards_to_the_ends(segments: list[Segment]) -> list[Segment]:
    """The person's last beat, when it is an end card, closes the video (after the template's closing shots);
    their first, when it is a title card, opens it."""
    said = [s for s in segments if s.said]
    out = list(segments)
    if said and said[-1].card in ("end", "logo") and said[-1] is not out[-1]:
        out.remove(said[-1])
        out.append(said[-1])
    if said and said[0].card == "title" and said[0] is not out[0]:
        out.remove(said[0])
        out.insert(0, said[0])
    return out


def _beats_or_core(facts: RequestFacts) -> list[str]:
    if facts.beats:
        return list(facts.beats)
    rest = facts.core.strip()
    return [rest] if rest else [facts.subject or "the scene"]


def _create_video(facts: RequestFacts, style: list[str], lighting: str, d: ModeDefaults) -> Story:
    subject = facts.subject or "the scene"
    opening, closing = ("pausing for a moment as the scene opens", "settling into a calm final moment as the scene winds down") \
        if facts.subject else ("", "")
    segs = [Segment("opening", "opening: establishing the scene", opening, Fraction(3, 4), "establishing", optional=1)]
    for beat in _beats_or_core(facts):
        segs.append(said_segment("beat", beat, "" if beat == facts.core and not facts.beats else beat))
    # optional=2: when time is short the closing shot goes before the opening does
    segs.append(Segment("closing", "closing: a final moment", closing, Fraction(3, 4), "pullback", optional=2))
    return Story("create-video", subject, "character", style, lighting, d.mood, d.setting, segs,
                 _title(facts.core or subject))


def _short_film(facts: RequestFacts, style: list[str], lighting: str, d: ModeDefaults) -> Story:
    subject = facts.subject or "the protagonist"
    # cards stand outside the acts: before the first event they open the film, after it they close it
    first = next((i for i, b in enumerate(facts.beats) if card_kind(b) is None), len(facts.beats))
    opening_cards = [said_segment("card", b, b) for b in facts.beats[:first]]
    closing_cards = [said_segment("card", b, b) for b in facts.beats[first:] if card_kind(b) is not None]
    beats = [b for b in facts.beats if card_kind(b) is None]
    k = len(beats)
    n_setup = max(1, round(k / 4)) if k >= 2 else 0
    n_res = max(1, round(k / 4)) if k >= 3 else 0
    acts = {"setup": beats[:n_setup], "turn": beats[n_setup: k - n_res], "resolution": beats[k - n_res:] if n_res else []}
    defaults = {
        "setup": ("setup: the everyday world", "going about an ordinary day, quietly", "establishing", "calm and quiet"),
        "turn": ("the turn: something changes", "facing an unexpected change, reacting with visible surprise", "dolly",
                 "tense and searching"),
        "resolution": ("resolution", "finding a quiet resolution, shoulders relaxing", "pullback", "hopeful and warm"),
    }
    share = {"setup": Fraction(1), "turn": Fraction(2), "resolution": Fraction(1)}
    segs: list[Segment] = []
    for act in ("setup", "turn", "resolution"):
        beat_note, action, camera, mood = defaults[act]
        items = acts[act]
        if not items:
            segs.append(Segment(act, beat_note, action, share[act], camera, mood=mood))
            continue
        for i, beat in enumerate(items):
            first_cam = camera if (act == "setup" and i == 0) or (act == "resolution" and i == len(items) - 1) else None
            segs.append(said_segment(act, beat, beat, share[act] / len(items), first_cam, mood=mood))
    segs = opening_cards + segs + closing_cards
    return Story("short-film", subject, "character", style, lighting, d.mood, d.setting, segs, _title(facts.core or subject))


def _ugc_product(facts: RequestFacts, style: list[str], lighting: str, d: ModeDefaults) -> Story:
    product = facts.product or facts.subject or "the product"
    the = _the(product)
    presenter = "a friendly creator"
    p = ["presenter"]
    segs = [Segment("hook", f"hook: {the} up close", f"holding {the} up to the camera with an excited expression",
                    Fraction(3, 5), "selfie", subject=presenter, entities=p),
            Segment("problem", "problem: the everyday struggle", f"showing the everyday frustration that {the} solves",
                    Fraction(1), "close", optional=2, subject=presenter, entities=p)]
    uses = [b for b in facts.beats if b.lower() not in product.lower()]
    if any(card_kind(b) is None for b in uses):
        for beat in uses:
            action = resolve_pronouns(beat, the)
            action = action if re.search(re.escape(the.split()[-1]), action, re.I) else f"{action} with {the}"
            segs.append(said_segment("product in use", beat, action, Fraction(7, 5) / len(uses),
                                     "macro" if beat is uses[0] else None, subject=presenter, entities=p))
    else:
        segs.append(Segment("product in use", f"{the} in use", f"using {the}, showing how it works up close",
                            Fraction(7, 5), "macro", subject=presenter, entities=p))
        segs += [said_segment("product in use", b, b) for b in uses]  # cards the person asked for
    segs += [Segment("proof", "proof: the result", f"showing the result of using {the} and reacting with genuine delight",
                     Fraction(1), "dolly", optional=1, subject=presenter, entities=p),
             Segment("call to action", "call to action", f"pointing to {the} and inviting viewers to try it",
                     Fraction(4, 5), "selfie", subject=presenter, entities=p)]
    title = _title(f"{facts.brand + ' ' if facts.brand and facts.brand not in product else ''}{product} — UGC ad")
    return Story("ugc-product", product, "object", style, lighting, d.mood, d.setting, segs, title, presenter=presenter,
                 end_card_text=facts.tagline)


def _brand_identity(facts: RequestFacts, style: list[str], lighting: str, d: ModeDefaults) -> Story:
    brand = facts.brand or facts.subject or "the brand"
    logo = f"the {brand} logo" if facts.brand or facts.subject else "the brand logo"
    colours = " and ".join(facts.colors[:3]) if facts.colors else "the brand colours"
    segs = [Segment("logo reveal", f"logo reveal: {brand}", "", Fraction(6, 5), "static", card="logo"),
            Segment("palette", f"palette: {colours}",
                    f"dissolving into flowing abstract shapes in {colours} that sweep across the frame", Fraction(1), "glide",
                    optional=1)]
    for beat in facts.beats:
        segs.append(said_segment("brand moment", beat, beat))
    note = f"end card: {facts.tagline}" if facts.tagline else "end card"
    segs.append(Segment("end card", note, "", Fraction(1), "static", card="end"))
    return Story("brand-identity", logo, "object", style, lighting, d.mood, d.setting, segs, _title(f"{brand} brand identity"),
                 end_card_text=facts.tagline or (facts.brand if facts.brand else None))
