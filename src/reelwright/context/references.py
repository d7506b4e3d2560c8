"""Reference selection per shot: which entity images a generator gets (at most its cap), how
the prompt names them, and which entities are described in words instead."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import BriefError
from ..generators.base import ReferenceImage
from ..plan import Cast, Entity, Plan, RefImage, Shot
from .memory import CastMemory

MAX_REFERENCES = 7  # no generator takes more (Grok Imagine: 7); the contract caps here too
ROLE_RANK = {"principal": 0, "speaking": 1, "supporting": 2, "background": 3}
UNSPECIFIED_ROLE_RANK = 2
GROK_STYLES = frozenset({"grok", "xai", "grok-imagine"})
_SOURCE_RANK = {"user": 0, "generated": 1, "frame": 2}


@dataclass
class Selection:
    """The references for one shot, best first, and what the prompt must say about them."""

    shot_id: str
    cap: int
    refs: list[ReferenceImage] = field(default_factory=list)
    described: list[str] = field(default_factory=list)  # entity ids cut by the cap: described in text
    unreferenced: list[str] = field(default_factory=list)  # entity ids with no usable image
    prompt_names: dict[str, str] = field(default_factory=dict)  # entity id -> token in the prompt
    ranking: list[str] = field(default_factory=list)  # every candidate, in rank order
    entities: dict[str, Entity] = field(default_factory=dict)


def reference_token(n: int, kind: str, style: str) -> str:
    """How a prompt in `style` names reference image `n` (1-based) showing an entity of `kind`."""
    if style.lower() in GROK_STYLES:
        return f"<IMAGE_{n}>"
    if kind == "style":
        return f"the style of reference image {n}"
    return f"the {kind} from reference image {n}"


def _shot_index(shot: Shot, plan: Plan | None, memory: CastMemory) -> int:
    if shot.id in memory.shot_order:
        return memory.shot_index(shot.id)
    if plan is not None and any(s.id == shot.id for s in plan.shots):
        return [s.id for s in plan.shots].index(shot.id)
    return len(memory.shot_order)  # a shot memory has not seen yet comes next


def choose_image(entity: Entity, shot: Shot, shot_index: int, memory: CastMemory) -> RefImage | None:
    """One image for the entity in this shot, or None.

    The most recent verified frame reference taken from an earlier shot with the same camera
    (`RefImage.view == shot.camera`) wins: it matches the framing and the latest state. Else the
    canonical image: user references before generated ones before frames, first given first —
    for an entity with no user image that is its first-appearance portrait."""
    def earlier(r: RefImage) -> bool:
        return r.shot is None or (r.shot in memory.shot_order and memory.shot_index(r.shot) < shot_index)

    usable = [r for r in entity.references if r.verified and earlier(r)]
    same_camera = [(memory.shot_index(r.shot), i, r) for i, r in enumerate(usable)
                   if r.source == "frame" and r.shot is not None and r.view == shot.camera]
    if same_camera:
        return max(same_camera, key=lambda t: (t[0], t[1]))[2]
    if not usable:
        return None
    return min(enumerate(usable), key=lambda t: (_SOURCE_RANK.get(t[1].source, 3), t[0]))[1]


def select_references(shot: Shot, plan_or_cast: Plan | Cast, *, generator_cap: int,
                      history: CastMemory | None = None, style: str = "generic") -> Selection:
    """Pick at most `min(7, generator_cap)` reference images for a shot, one per entity.

    Candidates are the shot's entities, ranked by role (principal, speaking, then the rest),
    then by shots since last seen (an entity returning after a long absence ranks higher; one
    never seen before ranks as if just seen), then by id. With `history`, its cast (and the
    frame references it gathered) is used and its shot order measures absence; without, the
    plan's appearances do. Deterministic for the same input."""
    if isinstance(generator_cap, bool) or not isinstance(generator_cap, int) or generator_cap < 0:
        raise BriefError(f"generator_cap must be a whole number ≥ 0, got {generator_cap!r}")
    plan = plan_or_cast if isinstance(plan_or_cast, Plan) else None
    cast = plan.cast if plan is not None else plan_or_cast
    if not isinstance(cast, Cast):
        raise BriefError(f"select_references needs a Plan or a Cast, got {type(plan_or_cast).__name__}")
    if history is None:
        history = CastMemory(cast.model_copy(deep=True))
        if plan is not None:
            history.record_plan(plan)
    cap = min(MAX_REFERENCES, generator_cap)
    index = _shot_index(shot, plan, history)

    candidates = list(dict.fromkeys([*shot.entities, *shot.roles]))
    entities: dict[str, Entity] = {}
    for eid in candidates:
        ent = history.cast.get(eid) or cast.get(eid)
        entities[eid] = ent if ent is not None else Entity(id=eid, name=eid)

    def rank(eid: str) -> tuple[int, int, str]:
        role = ROLE_RANK.get(shot.roles.get(eid, ""), UNSPECIFIED_ROLE_RANK)
        gap = history.shots_since_seen(eid, index) if history.cast.get(eid) is not None else None
        return (role, -(gap or 0), eid)

    ranking = sorted(candidates, key=rank)
    sel = Selection(shot_id=shot.id, cap=cap, ranking=ranking, entities=entities)
    for eid in ranking:
        image = choose_image(entities[eid], shot, index, history)
        if image is None:
            sel.unreferenced.append(eid)
        elif len(sel.refs) < cap:
            sel.refs.append(ReferenceImage(path=image.path, name=entities[eid].name, entity_id=eid))
            sel.prompt_names[eid] = reference_token(len(sel.refs), entities[eid].kind, style)
        else:
            sel.described.append(eid)
    return sel


