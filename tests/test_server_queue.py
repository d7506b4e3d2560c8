"""The durable queue: SQLite with migrations, bounded admission, and a server killed mid-job that finishes the job
after a restart without regenerating one accepted clip. Cancel stops the worker and leaves a resumable run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reelwright.media import probe
from reelwright.server.db import MIGRATIONS, Database, Job
from reelwright.server.queue import JobQueue

from .studio_server import ServerProcess, wait_for


def _job(job_id: str, status: str = "queued", **kw) -> Job:
    return Job(id=job_id, kind="make", status=status, created_at=time.time(), **kw)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def _accepted(run_dir: Path) -> dict[str, dict]:
    state = json.loads((run_dir / "state.json").read_text())
    return state["accepted"]


def _trace(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------- the database
def test_migrations_record_their_version_and_run_once(tmp_path):
    db = Database(tmp_path / "q.sqlite3")
    assert db.version() == MIGRATIONS[-1][0]
    db.insert_job(_job("video_a"))
    db.close()
    again = Database(tmp_path / "q.sqlite3")  # reopening applies nothing twice and keeps the rows
    assert again.version() == MIGRATIONS[-1][0]
    assert again.get_job("video_a").status == "queued"


def test_a_later_migration_extends_an_existing_database(tmp_path, monkeypatch):
    Database(tmp_path / "q.sqlite3").insert_job(_job("video_a"))
    extra = (MIGRATIONS[-1][0] + 1, "CREATE TABLE run_store (id TEXT PRIMARY KEY); -- a semicolon; in a comment\n"
                                    "ALTER TABLE jobs ADD COLUMN label TEXT")
    monkeypatch.setattr("reelwright.server.db.MIGRATIONS", [*MIGRATIONS, extra])
    db = Database(tmp_path / "q.sqlite3")
    assert db.version() == extra[0]
    assert db.get_job("video_a") is not None
    with db.transaction() as c:
        c.execute("INSERT INTO run_store (id) VALUES ('r1')")


def test_a_batch_is_admitted_whole_or_not_at_all(tmp_path):
    from reelwright.errors import QueueFullError

    db = Database(tmp_path / "q.sqlite3")
    queue = JobQueue(db, max_workers=1, max_queued=2)
    with pytest.raises(QueueFullError):
        queue.submit_many([_job("video_a"), _job("video_b"), _job("video_c")])
    assert db.list_jobs() == []
    queue.submit_many([_job("video_a"), _job("video_b")])
    assert db.count("queued") == 2


def test_jobs_of_a_dead_server_are_queued_again_and_live_ones_are_left(tmp_path):
    db = Database(tmp_path / "q.sqlite3")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    db.insert_job(_job("video_dead", "in_progress", owner=f"{dead.stdout.strip()}:x", heartbeat=time.time()))
    db.insert_job(_job("video_live", "in_progress", owner=f"{os.getpid()}:other", heartbeat=time.time()))
    db.insert_job(_job("video_cancelled", "in_progress", owner="1999999:x", heartbeat=0, cancel_requested=True))
    assert JobQueue(db).recover() == ["video_dead"]
    assert db.get_job("video_dead").status == "queued"
    assert db.get_job("video_live").status == "in_progress"
    assert db.get_job("video_cancelled").status == "cancelled"


def test_claiming_takes_the_oldest_job_once(tmp_path):
    db = Database(tmp_path / "q.sqlite3")
    db.insert_job(Job(id="video_new", kind="make", status="queued", created_at=2.0))
    db.insert_job(Job(id="video_old", kind="make", status="queued", created_at=1.0))
    first, second, third = db.claim_next("me:1"), db.claim_next("me:1"), db.claim_next("me:1")
    assert (first.id, second.id, third) == ("video_old", "video_new", None)
    assert first.status == "in_progress" and first.attempts == 1 and first.owner == "me:1"


# ---------------------------------------------------------------------- a real server
def _job_pid(home: Path, job_id: str) -> int | None:
    return Database(home / "reelwright.db").get_job(job_id).pid


def test_a_server_killed_mid_job_finishes_it_after_restart_regenerating_nothing(tmp_path):
    home = tmp_path / "home"
    srv = ServerProcess(home).start()
    try:
        job = srv.submit(prompt="a dog going on a walk, sniffing around, getting a pup cup, meeting a friend",
                      duration=30)
        run_dir = home / "runs" / job["run_id"]
        wait_for(lambda: (run_dir / "state.json").is_file() and len(_accepted(run_dir)) >= 1, interval=0.01)
        worker = _job_pid(home, job["id"])
        srv.kill()
    finally:
        srv.kill()
    before = _accepted(run_dir)
    assert before and _get_status(home, job["id"]) == "in_progress"
    wait_for(lambda: not _alive(worker), timeout=30)  # the worker died with its server: nothing keeps spending
    stamps = {fp: (run_dir / rec["path"]).stat().st_mtime_ns for fp, rec in before.items()}
    lines_before = len(_trace(run_dir))

    srv2 = ServerProcess(home).start()
    try:
        done = wait_for(lambda: (v := srv2.job(job["id"]))["status"] in ("completed", "failed") and v, timeout=300)
    finally:
        srv2.stop()
    assert done["status"] == "completed", done["error"]
    after = _accepted(run_dir)
    for fp, rec in before.items():
        assert after[fp]["path"] == rec["path"]
        assert (run_dir / rec["path"]).stat().st_mtime_ns == stamps[fp]  # the very same file, not made again
    resumed = _trace(run_dir)[lines_before:]
    reused = {e["shot"] for e in resumed if e["step"] == "generate" and e["status"] == "skipped"}
    generated = {e["shot"] for e in resumed if e["step"] in ("generate", "regenerate") and e["status"] == "start" and e.get("shot")}
    assert reused == {rec["shot_id"] for rec in before.values()}
    assert not (generated & reused)
    plan = json.loads((run_dir / "plan.json").read_text())
    assert probe(run_dir / "final.mp4").frames == plan["target_frames"] == 30 * 24


def _get_status(home: Path, job_id: str) -> str:
    return Database(home / "reelwright.db").get_job(job_id).status


def test_cancel_stops_the_worker_at_once_and_resume_reuses_the_accepted_clips(tmp_path):
    home = tmp_path / "home"
    srv = ServerProcess(home).start()
    try:
        job = srv.submit(prompt="a lighthouse keeper climbs the stairs at dawn, lights the lamp, watches ships",
                      duration=30)
        run_dir = home / "runs" / job["run_id"]
        wait_for(lambda: (run_dir / "state.json").is_file() and len(_accepted(run_dir)) >= 1, interval=0.01)
        worker = _job_pid(home, job["id"])
        cancelled = httpx.post(f"{srv.url}/api/runs/{job['id']}/cancel", timeout=30).json()
        assert cancelled["status"] == "cancelled"
        assert cancelled["kept_clips"] >= 1
        assert not _alive(worker)
        kept = _accepted(run_dir)
        lines = len(_trace(run_dir))
        again = httpx.post(f"{srv.url}/api/runs/{job['id']}/resume", timeout=30)
        assert again.status_code == 202 and again.json()["status"] == "queued"
        done = wait_for(lambda: (v := srv.job(job["id"]))["status"] in ("completed", "failed") and v, timeout=300)
        assert done["status"] == "completed", done["error"]
        resumed = _trace(run_dir)[lines:]
        reused = {e["shot"] for e in resumed if e["step"] == "generate" and e["status"] == "skipped"}
        assert {rec["shot_id"] for rec in kept.values()} <= reused
        cancel_again = httpx.post(f"{srv.url}/api/runs/{job['id']}/cancel", timeout=30)
        assert cancel_again.status_code == 409
    finally:
        srv.stop()


def test_a_full_queue_answers_429_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    srv = ServerProcess(home, args=["--max-queued", "2"]).start()
    try:
        r = httpx.post(srv.url + "/api/batches", json={"text": "a red kite\na blue kite\na green kite",
                                                       "defaults": {"duration": 1, "resolution": "360p"}}, timeout=30)
        assert r.status_code == 429
        assert "queue is full" in r.json()["error"]["message"] and int(r.headers["retry-after"]) > 0
        assert not (home / "runs").exists() or not any((home / "runs").iterdir())
    finally:
        srv.stop()


def test_binding_beyond_localhost_without_a_token_is_refused(tmp_path):
    run = subprocess.run([sys.executable, "-m", "reelwright", "serve", "--host", "0.0.0.0", "--port", "1"],
                         capture_output=True, text=True, timeout=60,
                         env={**{k: v for k, v in os.environ.items() if k != "REELWRIGHT_TOKEN"},
                              "REELWRIGHT_HOME": str(tmp_path)})
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "needs a token" in run.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_jobs_on_cluster_without_the_ray_executor_is_refused_in_one_line(tmp_path, how):
    env = {**{k: v for k, v in os.environ.items() if k not in ("REELWRIGHT_EXECUTOR", "REELWRIGHT_JOBS_ON_CLUSTER")},
           "REELWRIGHT_HOME": str(tmp_path), **({"REELWRIGHT_JOBS_ON_CLUSTER": "1"} if how == "env" else {})}
    run = subprocess.run([sys.executable, "-m", "reelwright", "serve", "--port", "1",
                          *(["--jobs-on-cluster"] if how == "flag" else [])],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "needs --executor ray" in run.stderr
    assert not (tmp_path / "reelwright.db").exists()  # refused before anything was made


def test_stopping_the_server_puts_running_jobs_back_in_the_queue(tmp_path):
    home = tmp_path / "home"
    srv = ServerProcess(home).start()
    try:
        job = srv.submit(prompt="a paper boat drifts down a rain gutter and into a puddle", duration=30)
        run_dir = home / "runs" / job["run_id"]
        wait_for(lambda: (run_dir / "state.json").is_file() and len(_accepted(run_dir)) >= 1, interval=0.01)
        worker = _job_pid(home, job["id"])
    finally:
        srv.stop()  # SIGTERM: the server's shutdown stops its workers and requeues their jobs
    assert srv.proc.returncode is not None
    assert not _alive(worker)
    assert _get_status(home, job["id"]) == "queued"
