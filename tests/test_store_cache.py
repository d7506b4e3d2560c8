"""The clip cache across runs (an identical request is never paid for twice) and the run store kept up to
date live by the Director's events, agreeing with what a rebuild from the folders finds."""

from __future__ import annotations

import json

import pytest

from reelwright.api import make_video
from reelwright.media import probe
from reelwright.runs.cache import ClipCache
from reelwright.runs.index import RunIndex

from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401 (scripted: an autouse fixture)
from .test_cli import rw

REQUEST = "a cat naps, then stretches"


@pytest.fixture(autouse=True)
def clip_cache_on(monkeypatch):
    monkeypatch.setenv("REELWRIGHT_CLIP_CACHE", "on")  # the product's default (conftest turns it off for others)


def make(tmp_path, name, request=REQUEST, **kw):
    return make_video(request, generator="scripted", duration=6, resolution="360p", output=tmp_path / f"{name}.mp4",
                      runs_dir=tmp_path / "runs", **kw)


def spent(delivery) -> float:
    return json.loads(delivery.run.state_path.read_text())["spent_usd"]


def test_a_second_identical_make_generates_nothing_and_costs_nothing(tmp_path):
    first = make(tmp_path, "a")
    assert len(ScriptedGenerator.calls) == len(first.plan.shots) and spent(first) > 0
    ScriptedGenerator.calls = []
    second = make(tmp_path, "b")
    assert ScriptedGenerator.calls == []
    assert spent(second) == 0
    report = json.loads(second.run.report_path.read_text())
    assert report["costs"]["generation_usd"] == 0 and report["status"] == "done"
    assert second.run.root != first.run.root
    a, b = probe(first.output), probe(second.output)
    assert (b.frames, b.video_duration) == (a.frames, a.video_duration) == (144, 6)
    trace = [json.loads(line) for line in second.run.trace_path.read_text().splitlines()]
    hits = [e for e in trace if e["step"] == "generate" and e["status"] == "skipped" and e["data"].get("cache")]
    assert len(hits) == len(second.plan.shots)
    with RunIndex() as index:
        rows = {r.id: r for r in index.runs()}
        assert rows[second.run.id].cost_usd == 0
        assert rows[first.run.id].cost_usd == pytest.approx(spent(first))
        assert {s["status"] for s in index.shots(second.run.id)} == {"cached"}
        assert sum(c.usd for c in index.costs(["backend"])) == pytest.approx(spent(first))


def test_a_different_request_or_a_cache_switched_off_is_generated(tmp_path, monkeypatch):
    make(tmp_path, "a")
    ScriptedGenerator.calls = []
    other = make(tmp_path, "b", request="a dog naps, then stretches")
    assert len(ScriptedGenerator.calls) == len(other.plan.shots)
    ScriptedGenerator.calls = []
    monkeypatch.setenv("REELWRIGHT_CLIP_CACHE", "off")
    again = make(tmp_path, "c")
    assert len(ScriptedGenerator.calls) == len(again.plan.shots) and spent(again) > 0


def test_a_reference_image_changed_in_place_is_a_new_request(tmp_path):
    from PIL import Image

    ref = tmp_path / "biscuit.png"
    Image.new("RGB", (64, 64), (200, 120, 40)).save(ref)
    first = make(tmp_path, "a", request="Biscuit the dog naps, then stretches", references=[f"Biscuit={ref}"])
    assert any(e.references for e in first.plan.cast.entities), "the reference reached the plan"
    ScriptedGenerator.calls = []
    make(tmp_path, "b", request="Biscuit the dog naps, then stretches", references=[f"Biscuit={ref}"])
    assert ScriptedGenerator.calls == []  # same path, same bytes: the same clips
    Image.new("RGB", (64, 64), (20, 60, 200)).save(ref)  # same path, another dog
    make(tmp_path, "c", request="Biscuit the dog naps, then stretches", references=[f"Biscuit={ref}"])
    touched = {s.id for s in first.plan.shots if any(e.references for e in first.plan.cast.entities if e.id in s.entities)}
    assert touched and touched <= {c[0] for c in ScriptedGenerator.calls}


def test_cache_command_shows_size_and_prunes(tmp_path):
    first = make(tmp_path, "a")
    proc = rw("cache", "--json")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["clips"] == len(first.plan.shots)
    assert stats["bytes"] == sum(p.stat().st_size for p in ClipCache().root.rglob("*.mp4")) > 0
    ScriptedGenerator.calls = []
    make(tmp_path, "b")
    stats = json.loads(rw("cache", "--json").stdout)
    assert stats["saved_usd"] == pytest.approx(spent(first))
    proc = rw("cache", "--prune", "--max-size", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    pruned = json.loads(proc.stdout)
    assert pruned["removed"] == len(first.plan.shots) and pruned["clips"] == 0 and pruned["bytes"] == 0
    make(tmp_path, "c")
    assert len(ScriptedGenerator.calls) == len(first.plan.shots)  # pruned clips are paid for again


def test_cache_prune_needs_a_limit_and_reads_sizes_strictly():
    from .test_cli import assert_clean_user_error

    assert_clean_user_error(rw("cache", "--prune"), "--max-size")
    assert_clean_user_error(rw("cache", "--prune", "--max-size", "lots"), "lots")
    assert_clean_user_error(rw("cache", "--prune", "--older-than", "soon"), "soon")


def test_the_live_index_agrees_with_a_rebuild_from_the_folders(tmp_path):
    from reelwright.api import plan_video

    plan = plan_video(REQUEST, generator="scripted", duration=6, resolution="360p")
    ScriptedGenerator.reset({plan.shots[0].id: ["black"]})
    d = make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "runs")
    with RunIndex() as index:
        live = (index.runs(), index.takes(d.run.id), index.shots(d.run.id), index.costs())
        index.rebuild([tmp_path / "runs"])
        rebuilt = (index.runs(), index.takes(d.run.id), index.shots(d.run.id), index.costs())
    assert live == rebuilt
    assert live[0][0].status == "done" and live[0][0].cost_usd == pytest.approx(spent(d))
    assert [t["status"] for t in live[1] if t["shot_id"] == plan.shots[0].id] == ["rejected", "accepted"]


def test_a_failed_run_is_indexed_live_as_failed(tmp_path):
    from reelwright.errors import BudgetExceededError

    with pytest.raises(BudgetExceededError):
        make_video("a cat naps, then stretches, then eats", generator="scripted", duration=12, resolution="360p",
                   budget_usd=0.5, output=tmp_path / "v.mp4", runs_dir=tmp_path / "runs")
    with RunIndex() as index:
        (row,) = index.runs()
        assert row.status == "failed" and 0 < row.cost_usd <= 0.5


def test_a_broken_run_database_never_fails_a_run(tmp_path, _isolated_home):
    (_isolated_home / "reelwright.db").write_bytes(b"not a database at all" * 64)
    d = make_video("a cat naps", generator="scripted", duration=2, resolution="360p", output=tmp_path / "v.mp4",
                   runs_dir=tmp_path / "runs")
    assert probe(d.output).frames == 48
    assert json.loads(d.run.state_path.read_text())["status"] == "done"
