"""The harness's half of planning with a chat model: whatever a schema-valid draft says, the plan keeps the
facts — the exact length, every named beat in order, lengths the generator makes, cast ids that resolve,
overlays inside the video, prompts without parameters, distinct prompts, and cards drawn by the card tool."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ..generators.base import Capabilities
from ..plan import Appearance, Cast, CardSpec, Entity, Overlay, Plan, Shot
from ..timing import seconds_to_frames
from .builtin import allocate_segments
from .cards import card_colours, card_for, card_kind, logo_palette
from .durations import DurationRange, longest_duration
from .modes import _DUPLICATES, CAMERAS, Segment, camera_for
from .parse import RequestFacts
from .rewrite import missing_words, strip_parameter_prose
from .styles import uses_negative

if TYPE_CHECKING:
    from .llm_planner import DraftOverlay, LLMPlanDraft

MAX_SHOTS = 400


@dataclass
class Item:
    """One shot as the harness lays it out: from the draft, or restored for a beat the draft dropped."""

    beat: str
    prompt: str
    camera: str
    setting: str
    entities: list[str]  # the draft's ids, resolved later
    wish: Fraction  # seconds the model asked for, clamped to what the generator makes
    named: int | None = None  # index of the person's beat it serves
    card: CardSpec | None = None
    purpose: str = ""
    restored: bool = False  # put back by the harness: its cast is the draft's principal


def shortest_duration(allowed) -> Fraction:
    return allowed.minimum if isinstance(allowed, DurationRange) else min(Fraction(d) for d in allowed)


def _covers(beat: str, text: str) -> bool:
    return not missing_words(beat, text)


def _norm_prompt(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def items_from_draft(draft: LLMPlanDraft, base: Plan, beats: list[str], allowed) -> tuple[list[Item], list[str]]:
    """The draft's shots made to keep the person's beats, in order, at lengths the generator makes."""
    notes: list[str] = []
    lo, hi = shortest_duration(allowed), longest_duration(allowed)
    wishes = [Fraction(repr(s.seconds)) for s in draft.shots if math.isfinite(s.seconds) and s.seconds > 0]
    typical = sorted(wishes)[len(wishes) // 2] if wishes else base.duration / max(1, len(draft.shots))
    items: list[Item] = []
    for s in draft.shots:
        wish = Fraction(repr(s.seconds)) if math.isfinite(s.seconds) and s.seconds > 0 else typical
        if not lo <= wish <= hi:
            notes.append(f"the model asked for a {float(wish):g} s shot (\"{s.beat[:40]}\"); the generator makes "
                         f"{float(lo):g}–{float(hi):g} s")
        items.append(Item(beat=s.beat.strip(), prompt=s.prompt, camera=s.camera.strip() or "medium shot",
                          setting=s.setting.strip(), entities=list(s.entities), wish=min(max(wish, lo), hi)))
    items = _keep_beats_in_order(items, base, beats, notes, typical)
    items = _drop_what_does_not_fit(items, base, lo, notes)
    return items, notes


def _keep_beats_in_order(items: list[Item], base: Plan, beats: list[str], notes: list[str], typical: Fraction) -> list[Item]:
    """Each shot serves the earliest named beat (not before the current one) its words cover; a beat no shot serves
    is restored where it belongs, from an out-of-order shot of the draft or from the built-in plan."""
    current = -1
    spare: dict[int, Item] = {}  # shots that serve an earlier beat out of order, kept to restore it
    kept: list[Item] = []
    for item in items:
        text = f"{item.beat} {item.prompt}"
        covered = [k for k, b in enumerate(beats) if _covers(b, text)]
        ahead = [k for k in covered if k >= current]
        if ahead:
            item.named = current = min(ahead)
            if not _covers(beats[current], item.beat):  # served by the prompt's words: the label says which beat
                item.beat = beats[current]
            kept.append(item)
        elif any(k not in {it.named for it in kept} for k in covered):
            spare.setdefault(min(k for k in covered if k not in {it.named for it in kept}), item)
        else:
            kept.append(item)  # invented (a closing shot may echo a beat already served): kept if it fits
    served = {it.named for it in kept if it.named is not None}
    for k, beat in enumerate(beats):
        if k in served:
            continue
        restored = spare.get(k) or _from_base(base, beat, typical)
        restored.named, restored.restored = k, True
        restored.beat = beat if not _covers(beat, restored.beat) else restored.beat
        at = next((i for i, it in enumerate(kept) if it.named is not None and it.named > k), len(kept))
        if at == len(kept):  # after the last shot of an earlier beat, before invented closing shots
            last = max((i for i, it in enumerate(kept) if it.named is not None and it.named < k), default=-1)
            at = last + 1 if last >= 0 else next((i for i, it in enumerate(kept) if it.named is not None), len(kept))
        kept.insert(at, restored)
        notes.append(f"the beat \"{beat}\" was missing from the model's plan: restored "
                     + ("from its out-of-order shot" if k in spare else "from the built-in plan"))
    return kept


def _from_base(base: Plan, beat: str, typical: Fraction) -> Item:
    shot = next((s for s in base.shots if s.beat == beat), None) or next(
        (s for s in base.shots if _covers(beat, s.beat)), None)
    if shot is None:
        return Item(beat=beat, prompt=beat, camera="medium shot", setting=base.setting, entities=[], wish=typical)
    return Item(beat=beat, prompt=shot.prompt, camera=shot.camera, setting=shot.setting, entities=[],
                wish=typical, card=shot.card, purpose=shot.purpose)


def _drop_what_does_not_fit(items: list[Item], base: Plan, lo: Fraction, notes: list[str]) -> list[Item]:
    """Invented shots go when they repeat a kept prompt, or, latest first, when there are more shots than the video
    holds at the generator's shortest clip (never below one per named beat)."""
    seen: set[str] = set()
    out: list[Item] = []
    for item in items:
        key = _norm_prompt(item.prompt)
        if item.named is None and key in seen:
            notes.append(f"dropped the model's shot \"{item.beat[:40]}\": it repeats an earlier prompt")
            continue
        seen.add(key)
        out.append(item)
    capacity = min(MAX_SHOTS, max(sum(1 for it in out if it.named is not None),
                                  int(base.duration / max(lo, Fraction(1)))))
    while len(out) > capacity:
        drop = next((i for i in range(len(out) - 1, -1, -1) if out[i].named is None), None)
        if drop is None:
            break
        notes.append(f"dropped the model's shot \"{out[drop].beat[:40]}\": no time for it in {float(base.duration):g} s")
        out.pop(drop)
    return out