def _describe(ent: Entity) -> str:
    desc = ent.description.strip().rstrip(".")
    return f"{ent.name}: {desc}." if desc else f"{ent.name} ({ent.kind})."


_TOKEN_SENTENCE = re.compile(r"\s*[^.]*\bappears as shown in <IMAGE_\d+>\.")
_TOKEN = re.compile(r"\s*\(?<IMAGE_\d+>\)?")


def strip_reference_tokens(prompt: str) -> str:
    """The prompt without `<IMAGE_n>` tokens (and the sentences that only carry one), so the tokens can be
    written again for the images actually sent."""
    return _TOKEN.sub("", _TOKEN_SENTENCE.sub("", prompt)).strip()


def apply_to_prompt(prompt: str, selection: Selection, style: str) -> str:
    """The prompt with each reference named the way the generator expects.

    Grok (`style` "grok"/"xai") gets `<IMAGE_n>` right after the entity's first mention; other
    generators get "(the character from reference image n)". An entity the prompt never names
    gets a sentence at the end. Entities cut by the cap are described in words at the end, and
    so are entities with no reference image whose description the prompt lacks."""
    text = prompt.strip()
    tail: list[str] = []
    for n, ref in enumerate(selection.refs, 1):
        ent = selection.entities.get(ref.entity_id) or Entity(id=ref.entity_id, name=ref.name or ref.entity_id)
        token = reference_token(n, ent.kind, style)
        mention = token if style.lower() in GROK_STYLES else f"({token})"
        pattern = re.compile(rf"(?<!\w){re.escape(ent.name)}(?!\w)", re.IGNORECASE)
        match = pattern.search(text) if ent.name else None
        if match:
            text = f"{text[:match.end()]} {mention}{text[match.end():]}"
        else:
            tail.append(f"{ent.name} is {token}.")
    # Cut entities always get words; entities that never had an image only when there is
    # something to add that the dense prompt does not already say.
    words = [selection.entities[e] for e in selection.described if e in selection.entities]
    words += [ent for e in selection.unreferenced if (ent := selection.entities.get(e)) is not None
              and ent.description.strip() and ent.description.strip().rstrip(".").lower() not in text.lower()]
    if words:
        tail.append("Also in the shot, without a reference image: " + " ".join(_describe(e) for e in words))
    return " ".join([text, *tail]) if tail else text


def prompt_with_references(prompt: str, selection: Selection, style: str) -> str:
    """The prompt for the images actually sent. Numbered tokens (`<IMAGE_n>`) a planner wrote are dropped
    and written again, because the harness, not the planner, picks which images go (and in what order);
    a prompt that already names its references in prose ("reference image") is kept as written."""
    text = strip_reference_tokens(prompt)
    if "reference image" in text.lower() and text == prompt.strip():
        return prompt
    return apply_to_prompt(text, selection, style)
