"""The built-in planner: a deterministic, offline Brief -> Plan (no language model). Reads the request's
words, lays out the mode's segments, allocates exact frames per shot and writes prompts in the generator's style."""

from __future__ import annotations

import math
import re
from fractions import Fraction

from ..brief import ASPECTS, RESOLUTIONS, Brief, check_length, frame_size
from ..errors import BriefError
from ..generators.base import Capabilities
from ..plan import Appearance, AudioCue, CardSpec, Cast, Entity, Overlay, Plan, RefImage, Role, Shot
from ..timing import fraction_str, seconds_to_frames
from .cards import card_colours, card_for, logo_palette
from .durations import Allocation, DurationRange, allocate_durations, allowed_durations, apportion, longest_duration
from .lexicon import PLACE_NOUNS
from .modes import (CAMERAS, MODE_DEFAULTS, Segment, Story, camera_for, drop_for_time, implied_place, stated_place,
                    story_for, structural_weights)
from .parse import RequestFacts, lighting_of, parse_request
from .styles import style_for_generator, write_prompt

DEFAULT_MODE = "create-video"
GROK_REFERENCE_MAX_SECONDS = Fraction(10)
CARD_SECONDS = Fraction(3)  # a card the person gave no length for stays up this long  # specs/generators.md: reference images need a clip ≤ 10 s


def build_plan(brief: Brief, capabilities: Capabilities) -> Plan:
    """Plan `brief` for a generator with `capabilities`. Same brief and capabilities -> the same plan."""
    facts = parse_request(brief.request)
    mode = brief.mode or facts.mode or DEFAULT_MODE
    defaults = MODE_DEFAULTS[mode]
    notes: list[str] = []
    fps = Fraction(brief.fps)

    seconds, source = _target_seconds(brief, facts, defaults.seconds)
    target_frames = seconds_to_frames(seconds, fps)
    if target_frames < 1:
        raise BriefError(f"{float(seconds):g} s is shorter than one frame at {float(fps):g} fps")
    notes.append(f"length {float(seconds):g} s ({target_frames} frames at {fraction_str(fps)} fps) from {source}")
    aspect = _pick_aspect(brief.aspect or facts.aspect or defaults.aspect, capabilities, notes)
    resolution = _pick_resolution(brief.resolution, capabilities, notes)
    width, height = frame_size(aspect, resolution)
    model = capabilities.model or brief.generator.partition(":")[2]
    style = style_for_generator(capabilities.name, model)
    notes.append(f"prompts written in the {style} style for {capabilities.name}{':' + model if model else ''}")

    story = story_for(mode, facts)
    notes += story.notes
    segments, dropped = drop_for_time(_with_asked_cards(story.segments, facts), seconds)
    for seg in dropped:
        notes.append(f"no time for the {seg.purpose} shot ({float(seconds):g} s for {len(story.segments)} segments)")
    allowed = _allowed_for(capabilities, style, bool(brief.references), notes)
    longest_fit = Fraction(math.floor(longest_duration(allowed) * fps)) / fps  # whole frames of the longest clip
    layout = allocate_segments(segments, target_frames, fps, allowed, longest_fit)
    generated = [seg for seg in segments if seg.card is None]
    if sum(1 for _, _, gen in layout if gen is not None) > len(generated):
        notes.append(f"{sum(1 for _, _, g in layout if g is not None)} shots for {len(generated)} beats: some beats are "
                     f"longer than the longest clip ({float(longest_duration(allowed)):g} s)")

    cast, keys = _make_cast(brief, facts, story)
    shots = _lay_out(segments, layout, _segment_settings(segments, facts, story), cast, keys, brief.seed)
    _make_cards(shots, [segments[i] for i, _, _ in layout], story, facts, cast)
    made = [(shot, segments[i]) for shot, (i, _, _) in zip(shots, layout) if shot.kind == "generated"]
    _write_prompts([m[0] for m in made], [m[1] for m in made], story, facts, style, capabilities, cast)

    total = Fraction(target_frames) / fps
    overlays = _overlays(facts, story, shots, fps, total)
    gen_seconds = sum((s.gen_duration or Fraction(0) for s in shots), Fraction(0))
    resolved = brief.model_copy(update={"mode": mode, "duration": seconds, "aspect": aspect, "resolution": resolution})
    return Plan(
        title=story.title, brief=resolved, mode=mode, generator=brief.generator, fps=fps, width=width, height=height,
        aspect=aspect, target_frames=target_frames, subject=story.subject,
        setting=facts.setting or (shots[0].setting if shots else ""), style=", ".join(story.style_words), shots=shots,
        cast=cast, overlays=overlays, audio=[AudioCue(kind="tone", start=Fraction(0), duration=total)],
        estimated_cost_usd=round(float(gen_seconds) * capabilities.price_per_second, 4), notes=notes)