def distinct_prompts(items: list[Item], base: Plan, notes: list[str]) -> None:
    """Prompts without durations or aspect ratios that differ from shot to shot (a repeated prompt makes the same
    clip twice): a repeated or empty one is replaced by the built-in prompt for its beat, or led by the beat."""
    seen: set[str] = set()
    for item in items:
        if item.card is not None:
            continue
        prompt = strip_parameter_prose(item.prompt)
        if not prompt.strip() or _norm_prompt(prompt) in seen:
            twin = next((s for s in base.shots if s.beat == item.beat and s.kind == "generated"), None)
            prompt = twin.prompt if twin is not None and _norm_prompt(twin.prompt) not in seen else \
                f"{_sentence(item.beat)} {prompt}".strip()
            notes.append(f"the prompt for \"{item.beat[:40]}\" repeated an earlier one (or was empty): rewritten")
        if _norm_prompt(prompt) in seen:
            prompt = f"{prompt} {_sentence(item.camera)}"
        seen.add(_norm_prompt(prompt))
        item.prompt = prompt


def _sentence(text: str) -> str:
    t = text.strip().rstrip(".")
    return (t[:1].upper() + t[1:] + ".") if t else ""


def cards_in(items: list[Item], base: Plan, facts: RequestFacts, cast: Cast) -> list[Item]:
    """Card shots: a draft shot that is a card is drawn by the card tool; the built-in plan's cards that serve no
    named beat (title/end cards the person worded as text, a brand's logo and end cards) keep their place."""
    for item in items:
        kind = card_kind(item.beat)
        if item.card is None and kind is not None:
            twin = next((s.card for s in base.shots if s.card is not None and s.beat == item.beat), None)
            item.card = twin or card_for(kind, item.beat, title=base.title, brand=facts.brand, product=facts.product,
                                         tagline=facts.tagline, cast=cast,
                                         colors=card_colours(facts.colors) or logo_palette(cast, facts.brand))
            shown = " — ".join(t for t in (item.card.text, item.card.subtitle) if t) or "the logo"
            item.prompt, item.purpose = f"{kind} card drawn by the card tool: {shown}", f"{kind} card"
    have = {i.card.text for i in items if i.card is not None}
    first_made = next((i for i, s in enumerate(base.shots) if s.kind == "generated"), len(base.shots))
    head: list[Item] = []
    tail: list[Item] = []
    for i, shot in enumerate(base.shots):
        if shot.card is None or shot.beat in facts.beats or shot.card.text in have:
            continue
        item = Item(beat=shot.beat, prompt=shot.prompt, camera="static", setting="", entities=[],
                    wish=Fraction(shot.frames) / base.fps, card=shot.card, purpose=shot.purpose)
        (head if i < first_made else tail).append(item)
        rx = _DUPLICATES.get(shot.purpose)
        if rx is not None:  # the model's own live-action version of a card the harness draws goes
            items = [it for it in items if it.named is not None or it.card is not None or not rx.search(it.beat)]
    return head + items + tail


