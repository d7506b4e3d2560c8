"""Card shots end to end: a title card and a logo end card are drawn by the card tool, never sent to the
generator, cost nothing, and the delivered video is still exactly the asked length."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw

from reelwright.api import make_video
from reelwright.media import extract_frame, probe

from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401 (scripted: an autouse fixture)

REQUEST = ("a 12 second UGC ad for the Tide water bottle: filling it at the gym, drinking from it on a run, "
           "logo end card. Title card 'Stay hydrated' at the start")


@pytest.fixture
def logo(tmp_path):
    im = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(im).ellipse([50, 50, 250, 250], fill=(240, 110, 20))
    path = tmp_path / "logo.png"
    im.save(path)
    return path


def test_cards_are_drawn_not_generated_and_cost_nothing(tmp_path, logo):
    out = tmp_path / "ad.mp4"
    delivery = make_video(REQUEST, output=out, runs_dir=tmp_path / "runs", generator="scripted", resolution="360p",
                          references=[f"logo={logo}"])
    plan = delivery.plan
    cards = [s for s in plan.shots if s.kind == "card"]
    assert [s.purpose for s in cards] == ["title card", "end card"]
    assert (plan.shots[0].kind, plan.shots[-1].kind) == ("card", "card")
    info = probe(out)
    assert info.frames == plan.target_frames == 12 * 24
    called = {c[0] for c in ScriptedGenerator.calls}
    assert called == {s.id for s in plan.shots if s.kind == "generated"}  # the generator never saw a card
    report = json.loads(delivery.run.report_path.read_text())
    for card in cards:
        rec = report["shots_by_id"][card.id]
        assert rec["cost_usd"] == 0 and rec["seconds_generated"] == 0
    made = sum(float(s.gen_duration) for s in plan.shots if s.kind == "generated")
    assert report["costs"]["generation_usd"] == pytest.approx(made * ScriptedGenerator.price)
    assert report["warnings"] == []
    events = [json.loads(line) for line in delivery.run.trace_path.read_text().splitlines()]
    assert {e.get("shot") for e in events if e["step"] == "card" and e["status"] == "done"} == {s.id for s in cards}
    # the end card shows the logo's orange (read from the reference image), the title card its words
    end = cards[-1]
    middle = plan.shot_start(end) + plan.shot_duration(end) / 2
    frame = Image.open(extract_frame(out, tmp_path / "end.png", time=middle)).convert("RGB")
    r, g, b = frame.getpixel((4, plan.height // 2))
    assert r > 150 and b < 90, (r, g, b)
    assert cards[0].card.colors == cards[-1].card.colors  # the title card wears the brand's colours too
    title = Image.open(extract_frame(out, tmp_path / "title.png", frame=cards[0].frames // 2)).convert("RGB")
    assert title.getpixel((4, plan.height // 2)) == frame.getpixel((4, plan.height // 2))


def test_a_resumed_run_reuses_its_cards(tmp_path, logo):
    from reelwright.api import resume_run

    first = make_video(REQUEST, output=tmp_path / "a.mp4", runs_dir=tmp_path / "runs", generator="scripted",
                       resolution="360p", references=[f"logo={logo}"])
    state = json.loads((first.run.root / "state.json").read_text())
    cards = {s.id for s in first.plan.shots if s.kind == "card"}
    assert cards <= {rec["shot_id"] for rec in state["accepted"].values()}
    ScriptedGenerator.reset()
    again = resume_run(first.run.root, runs_dir=tmp_path / "runs", output=tmp_path / "b.mp4")
    assert ScriptedGenerator.calls == [] and probe(tmp_path / "b.mp4").frames == again.plan.target_frames
