"""Reference selection per shot: the cap, the ranking, memory for returning entities, prompt naming."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from reelwright.brief import Brief
from reelwright.context.memory import CastMemory
from reelwright.context.references import MAX_REFERENCES, apply_to_prompt, select_references
from reelwright.errors import BriefError
from reelwright.plan import Cast, Entity, Plan, RefImage, Shot


def png(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (32, 18), colour).save(path)
    return path


def make_plan(shot_entities, entities=(), roles=None, cameras=None) -> Plan:
    shots = [Shot(id=f"s{i + 1:02d}", beat=f"beat {i + 1}", frames=24, start_frame=24 * i, entities=list(ents),
                  roles=(roles[i] if roles else {}), camera=(cameras[i] if cameras else "static"))
             for i, ents in enumerate(shot_entities)]
    return Plan(brief=Brief(request="a dog walk"), target_frames=24 * len(shots), shots=shots,
                cast=Cast(entities=list(entities)))


def with_refs(tmp_path: Path, ids: list[str], **desc) -> list[Entity]:
    return [Entity(id=e, name=e.capitalize(), description=desc.get(e, ""),
                   references=[RefImage(path=tmp_path / f"{e}.png")]) for e in ids]


TEN = [f"e{i}" for i in range(10)]


@pytest.mark.parametrize("cap", [0, 1, 3, 4, 7, 9, 20])
def test_refs_never_exceed_the_cap_and_no_entity_repeats(tmp_path, cap):
    plan = make_plan([TEN + TEN[:3]], with_refs(tmp_path, TEN))
    sel = select_references(plan.shots[0], plan, generator_cap=cap)
    ids = [r.entity_id for r in sel.refs]
    assert len(ids) <= min(MAX_REFERENCES, cap) and len(ids) == len(set(ids))
    assert len(ids) == min(7, cap, 10)
    assert sorted(ids + sel.described) == sorted(TEN)


def test_a_returning_character_gets_its_reference_from_memory(tmp_path):
    plan = make_plan([["biscuit"]] + [["max"]] * 39 + [["max", "biscuit"]],
                     [Entity(id="biscuit", name="Biscuit"), Entity(id="max", name="Max")])
    mem = CastMemory.from_plan(plan)
    mem.add_frame_reference("biscuit", png(tmp_path / "biscuit_s01.png", (200, 120, 40)), "s01", view="static")
    mem.add_frame_reference("max", png(tmp_path / "max_s40.png", (40, 40, 200)), "s40", view="static")
    sel = select_references(plan.shots[40], plan, generator_cap=1, history=mem)
    assert [(r.entity_id, r.path) for r in sel.refs] == [("biscuit", tmp_path / "biscuit_s01.png")]
    assert sel.described == ["max"]


def test_a_returning_entity_ranks_above_one_seen_in_the_previous_shot(tmp_path):
    plan = make_plan([["biscuit"]] + [["max"]] * 39 + [["max", "biscuit"]], with_refs(tmp_path, ["biscuit", "max"]))
    sel = select_references(plan.shots[40], plan, generator_cap=7)
    assert sel.ranking == ["biscuit", "max"]


def test_role_ranks_before_absence(tmp_path):
    plan = make_plan([["biscuit"]] + [["max"]] * 5 + [["max", "biscuit"]], with_refs(tmp_path, ["biscuit", "max"]),
                     roles=[{}] * 6 + [{"max": "principal", "biscuit": "supporting"}])
    assert select_references(plan.shots[6], plan, generator_cap=1).refs[0].entity_id == "max"


def test_speaking_ranks_after_principal_and_before_the_rest(tmp_path):
    plan = make_plan([["a", "b", "c"]], with_refs(tmp_path, ["a", "b", "c"]),
                     roles=[{"c": "principal", "a": "speaking", "b": "background"}])
    assert select_references(plan.shots[0], plan, generator_cap=7).ranking == ["c", "a", "b"]


def test_ties_are_broken_by_id(tmp_path):
    plan = make_plan([["zed", "amy", "kim"]], with_refs(tmp_path, ["zed", "amy", "kim"]))
    assert [r.entity_id for r in select_references(plan.shots[0], plan, generator_cap=2).refs] == ["amy", "kim"]


def test_selection_is_deterministic(tmp_path):
    plan = make_plan([TEN[:5], TEN[3:], TEN], with_refs(tmp_path, TEN))
    a = select_references(plan.shots[2], plan, generator_cap=4)
    b = select_references(plan.shots[2], plan.model_copy(deep=True), generator_cap=4)
    assert (a.refs, a.described, a.prompt_names) == (b.refs, b.described, b.prompt_names)


def test_selection_does_not_change_the_plan(tmp_path):
    plan = make_plan([["a"], ["a"]], with_refs(tmp_path, ["a"]))
    before = plan.model_dump_json()
    select_references(plan.shots[1], plan, generator_cap=3)
    assert plan.model_dump_json() == before


def test_recent_verified_frame_from_the_same_camera_is_preferred(tmp_path):
    plan = make_plan([["a"], ["a"], ["a"], ["a"]], [Entity(id="a", name="A")],
                     cameras=["close-up", "wide", "close-up", "close-up"])
    mem = CastMemory.from_plan(plan)
    mem.entity("a").references.append(RefImage(path=png(tmp_path / "user.png", (10, 200, 10))))
    for shot, camera in (("s01", "close-up"), ("s02", "wide"), ("s03", "close-up")):
        assert mem.add_frame_reference("a", png(tmp_path / f"{shot}.png", (10, 190, 20)), shot, view=camera)
    assert select_references(plan.shots[3], plan, generator_cap=1, history=mem).refs[0].path.name == "s03.png"
    assert select_references(plan.shots[2], plan, generator_cap=1, history=mem).refs[0].path.name == "s01.png"
    assert select_references(plan.shots[1], plan, generator_cap=1, history=mem).refs[0].path.name == "user.png"


def test_unverified_references_are_not_used(tmp_path):
    plan = make_plan([["a"]], [Entity(id="a", name="A", references=[RefImage(path=tmp_path / "x.png", verified=False)])])
    sel = select_references(plan.shots[0], plan, generator_cap=3)
    assert sel.refs == [] and sel.unreferenced == ["a"]


def test_entities_cut_by_the_cap_are_described_in_the_prompt(tmp_path):
    ents = with_refs(tmp_path, ["biscuit", "max", "pip"], max="a grey whippet in a red collar",
                     pip="a tiny black pug")
    plan = make_plan([["biscuit", "max", "pip"]], ents, roles=[{"biscuit": "principal"}])
    sel = select_references(plan.shots[0], plan, generator_cap=1)
    prompt = apply_to_prompt("Biscuit trots through the park.", sel, "veo")
    assert sel.described == ["max", "pip"]
    assert "Max: a grey whippet in a red collar." in prompt and "Pip: a tiny black pug." in prompt


def test_grok_prompts_name_references_as_image_tokens(tmp_path):
    plan = make_plan([["biscuit", "max"]], with_refs(tmp_path, ["biscuit", "max"]),
                     roles=[{"biscuit": "principal"}])
    sel = select_references(plan.shots[0], plan, generator_cap=7, style="grok")
    assert sel.prompt_names == {"biscuit": "<IMAGE_1>", "max": "<IMAGE_2>"}
    prompt = apply_to_prompt("Biscuit sniffs a lamp post while Max waits.", sel, "grok")
    assert prompt == "Biscuit <IMAGE_1> sniffs a lamp post while Max <IMAGE_2> waits."


def test_other_generators_name_references_in_words(tmp_path):
    ents = with_refs(tmp_path, ["biscuit"]) + [Entity(id="park", name="Park", kind="location",
                                                      references=[RefImage(path=tmp_path / "park.png")])]
    plan = make_plan([["biscuit", "park"]], ents, roles=[{"biscuit": "principal"}])
    sel = select_references(plan.shots[0], plan, generator_cap=3)
    prompt = apply_to_prompt("Biscuit runs.", sel, "runway")
    assert prompt == ("Biscuit (the character from reference image 1) runs. "
                      "Park is the location from reference image 2.")


def test_generator_cap_is_at_most_seven(tmp_path):
    plan = make_plan([TEN], with_refs(tmp_path, TEN))
    sel = select_references(plan.shots[0], plan, generator_cap=50)
    assert sel.cap == 7 and len(sel.refs) == 7


def test_works_from_a_bare_cast(tmp_path):
    shot = Shot(id="x", beat="b", frames=10, entities=["b", "a"])
    sel = select_references(shot, Cast(entities=with_refs(tmp_path, ["a", "b"])), generator_cap=1)
    assert [r.entity_id for r in sel.refs] == ["a"] and sel.described == ["b"]


@pytest.mark.parametrize("cap", [-1, 2.5, "3", True])
def test_bad_cap_raises_quoting_it(tmp_path, cap):
    plan = make_plan([["a"]], with_refs(tmp_path, ["a"]))
    with pytest.raises(BriefError, match="generator_cap"):
        select_references(plan.shots[0], plan, generator_cap=cap)


def test_planner_tokens_are_rewritten_for_the_images_actually_sent(tmp_path):
    """The harness picks the images: a token the planner numbered otherwise is written again, for any
    backend whose style uses tokens; a prompt that already names its references in prose is kept."""
    from reelwright.context.references import prompt_with_references

    plan = make_plan([["biscuit", "max"]], with_refs(tmp_path, ["biscuit", "max"]), roles=[{"max": "principal"}])
    sel = select_references(plan.shots[0], plan, generator_cap=7, style="grok")
    assert sel.prompt_names == {"max": "<IMAGE_1>", "biscuit": "<IMAGE_2>"}
    stale = "Biscuit <IMAGE_1> sniffs a lamp post while Max <IMAGE_2> waits."
    assert prompt_with_references(stale, sel, "grok") == "Biscuit <IMAGE_2> sniffs a lamp post while Max <IMAGE_1> waits."
    prose = "Biscuit (the character from reference image 2) sniffs while Max (reference image 1) waits."
    assert prompt_with_references(prose, sel, "runway") == prose
    assert prompt_with_references("Biscuit sniffs.", sel, "runway").startswith(
        "Biscuit (the character from reference image 2) sniffs.")
