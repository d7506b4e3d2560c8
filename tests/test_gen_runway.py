"""The Runway adapter through the official runwayml SDK against a fake Runway API: the hosted-backend contract
(`tests/gen_contract.py`), then what is Runway's own."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    GeneratorError,
    ModerationError,
    TransientGeneratorError,
)
from reelwright.generators.base import ClipRequest
from reelwright.generators.jobs import RetryPolicy, probe_clip
from reelwright.generators.prices import price_per_second
from reelwright.generators.runway import RunwayGenerator, truncate_prompt
from tests.fakes.gen_helpers import png
from tests.fakes.media_host import Download
from tests.fakes.runway_server import HttpFailure, RunwayFake
from tests.gen_contract import BackendContract


@pytest.fixture
def fake(tmp_path, monkeypatch):
    server = RunwayFake(workdir=tmp_path)
    monkeypatch.setenv("RUNWAYML_API_SECRET", server.api_key)
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)
    yield server
    server.close()


@pytest.fixture
def sleeps():
    return []


def make(fake, sleeps, model=None, **kw):
    return RunwayGenerator(model, base_url=fake.url, poll_interval=0.01, sleep=sleeps.append,
                           retry=RetryPolicy(max_attempts=3, base_delay=0.01), **kw)


@pytest.fixture
def gen(fake, sleeps):
    g = make(fake, sleeps, "gen4.5")
    yield g
    g.close()


def request(tmp_path: Path, **kw) -> ClipRequest:
    base = dict(shot_id="s1", prompt="the subject walks toward the camera", duration=2, width=1280, height=720,
                aspect="16:9", resolution="720p", seed=11, out_path=tmp_path / "out" / "s1.mp4")
    base.update(kw)
    return ClipRequest(**base)


def test_text_to_video_downloads_a_probed_mp4(gen, fake, tmp_path):
    progress = []
    result = gen.generate(request(tmp_path), lambda f, m: progress.append(m))
    assert probe_clip(result.path).frames == fake.frames_served(result.job_id) == 48
    assert result.duration == Fraction(2) and result.metadata["endpoint"] == "text_to_video"
    assert any("throttled" in m for m in progress) and any("running" in m for m in progress)


def test_the_body_is_camel_case_with_a_pixel_ratio_and_the_version_header(gen, fake, tmp_path):
    gen.generate(request(tmp_path, aspect="9:16"))
    sent = fake.submissions[0]
    assert sent.path == "/v1/text_to_video"
    assert sent.body == {"model": "gen4.5", "promptText": "the subject walks toward the camera", "ratio": "720:1280",
                         "duration": 2, "seed": 11}
    assert sent.headers["x-runway-version"] == "2024-11-06"


def test_gen4_turbo_animates_the_first_frame_image(fake, sleeps, tmp_path):
    gen = make(fake, sleeps)
    result = gen.generate(request(tmp_path, duration=5, image=png(tmp_path / "f.png"), aspect="1:1"))
    sent = fake.submissions[0]
    assert sent.path == "/v1/image_to_video" and sent.body["ratio"] == "960:960"
    assert sent.body["promptImage"].startswith("data:image/png;base64,")
    assert probe_clip(result.path).frames == 120


def test_gen4_turbo_without_an_image_is_refused_and_declared_so(fake, sleeps, tmp_path):
    gen = make(fake, sleeps)
    assert gen.capabilities().text_to_video is False and gen.capabilities().image_to_video is True
    with pytest.raises(BriefError, match="only from an image"):
        gen.generate(request(tmp_path, duration=5))
    assert fake.submissions == []


def test_gen4_turbo_makes_only_5_or_10_seconds(fake, sleeps, tmp_path):
    assert make(fake, sleeps).capabilities().allowed_durations() == [5, 10]
    with pytest.raises(BriefError, match="cannot make a 6 s clip"):
        make(fake, sleeps).generate(request(tmp_path, duration=6, image=png(tmp_path / "f.png")))


def test_veo_models_send_first_and_last_frames_audio_and_negative_prompt(fake, sleeps, tmp_path):
    gen = make(fake, sleeps, "veo3.1_fast")
    first, last = png(tmp_path / "a.png"), png(tmp_path / "b.png")
    gen.generate(request(tmp_path, duration=4, resolution="1080p", image=first, last_image=last,
                         negative_prompt="text overlays"))
    body = fake.submissions[0].body
    assert [p["position"] for p in body["promptImage"]] == ["first", "last"]
    assert (body["ratio"], body["audio"], body["negativePrompt"]) == ("1920:1080", True, "text overlays")


def test_long_prompts_are_cut_at_a_word_and_say_so(gen, fake, tmp_path):
    prompt = " ".join(["the subject walks slowly"] * 60)
    result = gen.generate(request(tmp_path, prompt=prompt))
    sent = fake.submissions[0].body["promptText"]
    assert len(sent) <= 1000 and prompt.startswith(sent) and prompt[len(sent)] == " "
    assert result.metadata["prompt_truncated"] is True and result.metadata["prompt_original_chars"] == len(prompt)


def test_truncation_counts_utf16_code_units():
    text, cut = truncate_prompt("🐕 " * 400, limit=1000)
    assert cut and len(text.encode("utf-16-le")) // 2 <= 1000
    assert truncate_prompt("short", 1000) == ("short", False)


def test_cost_comes_from_the_tasks_credits(gen, fake, tmp_path):
    fake.credits = 24
    assert gen.generate(request(tmp_path)).cost_usd == pytest.approx(0.24)


def test_cost_falls_back_to_the_price_table_without_credits(gen, fake, tmp_path):
    fake.credits = None
    result = gen.generate(request(tmp_path))
    assert result.cost_usd == pytest.approx(2 * price_per_second("runway", "gen4.5", "720p"))


def test_bad_request_is_not_retried(gen, fake, sleeps, tmp_path):
    fake.submit_failures.append(HttpFailure(400, "Invalid ratio"))
    with pytest.raises(GeneratorError, match="HTTP 400: Invalid ratio") as err:
        gen.generate(request(tmp_path))
    assert not isinstance(err.value, (TransientGeneratorError, ModerationError))
    assert len(fake.submissions) == 1 and sleeps == []


def test_internal_failure_is_transient(gen, fake, tmp_path):
    fake.outcome, fake.failure_code, fake.failure = "failed", "INTERNAL.BAD_OUTPUT.CODE01", "bad output"
    with pytest.raises(TransientGeneratorError, match="INTERNAL.BAD_OUTPUT"):
        gen.generate(request(tmp_path))


def test_an_expired_output_url_is_renewed_by_fetching_the_task_again(gen, fake, tmp_path):
    fake.media.downloads.append(Download("expired", 403))
    result = gen.generate(request(tmp_path))
    assert probe_clip(result.path).frames == 48
    assert fake.tasks[result.job_id].fetches_done == 2


def test_every_api_call_takes_a_token_from_a_shared_rate_limiter(fake, tmp_path):
    from reelwright.generators.jobs import RateLimiter

    now, waits = [0.0], []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(10.0, burst=1, clock=lambda: now[0], sleep=sleep)
    gen = RunwayGenerator("gen4.5", base_url=fake.url, poll_interval=0.0, sleep=lambda s: None, limiter=limiter)
    gen.generate(request(tmp_path))
    api_calls = len(fake.http.requests("POST")) + len(fake.http.requests("GET", "/v1/tasks/"))
    assert api_calls == 5 and len(waits) == api_calls - 1
    assert all(w == pytest.approx(0.1) for w in waits)


class TestRunwayContract(BackendContract):
    key_vars = ("RUNWAYML_API_SECRET",)
    poll_path = "/v1/tasks/"
    expected_frames = 48
    expected_size = (1280, 720)
    moderation_match = "SAFETY.INPUT.TEXT"
    failure_match = "ASSET.INVALID.*could not be read"
    cancels_on_deadline = True

    def start_fake(self, media, monkeypatch):
        server = RunwayFake(workdir=media)
        monkeypatch.setenv("RUNWAYML_API_SECRET", server.api_key)
        monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)
        return server

    def generator(self, fake, clock, **options):
        return RunwayGenerator("gen4.5", base_url=fake.url, **{"poll_interval": 1.0, "sleep": clock.sleep,
                                                               "clock": clock, **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.submit_failures.append(HttpFailure(status, message, retry_after=retry_after))

    def submit_attempts(self, fake):
        return len(fake.submissions)

    def set_outcome(self, fake, outcome):
        fake.outcome = "failed" if outcome in ("moderated", "failed") else outcome
        if outcome == "failed":
            fake.failure_code, fake.failure = "ASSET.INVALID", "the input image could not be read"

    def polls(self, fake):
        return len(fake.requests("GET", "/v1/tasks/"))

    def cancel_requests(self, fake):
        # Counted only when the task really ended cancelled on the server.
        cancelled = all(t.cancelled for t in fake.tasks.values())
        return len(fake.requests("DELETE")) if cancelled else 0


GOOD_BODY = {"model": "gen4.5", "promptText": "the subject walks", "ratio": "1280:720", "duration": 5}


@pytest.mark.parametrize("change, path", [
    ({"fps": 24}, ["fps"]),  # unknown field
    ({"duration": "5"}, ["duration"]),  # wrong type
    ({"ratio": None}, ["ratio"]),  # missing required (removed below)
    ({"duration": 12}, ["duration"]),  # outside the documented 2–10 s
    ({"ratio": "1920:1080"}, ["ratio"]),  # not a gen4.5 ratio
    ({"model": "gen5"}, ["model"]),
])
def test_the_fake_refuses_a_body_the_sdk_types_refuse(fake, change, path):
    import httpx

    body = {k: v for k, v in {**GOOD_BODY, **change}.items() if v is not None}
    headers = {"Authorization": f"Bearer {fake.api_key}", "X-Runway-Version": "2024-11-06"}
    ok = httpx.post(f"{fake.url}/v1/text_to_video", json=GOOD_BODY, headers=headers)
    bad = httpx.post(f"{fake.url}/v1/text_to_video", json=body, headers=headers)
    assert ok.status_code == 200
    assert bad.status_code == 400 and bad.json()["error"] == "Validation of body failed"
    assert [issue["path"] for issue in bad.json()["issues"]] == [path]
