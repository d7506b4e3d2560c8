"""Entity memory: user references, appearances, verified frame references, memory.json."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from reelwright.brief import Brief, Reference
from reelwright.context.memory import MEMORY_FILE, CastMemory, consistency_check, consistency_score
from reelwright.errors import BriefError, InputFileError
from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.plan import Cast, Entity, Plan, Shot


def lavfi_png(path: Path, source: str, frame: int = 0, size: str = "320x180") -> Path:
    """One frame of an ffmpeg test source as PNG."""
    run_ffmpeg(["-f", "lavfi", "-i", f"{source}=size={size}:rate=24", "-vf", f"select=eq(n\\,{frame})",
                "-frames:v", "1", str(path)])
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    return {
        "dog": lavfi_png(d / "dog.png", "testsrc2", 0),
        "dog_later": lavfi_png(d / "dog_later.png", "testsrc2", 5),
        "bars": lavfi_png(d / "bars.png", "smptebars", 0),
        "fractal": lavfi_png(d / "fractal.png", "mandelbrot", 0),
    }


def make_plan(shot_entities: list[list[str]], entities: list[Entity] = (), roles: list[dict] | None = None) -> Plan:
    shots = [Shot(id=f"s{i + 1:02d}", beat=f"beat {i + 1}", frames=24, start_frame=24 * i, entities=list(ents),
                  roles=(roles[i] if roles else {})) for i, ents in enumerate(shot_entities)]
    return Plan(brief=Brief(request="a dog walk"), target_frames=24 * len(shots), shots=shots,
                cast=Cast(entities=list(entities)), subject="a dog")


def test_named_reference_creates_or_joins_the_entity(tmp_path):
    mem = CastMemory(Cast(entities=[Entity(id="biscuit", name="Biscuit")]))
    ids = mem.add_user_references([Reference(name="Biscuit", path=tmp_path / "dog.jpg"),
                                   Reference(name="Mr Whiskers", path=tmp_path / "cat.jpg")])
    assert ids == ["biscuit", "mr-whiskers"]
    assert [r.path.name for r in mem.entity("biscuit").references] == ["dog.jpg"]
    assert mem.entity("mr-whiskers").name == "Mr Whiskers"
    assert mem.entity("biscuit").references[0].source == "user"


def test_unnamed_reference_attaches_to_the_principal_subject(tmp_path):
    plan = make_plan([["park", "biscuit"], ["biscuit"]],
                     [Entity(id="park", name="Park", kind="location"), Entity(id="biscuit", name="Biscuit")],
                     roles=[{"biscuit": "principal"}, {"biscuit": "principal"}])
    mem = CastMemory.from_plan(plan)
    assert mem.add_user_references([Reference(path=tmp_path / "dog.jpg")], plan=plan) == ["biscuit"]


def test_unnamed_reference_with_no_cast_makes_the_subject(tmp_path):
    mem = CastMemory()
    assert mem.add_user_references([Reference(path=tmp_path / "x.jpg")], subject="Biscuit") == ["biscuit"]


def test_plan_appearances_give_first_and_last_shot():
    plan = make_plan([["biscuit"], ["max"], ["biscuit", "max"], ["max"]])
    mem = CastMemory.from_plan(plan)
    assert (mem.first_shot("biscuit"), mem.last_shot("biscuit")) == ("s01", "s03")
    assert (mem.first_shot("max"), mem.last_shot("max")) == ("s02", "s04")


def test_shots_since_seen_counts_shots_back_to_the_last_appearance():
    plan = make_plan([["biscuit"]] + [["max"]] * 39 + [["biscuit", "max"]])
    mem = CastMemory.from_plan(plan)
    assert mem.shots_since_seen("biscuit", 40) == 40
    assert mem.shots_since_seen("max", 40) == 1
    assert mem.shots_since_seen("max", 0) is None


def test_appearances_stay_in_shot_order_and_keep_state():
    mem = CastMemory(Cast(entities=[Entity(id="b", name="B")]), shot_order=["s01", "s02", "s03"])
    mem.record_appearance("b", "s03", state="wet")
    mem.record_appearance("b", "s01", frame=12, state="dry")
    mem.record_appearance("b", "s03", state="muddy")
    assert [(a.shot, a.frame, a.state) for a in mem.entity("b").appearances] == [("s01", 12, "dry"), ("s03", None, "muddy")]


def test_unknown_entity_raises_naming_it():
    with pytest.raises(BriefError, match="'ghost'"):
        CastMemory().record_appearance("ghost", "s01")


def test_consistency_check_accepts_a_near_duplicate(images):
    buf = io.BytesIO()
    Image.open(images["dog"]).convert("RGB").save(buf, "JPEG", quality=40)
    recompressed = Image.open(io.BytesIO(buf.getvalue()))
    assert consistency_check(recompressed, [images["dog"]])
    assert consistency_check(images["dog_later"], [images["bars"], images["dog"]])


def test_consistency_check_rejects_an_unrelated_image(images):
    assert not consistency_check(images["fractal"], [images["dog"]])
    assert not consistency_check(images["bars"], [images["dog"], images["fractal"]])


def test_consistency_score_orders_near_above_unrelated(images):
    assert consistency_score(images["dog_later"], images["dog"]) > 0.8 > 0.35 > consistency_score(images["fractal"], images["dog"])


def test_consistency_check_with_no_references_is_false(images):
    assert not consistency_check(images["dog"], [])


def test_frame_reference_is_kept_only_if_consistent(images):
    mem = CastMemory(Cast(entities=[Entity(id="biscuit", name="Biscuit")]))
    mem.add_user_references([Reference(name="Biscuit", path=images["dog"])])
    assert mem.add_frame_reference("biscuit", images["dog_later"], "s02", view="static")
    assert not mem.add_frame_reference("biscuit", images["fractal"], "s03", view="static")
    refs = mem.entity("biscuit").references
    assert [(r.path, r.source, r.shot) for r in refs] == [(images["dog"], "user", None), (images["dog_later"], "frame", "s02")]


def test_first_frame_reference_becomes_the_canonical_portrait(images):
    mem = CastMemory(Cast(entities=[Entity(id="max", name="Max")]))
    assert mem.add_frame_reference("max", images["bars"], "s01", view="static")
    assert not mem.add_frame_reference("max", images["dog"], "s02", view="static")
    assert [r.path for r in mem.entity("max").references] == [images["bars"]]


def test_a_callers_verdict_overrides_the_cheap_check(images):
    mem = CastMemory(Cast(entities=[Entity(id="max", name="Max")]))
    mem.add_frame_reference("max", images["dog"], "s01")
    assert mem.add_frame_reference("max", images["fractal"], "s02", verified=True)
    assert not mem.add_frame_reference("max", images["dog_later"], "s03", verified=False)
    assert not mem.add_frame_reference("max", images["bars"], "s04", check=lambda cand, refs: False)


def test_missing_frame_file_raises(tmp_path):
    mem = CastMemory(Cast(entities=[Entity(id="max", name="Max")]))
    with pytest.raises(InputFileError, match="nope.png"):
        mem.add_frame_reference("max", tmp_path / "nope.png", "s01")


def test_memory_round_trips_through_memory_json(tmp_path, images):
    plan = make_plan([["biscuit"], ["biscuit", "max"]], [Entity(id="biscuit", name="Biscuit", description="a corgi")])
    mem = CastMemory.from_plan(plan)
    mem.add_user_references([Reference(name="Biscuit", path=images["dog"])])
    mem.add_frame_reference("biscuit", images["dog_later"], "s02", view="static")
    mem.record_appearance("max", "s02", frame=10, state="holding a pup cup")
    written = mem.save(tmp_path)
    assert written == tmp_path / MEMORY_FILE
    data = json.loads(written.read_text())
    assert data["shots"] == ["s01", "s02"]
    back = CastMemory.load(tmp_path)
    assert back.to_dict() == mem.to_dict()
    assert back.shots_since_seen("biscuit", 1) == 1
    assert back.entity("biscuit").references[1].shot == "s02"


def test_loading_corrupt_memory_raises_a_clear_error(tmp_path):
    (tmp_path / MEMORY_FILE).write_text("{not json")
    with pytest.raises(BriefError, match="not valid JSON"):
        CastMemory.load(tmp_path)
    (tmp_path / MEMORY_FILE).write_text(json.dumps({"version": 1, "shots": [], "cast": {"entities": [{"id": 3}]}}))
    with pytest.raises(BriefError, match="invalid at entities.0"):
        CastMemory.load(tmp_path)
