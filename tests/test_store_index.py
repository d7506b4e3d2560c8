"""The run store: an SQLite index in REELWRIGHT_HOME of runs, shots, takes, clips and costs, with schema
migrations, rebuildable from the run folders, and the `runs` / `cost` commands over it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from reelwright.api import make_video
from reelwright.errors import BudgetExceededError, ConfigError
from reelwright.runs.db import MIGRATIONS, connect, db_path, schema_version
from reelwright.runs.index import RunIndex

from .gen_fakes import ScriptedGenerator, scripted  # noqa: F401 (scripted: an autouse fixture)
from .test_cli import assert_clean_user_error, rw


def _make(tmp_path, request="a cat naps, then stretches", **kw):
    return make_video(request, generator="scripted", duration=6, resolution="360p", output=tmp_path / "v.mp4",
                      runs_dir=tmp_path / "runs", **kw)


def test_a_fresh_database_is_migrated_to_the_latest_schema(tmp_path):
    conn = connect(tmp_path / "x.db")
    assert schema_version(conn) == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "shots", "takes", "clips", "costs", "clip_cache", "schema_version"} <= tables


def test_an_older_database_is_brought_forward_keeping_its_rows(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute("INSERT INTO runs (id, folder) VALUES ('r1', '/x')")
    conn.commit()
    conn.close()
    conn = connect(path)
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("SELECT id FROM runs").fetchall() == [("r1",)]
    conn.execute("SELECT key FROM clip_cache").fetchall()  # the later step's table exists


def test_a_database_from_a_newer_version_is_refused_not_misread(tmp_path):
    path = tmp_path / "new.db"
    connect(path).execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS) + 5,))
    with pytest.raises(ConfigError, match="newer reelwright"):
        connect(path)


def test_rebuild_indexes_a_run_folder_with_its_status_shots_takes_and_cost(tmp_path):
    d = _make(tmp_path)
    state = json.loads(d.run.state_path.read_text())
    db_path().unlink(missing_ok=True)  # the index is derived data: it can be lost and rebuilt
    with RunIndex() as index:
        assert index.rebuild([tmp_path / "runs"]) == 1
        (row,) = index.runs()
        assert (row.id, row.status, row.output) == (d.run.id, "done", str(d.output))
        assert row.duration_s == pytest.approx(6.0)
        assert row.cost_usd == pytest.approx(state["spent_usd"]) and row.cost_usd > 0
        assert row.clips == len(d.plan.shots) == len(index.shots(d.run.id))
        takes = index.takes(d.run.id)
        assert {t["shot_id"] for t in takes} == {s.id for s in d.plan.shots}
        assert all(t["status"] == "accepted" for t in takes)
        assert sum(t["cost_usd"] for t in takes) == pytest.approx(state["spent_usd"])


def test_rejected_takes_and_their_cost_are_indexed(tmp_path):
    from reelwright.api import plan_video

    plan = plan_video("a cat naps, then stretches", generator="scripted", duration=6, resolution="360p")
    first = plan.shots[0].id
    ScriptedGenerator.reset({first: ["black"]})
    d = make_video(plan=plan, output=tmp_path / "v.mp4", runs_dir=tmp_path / "runs")
    with RunIndex() as index:
        index.rebuild([tmp_path / "runs"])
        takes = [t for t in index.takes(d.run.id) if t["shot_id"] == first]
        assert [t["status"] for t in takes] == ["rejected", "accepted"]
        assert "black" in takes[0]["reason"].lower()
        assert index.runs()[0].cost_usd == pytest.approx(json.loads(d.run.state_path.read_text())["spent_usd"])


def test_a_stopped_run_is_indexed_as_failed_with_what_it_spent(tmp_path):
    with pytest.raises(BudgetExceededError):
        make_video("a cat naps, then stretches, then eats", generator="scripted", duration=12, resolution="360p",
                   budget_usd=0.5, output=tmp_path / "v.mp4", runs_dir=tmp_path / "runs")
    run_dir = next((tmp_path / "runs").iterdir())
    spent = json.loads((run_dir / "state.json").read_text())["spent_usd"]
    with RunIndex() as index:
        index.rebuild([tmp_path / "runs"])
        (row,) = index.runs()
        assert row.status == "failed" and row.output is None
        assert row.cost_usd == pytest.approx(spent)


def test_rebuild_survives_a_torn_trace_and_a_corrupt_state_file(tmp_path):
    d = _make(tmp_path)
    with d.run.trace_path.open("a") as fh:
        fh.write('{"step": "generate", "status": "do')  # a kill mid-write
    d.run.state_path.write_text("{not json")
    with RunIndex() as index:
        assert index.rebuild([tmp_path / "runs"]) == 1
        (row,) = index.runs()
        assert row.status == "done"  # from the trace's own deliver event
        assert row.cost_usd > 0


def test_rebuild_drops_runs_whose_folder_was_deleted(tmp_path):
    import shutil

    d = _make(tmp_path)
    with RunIndex() as index:
        index.rebuild([tmp_path / "runs"])
        assert len(index.runs()) == 1
        shutil.rmtree(d.run.root)
        index.rebuild([tmp_path / "runs"])
        assert index.runs() == []


def test_runs_and_cost_commands_read_the_index(tmp_path):
    d = _make(tmp_path)
    spent = json.loads(d.run.state_path.read_text())["spent_usd"]
    env = {"REELWRIGHT_RUNS_DIR": str(tmp_path / "runs")}
    proc = rw("runs", "--rebuild", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert row["id"] == d.run.id and row["status"] == "done"
    assert row["cost_usd"] == pytest.approx(spent)
    proc = rw("runs", env=env)
    assert proc.returncode == 0 and d.run.id in proc.stdout and "done" in proc.stdout
    proc = rw("cost", "--by", "backend,model", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    (cost,) = json.loads(proc.stdout)
    assert cost["backend"] == "scripted" and cost["usd"] == pytest.approx(spent)
    assert cost["clips"] == len(d.plan.shots) and cost["runs"] == 1
    proc = rw("cost", "--by", "day", "--json", env=env)
    (by_day,) = json.loads(proc.stdout)
    assert len(by_day["day"]) == 10 and by_day["usd"] == pytest.approx(spent)


def test_cost_refuses_an_unknown_grouping_in_one_line():
    assert_clean_user_error(rw("cost", "--by", "colour"), "colour")


def test_a_database_that_is_not_sqlite_is_one_line_naming_the_fix(tmp_path, _isolated_home):
    (_isolated_home / "reelwright.db").write_bytes(b"this is not a database" * 100)
    assert_clean_user_error(rw("runs"), "--rebuild")