def allocate(items: list[Item], base: Plan, allowed) -> list[tuple[int, int, Fraction | None]]:
    """Exact frames per shot: the model's wishes as weights (the person's beats never shorter than invented
    shots, invented ones at most one clip), cards at their own length."""
    segments = [Segment(it.purpose or ("beat" if it.named is not None else "extra"), it.beat, it.beat, it.wish,
                        said=it.named is not None,
                        card=("card" if it.card is not None else None),
                        card_seconds=it.wish if it.card is not None and it.named is None else None)
                for it in items]
    longest_fit = Fraction(math.floor(longest_duration(allowed) * base.fps)) / base.fps
    return allocate_segments(segments, base.target_frames, base.fps, allowed, longest_fit)


def merge_cast(draft: LLMPlanDraft, base: Plan) -> tuple[Cast, dict[str, str]]:
    """The model's cast, keeping the references (and ids) of the entities the person gave images for; ids that
    repeat are merged. Returns the cast and every spelling of an id or name -> the entity id."""
    cast = Cast()
    id_map: dict[str, str] = {}
    labels = {Path(r.path): r.name for r in base.brief.references if r.name}
    given = [e for e in base.cast.entities if e.references]
    keys = {e.id: {norm(e.id), norm(e.name)} | {norm(labels[Path(r.path)]) for r in e.references
                                                if Path(r.path) in labels} for e in given}

    def match(d) -> Entity | None:
        mine = {norm(d.id), norm(d.name)}
        words = set(norm(f"{d.id} {d.name}").split("-"))
        for e in given:
            if mine & keys[e.id] or any(k and set(k.split("-")) <= words for k in keys[e.id]):
                return e
        return None

    reserved = {e.id for e in given}
    used: set[str] = set()
    for d in draft.cast:
        if norm(d.id) in id_map:
            continue  # the same id twice: the first description stands
        known = match(d)
        if known is not None and known.id not in used:
            ent = known.model_copy(update={"description": d.description or known.description, "appearances": []},
                                   deep=True)
        else:
            # norm() leaves only [a-z0-9-]; 56 characters leave room for a "-N" suffix inside plan.SAFE_ID's 64
            # (a model once sent a cast id of over 64 digits, which the plan refused).
            stem = (norm(d.id) or norm(d.name) or "entity")[:56]
            eid, n = stem, 2
            while eid in used or eid in reserved:
                eid, n = f"{stem}-{n}", n + 1
            ent = Entity(id=eid, name=d.name.strip() or eid, kind=d.kind, description=d.description)
        used.add(ent.id)
        cast.entities.append(ent)
        id_map[norm(d.id)] = ent.id
        id_map.setdefault(norm(d.name), ent.id)
    for e in given:  # references the model left out still travel with the plan
        if e.id not in used:
            cast.entities.append(e.model_copy(update={"appearances": []}, deep=True))
            id_map.setdefault(norm(e.id), e.id)
            id_map.setdefault(norm(e.name), e.id)
    return cast, id_map


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def clamp_overlay(o: DraftOverlay, total: Fraction, fps: Fraction) -> Overlay | None:
    """The overlay inside the video (whole frames), or None when it starts after the end or has no text."""
    if not o.text.strip() or not math.isfinite(o.start_s) or not math.isfinite(o.duration_s):
        return None
    start = Fraction(seconds_to_frames(Fraction(repr(max(o.start_s, 0.0))), fps)) / fps
    if start >= total:
        return None
    dur = Fraction(max(1, seconds_to_frames(Fraction(repr(max(o.duration_s, 0.0))), fps))) / fps
    return Overlay(text=o.text.strip(), start=start, duration=min(dur, total - start), position=o.position)


