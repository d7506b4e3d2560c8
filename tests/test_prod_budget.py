"""Money: a job the provider finished is paid for once, fetched again (never resubmitted) when its
download fails, its id is on disk before polling, and a rejected key is one line naming its variable."""

from __future__ import annotations

import threading
from collections import deque
from fractions import Fraction

import grpc
import pytest

from reelwright.api import make_video
from reelwright.director.limits import Limits
from reelwright.errors import ConfigError
from reelwright.generators.jobs import RetryPolicy, error_for_status
from reelwright.runs.store import RunDir
from tests.fakes.media_host import Download
from tests.fakes.xai_server import RpcFailure, XAIFake

TICKS_PER_USD = 10_000_000_000  # xai_sdk.cost: usage is billed in 1e-10 USD ticks


@pytest.fixture
def fake(tmp_path, monkeypatch):
    server = XAIFake(workdir=tmp_path, pending_polls=0, cost_ticks=TICKS_PER_USD // 20)  # $0.05 a job
    monkeypatch.setenv("XAI_API_KEY", server.api_key)
    yield server
    server.close()


def xai_options(fake) -> dict:
    return {"api_host": fake.api_host, "poll_interval": 0.01, "sleep": lambda s: None,
            "retry": RetryPolicy(max_attempts=1, base_delay=0.01)}


def billed(fake) -> float:
    """What the fake charged: every job it reported done, at its ticks."""
    done = [j for j in fake.jobs.values() if j.polls > fake.pending_polls]
    return len(done) * fake.cost_ticks / TICKS_PER_USD


def make(tmp_path, fake, **kw):
    return make_video("a dog sniffs a lamppost", duration=6, resolution="480p", generator="xai",
                      generator_options=xai_options(fake), runs_dir=tmp_path / "runs",
                      output=tmp_path / "out.mp4", **kw)


def test_a_finished_job_whose_download_fails_is_fetched_again_not_resubmitted(tmp_path, fake):
    fake.media.downloads.extend([Download("expired", 403), Download("truncated")])
    delivery = make(tmp_path, fake, budget_usd=1.0)
    shots = len(delivery.plan.shots)
    assert len(fake.submissions) == shots  # no shot was paid for twice
    state = delivery.run.load_state()
    assert state.spent_usd == pytest.approx(billed(fake)) == pytest.approx(0.05 * shots)
    assert state.jobs == {}  # every recorded job ended accepted


def test_budget_counts_a_finished_job_even_when_it_could_never_be_fetched(tmp_path, fake):
    fake.media.downloads.extend([Download("expired", 410)] * 10)
    with pytest.raises(Exception, match="expired"):
        make(tmp_path, fake, concurrency=1)
    run = RunDir(next((tmp_path / "runs").iterdir()))
    state = run.load_state()
    assert len(fake.submissions) == 1  # the failing shot was never submitted again
    assert state.spent_usd == pytest.approx(billed(fake)) == pytest.approx(0.05)  # paid once, counted once
    assert list(state.jobs.values())[0].job_id in fake.jobs  # recorded, so resume fetches it


def test_the_job_id_is_on_disk_before_polling_and_resume_fetches_it(tmp_path, monkeypatch):
    seen: list[dict] = []

    class Watching(XAIFake):
        def GetDeferredVideo(self, request, context):  # noqa: N802 - is the job recorded when first polled?
            runs = list((tmp_path / "runs").iterdir())
            seen.append(dict(RunDir(runs[0]).load_state().jobs) if runs else {})
            return super().GetDeferredVideo(request, context)

    fake = Watching(workdir=tmp_path, pending_polls=0, cost_ticks=TICKS_PER_USD // 20)
    monkeypatch.setenv("XAI_API_KEY", fake.api_key)
    try:
        fake.poll_failures.extend([RpcFailure(grpc.StatusCode.UNAVAILABLE, "gateway lost")] * 30)
        with pytest.raises(Exception, match="UNAVAILABLE"):
            make(tmp_path, fake, concurrency=1)
        assert seen and [rec.job_id for rec in seen[0].values()] == [fake.submissions and next(iter(fake.jobs))]
        from reelwright.api import resume_run

        fake.poll_failures.clear()  # the gateway is back
        delivery = resume_run(next((tmp_path / "runs").iterdir()), generator_options=xai_options(fake))
        assert len(fake.submissions) == len(delivery.plan.shots)  # the recorded job was polled, not redone
        state = delivery.run.load_state()
        assert state.spent_usd == pytest.approx(billed(fake))
    finally:
        fake.close()


def test_a_rejected_key_is_a_config_error_naming_the_variable_and_not_retried(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("XAI_API_KEY", "wrong-key")
    with pytest.raises(ConfigError, match="XAI_API_KEY"):
        make(tmp_path, fake)
    assert fake.submissions == []
    assert len(fake.auth_headers) == 1  # one refused call, no second take
    for status in (401, 403):
        err = error_for_status(status, "bad key", provider="runway", key_env="RUNWAYML_API_SECRET")
        assert isinstance(err, ConfigError) and "RUNWAYML_API_SECRET" in str(err)


def test_the_same_shot_is_never_produced_twice_at_once(tmp_path):
    from reelwright.api import make_brief
    from reelwright.director import Director
    from reelwright.generators.animatic import AnimaticGenerator

    class Counting(AnimaticGenerator):
        calls: list[str] = []
        gate = threading.Barrier(2, timeout=2)

        def generate(self, request, progress=None):
            Counting.calls.append(request.shot_id)
            try:
                self.gate.wait()  # a second concurrent take of the same shot would meet here
            except threading.BrokenBarrierError:
                pass
            return super().generate(request, progress)

    brief = make_brief("a dog walks", duration=2, resolution="360p")
    run = RunDir.create(tmp_path / "runs", brief)
    director = Director(brief, run=run, generator=Counting(), limits=Limits())
    director.make_plan()
    shot = director.plan.shots[0]
    threads = [threading.Thread(target=director.produce_shot, args=(shot,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counting.calls.count(shot.id) == 1


def test_runway_fetches_a_finished_task_again_instead_of_creating_another(tmp_path, monkeypatch):
    from reelwright.errors import ExpiredResultError
    from reelwright.generators.base import ClipRequest
    from reelwright.generators.runway import RunwayGenerator
    from tests.fakes.runway_server import RunwayFake

    fake = RunwayFake(workdir=tmp_path)
    monkeypatch.setenv("RUNWAYML_API_SECRET", fake.api_key)
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)
    gen = RunwayGenerator("gen4.5", base_url=fake.url, poll_interval=0.01, sleep=lambda s: None,
                          retry=RetryPolicy(max_attempts=1, base_delay=0.01))
    submitted: list[str] = []
    req = ClipRequest(shot_id="s1", prompt="a dog sniffs a lamppost", duration=5, width=1280, height=720,
                      aspect="16:9", out_path=tmp_path / "out" / "s1.mp4", on_submitted=submitted.append)
    try:
        fake.media.downloads.extend([Download("expired", 410)] * 2)  # the adapter refreshes the URL once
        with pytest.raises(ExpiredResultError) as err:
            gen.generate(req)
        assert err.value.job_id == submitted[0] and err.value.billed_usd > 0
        again = gen.generate(req.model_copy(update={"resume_job": err.value.job_id}))
        assert again.job_id == submitted[0]
        assert len(fake.tasks) == 1  # fetched again, never created again
    finally:
        gen.close()
        fake.close()


def test_a_luma_generation_whose_download_fails_is_fetched_again_and_paid_once(tmp_path, monkeypatch):
    """End to end through the Director: the first download of a finished Luma generation is gone (410); the
    next take fetches that generation (no second create) and report.json counts it once, at what it cost."""
    import json

    from reelwright.generators.prices import price_per_second
    from tests.fakes.luma_server import KEY, FakeLuma

    (tmp_path / "media").mkdir()
    fake = FakeLuma(tmp_path / "media", polls_to_finish=1)
    monkeypatch.setenv("LUMAAI_API_KEY", KEY)
    try:
        fake.downloads.append(Download("expired", 410))
        delivery = make_video("a dog sniffs a lamppost", duration=5, resolution="540p", generator="luma:ray-2",
                              generator_options={"base_url": fake.base_url, "poll_interval": 0.01,
                                                 "sleep": lambda s: None,
                                                 "retry": RetryPolicy(max_attempts=1, base_delay=0.01)},
                              runs_dir=tmp_path / "runs", output=tmp_path / "out.mp4", budget_usd=5.0)
        shots = len(delivery.plan.shots)
        assert len(fake.requests("POST", "/generations/video")) == shots  # the lost download was not redone
        assert fake.downloads == deque() and len(fake.requests("GET", "/files/")) == shots + 1
        done = [g for g in fake.generations.values() if g["state"] == "completed"]
        billed = sum(float(g["request"]["duration"].rstrip("s")) for g in done) * price_per_second("luma", "ray-2")
        report = json.loads(delivery.run.report_path.read_text())
        assert report["costs"]["spent_usd"] == pytest.approx(billed, abs=1e-4) and billed > 0
        assert delivery.run.load_state().jobs == {}  # the recorded generation ended accepted
    finally:
        fake.close()
