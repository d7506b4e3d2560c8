"""`reelwright serve --executor ray`: a real studio process that starts one local Ray cluster, and jobs submitted
over its REST API whose clips are made by Ray worker actors (the trace names the worker's pid and node), with the
local pool's exact length and accepted-clip fingerprints; cancel stops the job's Ray workers and leaves a run
that resumes from its accepted clips. One server for the module: Ray starts slowly on small machines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

pytest.importorskip("ray")

from reelwright.api import make_video  # noqa: E402
from reelwright.media import probe  # noqa: E402
from reelwright.server.db import Database  # noqa: E402

from .studio_server import ServerProcess, wait_for  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
MADE_BY = re.compile(r"made by Ray worker pid (\d+) on node ([0-9a-f]{56})")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    home = tmp_path_factory.mktemp("ray-studio")
    srv = ServerProcess(home, args=["--executor", "ray"]).start(timeout=240)  # the server starts Ray before it answers
    yield srv
    srv.stop()


def _ended(srv: ServerProcess, job_id: str, timeout: float = 300) -> dict:
    return wait_for(lambda: (v := srv.job(job_id))["status"] in ("completed", "failed", "cancelled") and v,
                    timeout=timeout)


def _trace(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines() if line.strip()]


def _accepted(run_dir: Path) -> dict[str, dict]:
    path = run_dir / "state.json"
    return json.loads(path.read_text())["accepted"] if path.is_file() else {}


def _made_by(events: list[dict]) -> dict[str, tuple[int, str]]:
    """shot id -> (Ray worker pid, node id) for every clip the trace says a Ray worker made."""
    found = {}
    for e in events:
        m = MADE_BY.search(e.get("message") or "") if e.get("step") == "generate" else None
        if m:
            found[e["shot"]] = (int(m.group(1)), m.group(2))
    return found


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return not stat.read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def test_a_job_on_the_ray_studio_is_made_by_ray_workers_exactly_as_the_local_pool_makes_it(studio, tmp_path):
    prompt = "a dog going on a walk, sniffing around, getting a pup cup"
    job = studio.submit(prompt=prompt, duration=8, generator="animatic")
    assert job["executor"] == "ray"
    done = _ended(studio, job["id"])
    assert done["status"] == "completed", done["error"]
    assert done["executor"] == "ray"
    run_dir = studio.home / "runs" / job["run_id"]
    made = _made_by(_trace(run_dir))
    accepted = _accepted(run_dir)
    assert {rec["shot_id"] for rec in accepted.values()} == set(made)  # every accepted clip came from Ray
    worker_pid = Database(studio.home / "reelwright.db").get_job(job["id"]).pid
    assert all(pid != worker_pid for pid, _ in made.values())  # not the job's own process: a Ray actor
    info = probe(run_dir / "final.mp4")
    assert info.frames == 8 * 24 and abs(float(info.video_duration) - 8) <= 1 / 24
    local = make_video(prompt, output=tmp_path / "local.mp4", runs_dir=tmp_path / "runs", generator="animatic",
                       duration=8, resolution="360p")
    assert sorted(accepted) == sorted(local.run.load_state().accepted)


def test_cancelling_a_ray_job_stops_its_workers_and_resume_reuses_the_accepted_clips(studio):
    job = studio.submit(prompt="a lighthouse keeper climbs the stairs at dawn, lights the lamp, watches ships",
                  duration=30, generator="animatic")
    run_dir = studio.home / "runs" / job["run_id"]
    wait_for(lambda: len(_accepted(run_dir)) >= 1, timeout=300, interval=0.01)
    cancelled = httpx.post(f"{studio.url}/api/runs/{job['id']}/cancel", timeout=60).json()
    assert cancelled["status"] == "cancelled" and cancelled["kept_clips"] >= 1
    assert cancelled["accepted_clips"] < len(json.loads((run_dir / "plan.json").read_text())["shots"])
    ray_pids = {pid for pid, _ in _made_by(_trace(run_dir)).values()}
    assert ray_pids
    wait_for(lambda: not any(_alive(p) for p in ray_pids), timeout=60)  # its Ray workers are gone: no spending
    kept, lines = _accepted(run_dir), len(_trace(run_dir))

    again = httpx.post(f"{studio.url}/api/runs/{job['id']}/resume", timeout=30)
    assert again.status_code == 202
    done = _ended(studio, job["id"])
    assert done["status"] == "completed", done["error"]
    resumed = _trace(run_dir)[lines:]
    reused = {e["shot"] for e in resumed if e["step"] == "generate" and e["status"] == "skipped"}
    assert {rec["shot_id"] for rec in kept.values()} <= reused
    made_again = _made_by(resumed)
    assert made_again and not (set(made_again) & reused)  # the rest made on Ray, the kept clips not again
    for fp, rec in kept.items():
        assert _accepted(run_dir)[fp]["path"] == rec["path"]
    assert probe(run_dir / "final.mp4").frames == 30 * 24


# ---------------------------------------------------------------------- --jobs-on-cluster: whole jobs as Ray tasks
@pytest.fixture(scope="module")
def cluster_studio(tmp_path_factory):
    home = tmp_path_factory.mktemp("ray-jobs-studio")
    srv = ServerProcess(home, args=["--executor", "ray", "--jobs-on-cluster"]).start(timeout=240)
    yield srv
    srv.stop()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ran_as_ray_task(srv: ServerProcess, view: dict) -> dict:
    """The job's record names its Ray task and node, and its worker was the child of a Ray worker, not the server."""
    ran = view["ran_on"]
    assert ran and re.fullmatch(r"[0-9a-f]{48}", ran["ray_task_id"]) and re.fullmatch(r"[0-9a-f]{56}", ran["ray_node_id"])
    assert ran["parent_pid"] != srv.proc.pid and ran["parent"].startswith("ray::"), ran
    assert Database(srv.home / "reelwright.db").get_job(view["id"]).pid is None  # no local worker process
    return ran