def to_plan(draft: LLMPlanDraft, base: Plan, caps: Capabilities, allowed, style: str, facts: RequestFacts) -> Plan:
    """The plan from a schema-valid draft, with the hard facts enforced by the harness (see the module doc)."""
    items, notes = items_from_draft(draft, base, facts.beats, allowed)
    cast, id_map = merge_cast(draft, base)
    items = cards_in(items, base, facts, cast)
    distinct_prompts(items, base, notes)
    layout = allocate(items, base, allowed)
    subject_id = id_map.get(norm(draft.cast[0].id)) if draft.cast else None
    negative = next((s.negative_prompt for s in base.shots if s.negative_prompt), "") if uses_negative(style) else ""
    unknown: set[str] = set()
    shots: list[Shot] = []
    start = 0
    parts: dict[int, int] = {}
    for n, (i, frames, gen) in enumerate(layout):
        item = items[i]
        shot_id = f"s{n + 1:02d}"
        part = parts[i] = parts.get(i, -1) + 1
        if item.card is not None:
            logo = item.card.logo if item.card.logo and cast.get(item.card.logo) else None
            shots.append(Shot(id=shot_id, beat=item.beat, prompt=item.prompt, start_frame=start, frames=frames,
                              camera="static", seed=base.brief.seed + n, purpose=item.purpose or "card", kind="card",
                              card=item.card.model_copy(update={"logo": logo}), entities=[logo] if logo else []))
        else:
            if item.restored and not item.entities and draft.cast:
                item.entities = [draft.cast[0].id]
            unknown.update(e for e in item.entities if norm(e) not in id_map)
            entity_ids = list(dict.fromkeys(id_map[norm(e)] for e in item.entities if norm(e) in id_map))
            has_refs = any((e := cast.get(eid)) is not None and e.references for eid in entity_ids)
            camera, prompt = item.camera, item.prompt
            if part:  # a beat longer than one clip: the next clip sees the same moment from another angle
                camera = CAMERAS[camera_for(item.beat, None, part)]
                prompt = f"{prompt} The same moment continues, seen as a {camera}."
            shots.append(Shot(
                id=shot_id, beat=item.beat, prompt=prompt, negative_prompt=negative, start_frame=start,
                frames=frames, gen_duration=gen, entities=entity_ids,
                roles={eid: ("principal" if eid == subject_id else "supporting") for eid in entity_ids},
                camera=camera, setting=item.setting or draft.setting,
                source="reference" if has_refs and caps.reference_images and caps.max_references > 0 else "text",
                seed=base.brief.seed + n, purpose=item.purpose or ("beat" if item.named is not None else "")))
        start += frames
        for eid in shots[-1].entities:
            cast.get(eid).appearances.append(Appearance(shot=shot_id))  # type: ignore[union-attr]
    if unknown:
        notes.append(f"the model named cast ids that are not in its cast ({', '.join(sorted(unknown)[:5])}): left out")
    total = base.duration
    overlays = list(base.overlays)
    for o in draft.overlays:
        if any(o.text.strip() == b.text for b in overlays):
            continue
        overlay = clamp_overlay(o, total, base.fps)
        if overlay is None:
            notes.append(f"the model's overlay \"{o.text[:30]}\" starts after the video ends: left out")
        else:
            overlays.append(overlay)
    # the built-in planner's notes on its own shot layout do not describe this plan
    kept_notes = [n for n in base.notes if not re.match(r"\d+ shots for \d+ beats|no time for the |the .* shot is the person", n)]
    asked = sum((Fraction(repr(s.seconds)) for s in draft.shots if math.isfinite(s.seconds)), Fraction(0))
    made = sum(1 for s in shots if s.kind == "generated")
    if asked != total or made != len(draft.shots):
        notes.append(f"the model's shot lengths ({float(asked):g} s in {len(draft.shots)} shots) were fitted to "
                     f"{float(total):g} s in {len(shots)} shots ({made} generated)")
    gen_seconds = sum((s.gen_duration or Fraction(0) for s in shots), Fraction(0))
    return base.model_copy(update={
        "title": draft.title.strip() or base.title, "subject": draft.subject.strip() or base.subject,
        "setting": draft.setting.strip() or base.setting, "style": draft.style.strip() or base.style,
        "shots": shots, "cast": cast, "overlays": sorted(overlays, key=lambda o: o.start),
        "notes": kept_notes + notes, "estimated_cost_usd": round(float(gen_seconds) * caps.price_per_second, 4)})
