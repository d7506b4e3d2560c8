"""`--executor ray` with a real Ray started in-process (2 CPUs): limits held across workers, a model loaded
once per worker, and the same video as the local pool. Ray starts slowly on small machines: one cluster for
the module, few tests."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from reelwright.api import make_video  # noqa: E402
from reelwright.errors import BriefError, ModerationError  # noqa: E402
from reelwright.executors import check_executor  # noqa: E402
from reelwright.executors.ray_generator import RayGenerator, pack_request, raise_record, unpack_request  # noqa: E402
from reelwright.generators.base import ClipRequest, ReferenceImage  # noqa: E402
from reelwright.generators.openai_videos import OpenAIVideosGenerator  # noqa: E402
from reelwright.media import probe  # noqa: E402
from tests.fakes.gen_helpers import png, probe_frames  # noqa: E402
from tests.fakes.openai_videos_server import OmniFake  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
WAN = "Wan-AI/Wan2.2-T2V-A14B-Diffusers"


@pytest.fixture(scope="module")
def cluster():
    from reelwright.executors.ray_cluster import connect

    connect(num_cpus=2)
    yield ray
    ray.shutdown()


def request(tmp_path: Path, i: int = 0, **kw) -> ClipRequest:
    base = dict(shot_id=f"s{i}", prompt=f"shot {i}: a dog on a walk", duration=Fraction(17, 16), width=160,
                height=96, aspect="16:9", resolution="360p", seed=i, out_path=tmp_path / "clips" / f"s{i}.mp4")
    base.update(kw)
    return ClipRequest(**base)


def test_a_request_travels_with_its_files_and_comes_back_with_local_paths(tmp_path):
    first, ref = png(tmp_path / "first.png"), png(tmp_path / "biscuit.png", (200, 0, 0))
    req = request(tmp_path, image=first, references=[ReferenceImage(path=ref, name="Biscuit")])
    there = tmp_path / "worker"
    there.mkdir()
    moved = unpack_request(pack_request(req), there)
    assert moved.image.read_bytes() == first.read_bytes() and moved.image.parent == there
    assert moved.references[0].path.read_bytes() == ref.read_bytes() and moved.references[0].name == "Biscuit"
    assert moved.out_path.parent == there / "out" and moved.prompt == req.prompt


def test_errors_come_back_as_the_same_kind():
    with pytest.raises(ModerationError, match="refused"):
        raise_record({"type": "ModerationError", "message": "refused", "retry_after": None})
    with pytest.raises(BriefError, match="unknown executor 'spark'"):
        check_executor("spark")


@pytest.mark.slow
def test_a_backend_limited_to_two_never_has_more_than_two_clips_in_flight_across_four_workers(cluster, tmp_path):
    fake = OmniFake(workdir=tmp_path, pending_polls=3)
    try:
        inner = OpenAIVideosGenerator(WAN, base_url=fake.base_url, poll_interval=0.05, concurrency=2)
        gen = RayGenerator(inner, workers=4, limit=2, cpus_per_worker=0.25)
        results: list = []
        threads = [threading.Thread(target=lambda i=i: results.append(gen.generate(request(tmp_path, i))))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 8 and all(probe_frames(r.path) == 17 for r in results)
        assert all(Path(r.path).parent == tmp_path / "clips" for r in results)  # written here, by the driver
        assert fake.max_live == 2  # the server saw the limit reached, never crossed
        assert gen.limiter_stats()["max_in_flight"] == 2
        assert sum(s["calls"] for s in gen.stats()) == 8 and len({s["pid"] for s in gen.stats()}) == 4
        gen.close()
    finally:
        fake.close()


@pytest.mark.slow
def test_a_gpu_style_worker_loads_its_pipeline_once_and_serves_several_shots(cluster, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from reelwright.generators.diffusers import DiffusersGenerator
    from tests.tiny_pipelines import build_tiny_wan

    model = build_tiny_wan(tmp_path / "tiny-wan")
    gen = RayGenerator(DiffusersGenerator(model=str(model), steps=1), workers=1, cpus_per_worker=1.0)
    for i in range(3):
        result = gen.generate(request(tmp_path, i, duration=Fraction(9, 16), width=16, height=16))
        assert probe_frames(result.path) == 9
    [stats] = gen.stats()
    assert stats["calls"] == 3 and stats["pipelines_loaded"] == 1
    gen.close()


@pytest.mark.slow
def test_make_with_ray_gives_the_local_pools_video_and_clip_fingerprints(cluster, tmp_path):
    args = dict(generator="animatic", duration=8, resolution="360p")
    local = make_video("a dog going on a walk, sniffing around, getting a pup cup", output=tmp_path / "local.mp4",
                       runs_dir=tmp_path / "runs-local", **args)
    remote = make_video("a dog going on a walk, sniffing around, getting a pup cup", output=tmp_path / "ray.mp4",
                        runs_dir=tmp_path / "runs-ray", executor="ray", **args)
    fingerprints = [sorted(d.run.load_state().accepted) for d in (local, remote)]
    assert fingerprints[0] and fingerprints[0] == fingerprints[1]
    for path in (tmp_path / "local.mp4", tmp_path / "ray.mp4"):
        info = probe(path)
        assert info.frames == 8 * 24 and abs(info.video_duration - 8) <= Fraction(1, 24)
    clips = sorted(p.name for p in (remote.run.root / "clips").glob("*.mp4"))
    assert clips == sorted(p.name for p in (local.run.root / "clips").glob("*.mp4"))


@pytest.mark.slow
def test_a_worker_that_dies_mid_clip_is_a_transient_error_and_is_replaced(cluster, tmp_path):
    from reelwright.errors import TransientGeneratorError

    fake = OmniFake(workdir=tmp_path, outcome="never")
    try:
        inner = OpenAIVideosGenerator(WAN, base_url=fake.base_url, poll_interval=0.05)
        gen = RayGenerator(inner, workers=1, cpus_per_worker=0.25)
        [before] = gen.stats()
        killer = threading.Timer(3.0, lambda: ray.kill(gen._actors[0]))
        killer.start()
        with pytest.raises(TransientGeneratorError, match="Ray worker died making s0"):
            gen.generate(request(tmp_path, 0))
        fake.outcome = "ok"
        assert probe_frames(gen.generate(request(tmp_path, 1)).path) == 17
        [after] = gen.stats()
        assert after["pid"] != before["pid"] and after["calls"] == 1
        gen.close()
    finally:
        fake.close()


@pytest.mark.slow
def test_cli_make_on_a_local_head_node_delivers_the_dog_walk_exactly(tmp_path):
    """A real `ray start --head` reached through RAY_ADDRESS, the real CLI, a /v1/videos backend."""
    import socket
    import subprocess
    import sys
    import time

    from tests.fakes.entry_points import cli_env
    from tests.test_e2e_generators import DOG, assert_exact_video

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Ray's heads start with token authentication; clients joining one must say so (the token is in ~/.ray).
    env = cli_env(tmp_path / "eps", RAY_ADDRESS=f"127.0.0.1:{port}", RAY_AUTH_MODE="token")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    # --block keeps the head in this child process: ending it stops exactly the processes it started.
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port",
                             str(port), "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fake = OmniFake(workdir=tmp_path, pending_polls=0)
    try:
        deadline = time.monotonic() + 120
        while subprocess.run([ray_cli, "status", "--address", f"127.0.0.1:{port}"], env=env,
                             capture_output=True).returncode != 0:
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(2)
        out = tmp_path / "out.mp4"
        argv = [sys.executable, "-m", "reelwright.cli", "make", DOG, "--generator", f"openai-videos:{WAN}",
                "--gen-base-url", fake.base_url, "--executor", "ray", "--workers", "4", "--duration", "12",
                "--resolution", "360p", "-o", str(out), "--runs-dir", str(tmp_path / "runs")]
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert_exact_video(out, 12)
        assert fake.creates and fake.max_live == 1  # openai-videos allows one job per server: held by 4 workers
        assert "local Ray instance" not in proc.stderr  # it joined the head, it did not start its own
    finally:
        fake.close()
        head.terminate()
        head.wait(timeout=120)
        # `ray start` leaves its address for later ray.init() calls to join; forget ours, it is gone.
        current = Path("/tmp/ray/ray_current_cluster")
        if current.is_file() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()


@pytest.mark.slow
def test_a_backend_limiter_outlives_the_job_that_made_it(cluster, tmp_path):
    """Under `serve`, each job is its own driver process: the first job's limiter must stay for the others."""
    import subprocess
    import sys

    address = ray.get_runtime_context().gcs_address
    code = ("import sys; from reelwright.executors.ray_cluster import backend_limiter, connect; "
            "ray = connect(sys.argv[1]); print(ray.get(backend_limiter('outlive-test', 3).stats.remote()))")
    job = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, timeout=120)
    assert job.returncode == 0, job.stderr[-2000:]
    limiter = ray.get_actor("reelwright-limit-outlive-test", namespace="reelwright")  # the job has ended
    assert ray.get(limiter.stats.remote(), timeout=30)["concurrency"] == 3


@pytest.mark.slow
def test_a_slot_held_by_a_worker_that_died_is_taken_back(cluster):
    """A job killed with SIGKILL never releases its workers' slots; the next one waiting frees them."""
    from reelwright.executors.ray_cluster import backend_limiter

    @ray.remote(num_cpus=0)
    class Holder:
        def stats(self):
            return {}

    limiter = backend_limiter("sweep-test", 1)
    dead, live = Holder.remote(), Holder.remote()
    assert ray.get(limiter.acquire.remote("dead", dead), timeout=30) == 1
    ray.kill(dead)
    # the live holder waits past the sweep, the dead holder's slot is forgotten, and the live one gets it
    assert ray.get(limiter.acquire.remote("live", live, 0.5), timeout=30) == 1
    assert ray.get(limiter.stats.remote())["in_flight"] == 1