def _with_asked_cards(segments: list[Segment], facts: RequestFacts) -> list[Segment]:
    """Title and end cards the person worded as on-screen text ("title card 'Day One' at the start") become card
    shots at the start and end; a template end card (brand identity) takes their words."""
    out = list(segments)
    for spec in facts.overlay_specs:
        if spec.card is None or (spec.anchor == "at" and spec.at > 0):
            continue  # text placed mid-video stays an overlay
        seg = Segment(f"{spec.card} card", f"{spec.card} card: {spec.text}", "", Fraction(1), "static", said=True,
                      card=spec.card, card_text=spec.text, card_seconds=Fraction(spec.duration))
        if spec.anchor == "start" or spec.card == "title":
            out.insert(0, seg)
        elif out and out[-1].card == "end" and not out[-1].said:
            out[-1].card_text, out[-1].card_seconds, out[-1].beat = spec.text, seg.card_seconds, seg.beat
        else:
            out.append(seg)
    return out


def allocate_segments(segments: list[Segment], target_frames: int, fps: Fraction, allowed, longest_fit: Fraction
              ) -> list[tuple[int, int, Fraction | None]]:
    """(segment index, frames, generated duration or None for a card) per shot, in order, summing to the target.
    Cards take their own length (any whole number of frames: nothing is generated), at most half of the
    video between them; generated segments share the rest in clips the generator makes, the person's beats
    never shorter than a template beat."""
    cards = [i for i, seg in enumerate(segments) if seg.card is not None]
    made = [i for i, seg in enumerate(segments) if seg.card is None]
    want = [seconds_to_frames(segments[i].card_seconds or CARD_SECONDS, fps) or 1 for i in cards]
    budget = target_frames if not made else min(sum(want), target_frames // 2)
    if cards and budget < len(cards):
        raise BriefError(f"{float(Fraction(target_frames) / fps):g} s is too short for {len(cards)} card(s) and the "
                         "shots: ask for a longer video")
    card_frames = dict(zip(cards, apportion(budget, [Fraction(w) for w in want], lo=1))) if cards else {}
    by_segment: dict[int, list[tuple[int, Fraction | None]]] = {i: [(card_frames[i], None)] for i in cards}
    if made:
        rest = target_frames - budget
        segs = [segments[i] for i in made]
        weights = structural_weights(segs, Fraction(rest) / fps, longest_fit)
        allocations = allocate_durations(rest, fps, allowed, len(segs), weights=weights)
        if not _said_not_shorter(segs, allocations):
            # saving generated seconds moved frames from the person's beats to a template one: keep the shares
            allocations = allocate_durations(rest, fps, allowed, len(segs), weights=weights, tolerance=Fraction(0))
        for a in allocations:
            by_segment.setdefault(made[a.beat], []).append((a.frames, a.gen_duration))
    return [(i, frames, gen) for i in range(len(segments)) for frames, gen in by_segment.get(i, [])]


def _said_not_shorter(segs: list[Segment], allocations: list[Allocation]) -> bool:
    frames = [0] * len(segs)
    for a in allocations:
        frames[a.beat] += a.frames
    said = [f for f, s in zip(frames, segs) if s.said]
    template = [f for f, s in zip(frames, segs) if not s.said]
    return not said or not template or min(said) >= max(template)


def _lay_out(segments: list[Segment], layout: list[tuple[int, int, Fraction | None]], settings: list[str], cast: Cast,
             keys: dict[str, str], seed: int) -> list[Shot]:
    """Shots in order: ids, frames, cameras (varied, never the same twice running), places, entities."""
    all_beats = " ".join(f"{s.beat} {s.action}" for s in segments)
    shots: list[Shot] = []
    previous: str | None = None
    parts: dict[int, int] = {}
    start = 0
    for n, (i, frames, gen) in enumerate(layout):
        seg = segments[i]
        part = parts[i] = parts.get(i, -1) + 1
        shot_id = f"s{n + 1:02d}"
        if seg.card is not None:
            shots.append(Shot(id=shot_id, beat=seg.beat, start_frame=start, frames=frames, camera="static", seed=seed + n,
                              purpose=seg.purpose, kind="card", card=CardSpec(text=seg.card_text or seg.beat)))
            start += frames
            continue
        key = seg.camera if part == 0 and seg.camera and seg.camera != previous else camera_for(seg.beat, previous, part)
        previous = key
        entity_ids = _entities_in(seg, keys, cast, all_beats)
        shots.append(Shot(
            id=shot_id, beat=seg.beat, start_frame=start, frames=frames, gen_duration=gen,
            entities=entity_ids, roles=_roles(entity_ids, keys), camera=CAMERAS[key], setting=settings[i],
            transition="cut", source="text", seed=seed + n, purpose=seg.purpose))
        start += frames
        for eid in entity_ids:
            cast.get(eid).appearances.append(Appearance(shot=shot_id))  # type: ignore[union-attr]
    return shots


def _make_cards(shots: list[Shot], segs: list[Segment], story: Story, facts: RequestFacts, cast: Cast) -> None:
    """What each card shot shows (text, logo, colours) and what it says for a person reading the plan."""
    if not any(seg.card for seg in segs):
        return
    colors = card_colours(facts.colors) or logo_palette(cast, facts.brand)
    for shot, seg in zip(shots, segs):
        if shot.kind != "card" or seg.card is None:
            continue
        shot.card = card_for(seg.card, seg.beat, text=seg.card_text, title=story.title, brand=facts.brand,  # type: ignore[arg-type]
                             product=facts.product, tagline=facts.tagline, colors=colors, cast=cast)
        shown = " — ".join(t for t in (shot.card.text, shot.card.subtitle) if t)
        logo = cast.get(shot.card.logo) if shot.card.logo else None
        shot.prompt = f"{seg.purpose} drawn by the card tool: {shown or 'the logo'}" + (f", with {logo.name}'s image" if logo else "")
        if logo is not None:
            shot.entities = [logo.id]
            logo.appearances.append(Appearance(shot=shot.id))


def _write_prompts(shots: list[Shot], segs: list[Segment], story: Story, facts: RequestFacts, style: str,
                   caps: Capabilities, cast: Cast) -> None:
    """Each shot's dense prompt (and negative) in the generator's style, naming its reference images."""
    # light named inside one beat ("by candlelight") lights that beat; light named elsewhere lights all
    outside_beats = facts.core
    for beat in facts.beats:
        outside_beats = outside_beats.replace(beat, " ")
    base_light = lighting_of(outside_beats) or MODE_DEFAULTS[story.mode].lighting
    for shot, seg in zip(shots, segs):
        names = _reference_names(shot, cast, caps, style)
        if names:
            shot.source = "reference"
        action = seg.action
        if seg.subject and story.subject.lower() not in action.lower():
            action = f"{action} with {story.subject}"  # a presenter's shot still shows the product
        shot.prompt, shot.negative_prompt = write_prompt(
            style, subject=seg.subject or story.subject, action=action, setting=shot.setting, camera=shot.camera,
            lighting=(lighting_of(seg.beat) if seg.said else "") or base_light, mood=seg.mood or story.mood,
            style_words=story.style_words, references=names, audio=caps.audio,
            cue_words=f"{seg.beat if seg.said else ''} {story.subject}")  # sounds only from the person's words


def _target_seconds(brief: Brief, facts: RequestFacts, default: Fraction) -> tuple[Fraction, str]:
    if brief.duration is not None:
        seconds, source = Fraction(brief.duration), "the brief"
    elif facts.duration is not None:
        seconds, source = Fraction(facts.duration), "the request's words"
    else:
        seconds, source = default, "the mode's default"
    check_length(seconds, brief.allow_long)
    return seconds, source


def _allowed_for(caps: Capabilities, style: str, has_references: bool, notes: list[str]) -> list[Fraction] | DurationRange:
    """The generator's durations; Grok Imagine's reference-image mode makes clips of at most 10 s."""
    allowed = allowed_durations(caps)
    if has_references and caps.reference_images and caps.reference_durations:
        limited_list = sorted(set(caps.reference_durations))
        if isinstance(allowed, DurationRange):
            keep = [d for d in limited_list if allowed.minimum <= d <= allowed.maximum]
        else:
            keep = [d for d in limited_list if d in allowed]
        if keep and keep != (allowed if isinstance(allowed, list) else None):
            notes.append(f"clips with reference images must be {', '.join(f'{float(d):g}' for d in keep)} s on {caps.name}")
            return keep
        return allowed
    if not (has_references and style == "grok" and caps.reference_images):
        return allowed
    cap = GROK_REFERENCE_MAX_SECONDS
    if isinstance(allowed, DurationRange):
        if allowed.maximum <= cap or allowed.minimum > cap:
            return allowed
        limited: list[Fraction] | DurationRange = DurationRange(allowed.minimum, allowed.minimum + (cap - allowed.minimum)
                                                                // allowed.step * allowed.step, allowed.step)
    else:
        limited = [d for d in allowed if d <= cap] or allowed
    if limited != allowed:
        notes.append(f"clips with reference images are at most {cap} s on {caps.name}")
    return limited


def _ratio(aspect: str) -> float:
    w, h = ASPECTS[aspect]
    return w / h


def _pick_aspect(wanted: str, caps: Capabilities, notes: list[str]) -> str:
    supported = [a for a in caps.aspects if a in ASPECTS]
    if not supported or wanted in supported:
        return wanted
    best = min(supported, key=lambda a: abs(math.log(_ratio(a) / _ratio(wanted))))
    notes.append(f"{caps.name} does not make {wanted}; using the closest it makes, {best}")
    return best


def _pick_resolution(wanted: str, caps: Capabilities, notes: list[str]) -> str:
    supported = [r for r in caps.resolutions if r in RESOLUTIONS]
    if not supported or wanted in supported:
        return wanted
    below = [r for r in supported if RESOLUTIONS[r] <= RESOLUTIONS[wanted]]
    best = max(below, key=RESOLUTIONS.__getitem__) if below else min(supported, key=RESOLUTIONS.__getitem__)
    notes.append(f"{caps.name} does not make {wanted}; using {best}")
    return best


def _segment_settings(segments: list[Segment], facts: RequestFacts, story: Story) -> list[str]:
    """Each segment's place: one its beat names, else the stated setting, else one its words imply, else the
    previous beat's (the story stays put), else one the whole request implies, else the mode's default.
    Structural shots (opening, hook, end card…) take their neighbours' place."""
    narrative = story.mode in ("create-video", "short-film")
    implied = implied_place(f"{facts.subject} {facts.core}") if narrative else ""
    fallback = facts.setting or implied or story.default_setting
    out: list[str] = []
    for seg in segments:
        if not seg.said:
            out.append("")
            continue
        own = stated_place(seg.beat) or facts.setting or (implied_place(seg.beat) if narrative else "")
        out.append(own or next((s for s in reversed(out) if s), "") or fallback)
    for i, seg in enumerate(segments):
        if not out[i]:
            later = next((s for s in out[i + 1:] if s), "")
            earlier = next((s for s in reversed(out[:i]) if s), "")
            out[i] = (later or earlier if i == 0 else earlier or later) or fallback
    return out


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    words = [w for w in words if w not in ("a", "an", "the", "my", "our", "your", "his", "her", "their", "this")]
    # Ids become file names (plan.SAFE_ID: at most 64): one long word must not make an id the plan refuses.
    return "-".join(words[:4])[:48].strip("-") or "subject"


def _name_of(subject: str) -> str:
    """'my dog Max' -> 'Max'; 'a dog' -> 'dog'; 'the Acme logo' -> 'Acme logo'."""
    words = subject.split()
    named = [w for w in words[1:] if w[:1].isupper()]
    if named and len(named) < len(words):
        return " ".join(named) if subject.split()[-1][:1].isupper() else re.sub(r"(?i)^(?:a|an|the|my|our)\s+", "", subject)
    return re.sub(r"(?i)^(?:a|an|the|my|our|your|his|her|their)\s+", "", subject).strip() or subject


def _make_cast(brief: Brief, facts: RequestFacts, story: Story) -> tuple[Cast, dict[str, str]]:
    """The subject as the principal entity, a UGC presenter, and one entity per named reference.
    Returns the cast and keys -> entity ids ('subject', 'presenter', 'ref:<name>')."""
    cast = Cast()
    keys: dict[str, str] = {}
    used: set[str] = set()

    def add(key: str, name: str, kind: str, description: str) -> Entity:
        base = _slug(name)
        eid, n = base, 2
        while eid in used:
            eid, n = f"{base}-{n}", n + 1
        used.add(eid)
        ent = Entity(id=eid, name=name, kind=kind, description=description)  # type: ignore[arg-type]
        cast.entities.append(ent)
        keys[key] = eid
        return ent

    subject = add("subject", _name_of(story.subject), story.subject_kind, story.subject)
    if story.presenter:
        add("presenter", "creator", "character", story.presenter)
    subject_words = story.subject.lower()
    for ref in brief.references:
        image = RefImage(path=ref.path, view="front", source="user")
        name = (ref.name or "").strip()
        if not name or name.lower() in subject_words or subject.name.lower() in name.lower():
            subject.references.append(image)
            continue
        key = f"ref:{name.lower()}"
        if key in keys:
            cast.get(keys[key]).references.append(image)  # type: ignore[union-attr]
            continue
        add(key, name, _kind_of(name, facts), name).references.append(image)
    return cast, keys


def _kind_of(name: str, facts: RequestFacts) -> str:
    low = name.lower()
    if low in PLACE_NOUNS or any(w in PLACE_NOUNS for w in low.split()[-1:]):
        return "location"
    if "style" in low:
        return "style"
    if "logo" in low:
        return "object"
    if any(thing and low in thing.lower() for thing in (facts.product, facts.brand)):
        return "object"
    return "character"


def _mentions(name: str, text: str) -> bool:
    return bool(name) and re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", text.lower()) is not None


def _entities_in(seg: Segment, keys: dict[str, str], cast: Cast, all_beats: str) -> list[str]:
    """The subject, the segment's extra entities, and named references its beat mentions (a named reference
    no beat mentions is in every shot: the person gave it for a reason; a logo only where a beat names it)."""
    ids = [keys["subject"]] + [keys[k] for k in seg.entities if k in keys]
    text = f"{seg.beat} {seg.action}"
    for key, eid in keys.items():
        ent = cast.get(eid)
        if ent is None or not key.startswith("ref:") or ("logo" in ent.name.lower() and not _mentions(ent.name, text)):
            continue  # a logo is drawn on the cards, not sent to the video model with every shot
        if _mentions(ent.name, text) or not _mentions(ent.name, all_beats):
            ids.append(eid)
    return list(dict.fromkeys(ids))


def _roles(entity_ids: list[str], keys: dict[str, str]) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for eid in entity_ids:
        roles[eid] = "principal" if eid == keys.get("subject") else "speaking" if eid == keys.get("presenter") else "supporting"
    return roles


def _reference_names(shot: Shot, cast: Cast, caps: Capabilities, style: str) -> list[str]:
    """Names of the entities whose images go with this clip, in the order the Director sends them."""
    if not caps.reference_images or caps.max_references <= 0:
        return []
    if not any((e := cast.get(i)) is not None and e.references for i in shot.entities):
        return []  # nothing to send; also spares importing the context package
    try:
        from ..context.references import select_references
    except ImportError:  # the context package is optional to the planner
        select_references = None
    if select_references is not None:
        selection = select_references(shot, cast, generator_cap=caps.max_references, style=style)
        return [ref.name for ref in selection.refs]
    rank = {"principal": 0, "speaking": 1, "supporting": 2, "background": 3}
    with_refs = [e for e in (cast.get(i) for i in shot.entities) if e is not None and e.references]
    with_refs.sort(key=lambda e: (rank.get(shot.roles.get(e.id, ""), 2), e.id))
    return [e.name for e in with_refs[: min(7, caps.max_references)]]


def _overlays(facts: RequestFacts, story: Story, shots: list[Shot], fps: Fraction, total: Fraction) -> list[Overlay]:
    overlays = [s.resolve(total) for s in facts.overlay_specs if s.card is None or (s.anchor == "at" and s.at > 0)]
    if (story.end_card_text and shots and shots[-1].kind != "card"
            and not any(o.end == total and o.start > 0 for o in overlays)):
        last = shots[-1]
        start = Fraction(last.start_frame) / fps
        overlays.append(Overlay(text=story.end_card_text, start=start, duration=total - start, size=0.1))
    return sorted(overlays, key=lambda o: o.start)