def test_with_jobs_on_cluster_a_job_runs_as_a_ray_task_and_makes_the_exact_length(cluster_studio):
    job = cluster_studio.submit(prompt="a dog going on a walk, sniffing around, getting a pup cup", duration=8,
                                generator="animatic")
    done = _ended(cluster_studio, job["id"])
    assert done["status"] == "completed", done["error"]
    assert done["executor"] == "ray"
    _ran_as_ray_task(cluster_studio, done)
    run_dir = cluster_studio.home / "runs" / job["run_id"]
    assert {rec["shot_id"] for rec in _accepted(run_dir).values()} == set(_made_by(_trace(run_dir)))
    info = probe(run_dir / "final.mp4")
    assert info.frames == 8 * 24 and abs(float(info.video_duration) - 8) <= 1 / 24


def test_cancelling_a_cluster_job_stops_its_worker_and_resume_reuses_the_accepted_clips(cluster_studio):
    job = cluster_studio.submit(prompt="a lighthouse keeper climbs the stairs at dawn, lights the lamp, watches ships",
                                duration=30, generator="animatic")
    run_dir = cluster_studio.home / "runs" / job["run_id"]
    wait_for(lambda: len(_accepted(run_dir)) >= 1, timeout=300, interval=0.01)
    ran = _ran_as_ray_task(cluster_studio, cluster_studio.job(job["id"]))
    assert "reelwright.server.worker" in _cmdline(ran["pid"])  # the job's worker, running under its Ray task
    cancelled = httpx.post(f"{cluster_studio.url}/api/runs/{job['id']}/cancel", timeout=60).json()
    assert cancelled["status"] == "cancelled" and cancelled["kept_clips"] >= 1
    assert cancelled["accepted_clips"] < len(json.loads((run_dir / "plan.json").read_text())["shots"])
    ray_pids = {pid for pid, _ in _made_by(_trace(run_dir)).values()}
    wait_for(lambda: not any(_alive(p) for p in {ran["pid"], *ray_pids}), timeout=60)  # no worker left
    kept, lines = _accepted(run_dir), len(_trace(run_dir))

    assert httpx.post(f"{cluster_studio.url}/api/runs/{job['id']}/resume", timeout=30).status_code == 202
    done = _ended(cluster_studio, job["id"])
    assert done["status"] == "completed", done["error"]
    again = _ran_as_ray_task(cluster_studio, done)
    assert again["ray_task_id"] != ran["ray_task_id"]  # a new task ran the resumed job
    resumed = _trace(run_dir)[lines:]
    reused = {e["shot"] for e in resumed if e["step"] == "generate" and e["status"] == "skipped"}
    assert {rec["shot_id"] for rec in kept.values()} <= reused
    for fp, rec in kept.items():
        assert _accepted(run_dir)[fp]["path"] == rec["path"]
    assert probe(run_dir / "final.mp4").frames == 30 * 24
