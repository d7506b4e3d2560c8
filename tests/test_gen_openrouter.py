"""The OpenRouter adapter through the official `openrouter` SDK against a fake OpenRouter video API."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
    ExpiredResultError,
    GeneratorError,
    MissingKeyError,
    ModerationError,
)
from reelwright.generators.base import ClipRequest
from reelwright.generators.jobs import RetryPolicy, probe_clip
from reelwright.generators.openrouter import OpenRouterGenerator
from tests.fakes.gen_helpers import png, probe_frames
from tests.gen_contract import BackendContract
from tests.fakes.media_host import Download
from tests.fakes.openrouter_server import OpenRouterFake


@pytest.fixture
def fake(tmp_path, monkeypatch):
    server = OpenRouterFake(workdir=tmp_path)
    monkeypatch.setenv("OPENROUTER_API_KEY", server.api_key)
    monkeypatch.delenv("REELWRIGHT_OPENROUTER_BASE_URL", raising=False)
    yield server
    server.close()


def make(fake, model="google/veo-3.1", **kw):
    kw.setdefault("base_url", fake.base_url)
    return OpenRouterGenerator(model, poll_interval=0.0, sleep=lambda s: None,
                               retry=RetryPolicy(max_attempts=3, base_delay=0.0), **kw)


def request(tmp_path: Path, **kw) -> ClipRequest:
    base = dict(shot_id="s1", prompt="a dog gets a pup cup", duration=4, width=1280, height=720, aspect="16:9",
                resolution="720p", seed=3, out_path=tmp_path / "out" / "s1.mp4")
    base.update(kw)
    return ClipRequest(**base)


def test_a_clip_of_the_asked_duration_is_downloaded_and_its_cost_is_usage_cost(fake, tmp_path):
    result = make(fake).generate(request(tmp_path))
    assert probe_frames(result.path) == 96 and result.duration == 4
    assert result.cost_usd == pytest.approx(1.60) and result.metadata["cost_source"] == "usage.cost"
    body = fake.submissions[0].body
    assert body == {"model": "google/veo-3.1", "prompt": "a dog gets a pup cup", "duration": 4,
                    "resolution": "720p", "aspect_ratio": "16:9", "generate_audio": True, "seed": 3}


def test_the_clip_has_the_size_of_the_asked_resolution_and_aspect(fake, tmp_path):
    fake.scale = 1
    info = probe_clip(make(fake).generate(request(tmp_path, aspect="9:16", width=720, height=1280)).path)
    assert (info.width, info.height, info.has_audio) == (720, 1280, True)


def test_capabilities_come_from_the_model_list(fake):
    caps = make(fake, "alibaba/wan-2.6").capabilities()
    assert caps.allowed_durations() == [5, 10] and caps.resolutions == ["480p", "720p"]
    assert caps.aspects == ["16:9", "9:16", "1:1"] and caps.image_to_video and not caps.last_frame
    assert caps.audio is False and caps.price_per_second == pytest.approx(0.04)
    assert "google/veo-3.1" in caps.models
    assert [r.path for r in fake.requests("GET", "/models")] == ["/api/v1/videos/models"]


def test_capabilities_answer_offline_without_a_key(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("REELWRIGHT_OPENROUTER_BASE_URL", raising=False)
    caps = OpenRouterGenerator().capabilities()
    assert caps.model == "google/veo-3.1" and caps.allowed_durations() == [4, 6, 8] and "offline" in caps.notes


def test_missing_key_names_the_variable(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    with pytest.raises(MissingKeyError, match="OPENROUTER_API_KEY"):
        make(fake).generate(request(tmp_path))


def test_a_wrong_key_is_a_config_error(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-wrong")
    with pytest.raises(ConfigError, match="HTTP 401"):
        make(fake).generate(request(tmp_path))


def test_an_unknown_model_is_a_config_error_listing_the_real_ones(fake, tmp_path):
    with pytest.raises(ConfigError, match="no video model 'openai/sora-2'.*google/veo-3.1"):
        make(fake, "openai/sora-2").capabilities()


def test_a_duration_the_model_does_not_list_is_refused_before_submitting(fake, tmp_path):
    with pytest.raises(BriefError, match="allowed durations: 4, 6, 8"):
        make(fake).generate(request(tmp_path, duration=5))
    assert fake.submissions == []


def test_first_and_last_frames_are_sent_as_frame_images(fake, tmp_path):
    first, last = png(tmp_path / "a.png"), png(tmp_path / "b.png", (10, 200, 10))
    make(fake).generate(request(tmp_path, image=first, last_image=last))
    frames = fake.submissions[0].body["frame_images"]
    assert [f["frame_type"] for f in frames] == ["first_frame", "last_frame"]
    assert all(f["type"] == "image_url" and f["image_url"]["url"].startswith("data:image/png;base64,")
               for f in frames)


def test_a_model_without_last_frame_refuses_one(fake, tmp_path):
    gen = make(fake, "alibaba/wan-2.6")
    with pytest.raises(BriefError, match="no last-frame"):
        gen.generate(request(tmp_path, duration=5, image=png(tmp_path / "a.png"), last_image=png(tmp_path / "b.png")))


def test_a_model_without_audio_or_seed_gets_neither_asked(fake, tmp_path):
    result = make(fake, "alibaba/wan-2.6").generate(request(tmp_path, duration=5))
    body = fake.submissions[0].body
    assert body["generate_audio"] is False and "seed" not in body
    assert probe_clip(result.path).has_audio is False


def test_without_usage_cost_the_listed_price_is_used(fake, tmp_path):
    fake.report_cost = False
    result = make(fake).generate(request(tmp_path, resolution="1080p", width=1920, height=1080))
    assert result.cost_usd == pytest.approx(0.60 * 4) and result.metadata["cost_source"] == "price list"


def test_rate_limit_is_retried_after_the_servers_hint(fake, tmp_path):
    waits: list[float] = []
    fake.submit_failures.append((429, "Rate limit exceeded", 7))
    gen = OpenRouterGenerator("google/veo-3.1", base_url=fake.base_url, poll_interval=0.0, sleep=waits.append)
    assert probe_frames(gen.generate(request(tmp_path)).path) == 96
    assert len(fake.submissions) == 2 and waits[0] == 7.0


def test_a_refused_prompt_is_a_moderation_error(fake, tmp_path):
    fake.submit_failures.append((400, "Prompt blocked by content moderation", None))
    with pytest.raises(ModerationError, match="moderation"):
        make(fake).generate(request(tmp_path))


def test_a_failed_job_reports_the_error_verbatim(fake, tmp_path):
    fake.outcome, fake.failure = "failed", "Provider returned error: upstream 500"
    with pytest.raises(GeneratorError, match="failed: Provider returned error: upstream 500"):
        make(fake).generate(request(tmp_path))


def test_an_expired_job_is_an_expired_result_error(fake, tmp_path):
    fake.outcome = "expired"
    with pytest.raises(ExpiredResultError, match="expired"):
        make(fake).generate(request(tmp_path))


def test_a_truncated_download_is_reported_and_leaves_nothing(fake, tmp_path):
    fake.downloads.append(Download("truncated"))
    with pytest.raises(ExpiredResultError, match="truncated"):
        make(fake).generate(request(tmp_path))
    assert list((tmp_path / "out").iterdir()) == []


def test_a_video_gone_once_is_fetched_again(fake, tmp_path):
    fake.downloads.append(Download("expired", 410))
    result = make(fake).generate(request(tmp_path))
    assert probe_frames(result.path) == 96 and fake.jobs[result.job_id].downloads == 2


def test_a_job_that_never_finishes_times_out(fake, tmp_path):
    fake.outcome = "never"
    with pytest.raises(GeneratorError, match="timed out"):
        make(fake, deadline_s=0.01).generate(request(tmp_path))


def test_unknown_options_are_refused():
    with pytest.raises(ConfigError, match="pollinterval"):
        OpenRouterGenerator(pollinterval=3)


def test_the_duration_is_whole_seconds(fake, tmp_path):
    assert all(Fraction(d).denominator == 1 for d in make(fake).capabilities().allowed_durations())


@pytest.mark.slow
def test_cli_make_through_openrouter_records_the_real_cost(fake, tmp_path):
    import json
    import subprocess
    import sys

    from tests.fakes.entry_points import cli_env
    from tests.test_e2e_generators import DOG, assert_exact_video

    fake.pending_polls = 0  # the CLI polls at the backend's real interval: answer on the first poll
    out, runs = tmp_path / "out.mp4", tmp_path / "runs"
    env = cli_env(tmp_path / "eps", REELWRIGHT_OPENROUTER_BASE_URL=fake.base_url)
    argv = [sys.executable, "-m", "reelwright.cli", "make", DOG, "--generator", "openrouter:alibaba/wan-2.6",
            "--duration", "10", "--resolution", "480p", "-o", str(out), "--runs-dir", str(runs)]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_exact_video(out, 10)
    sent = [s.body["duration"] for s in fake.submissions]
    assert sent and set(sent) <= {5, 10}  # what the model list says wan-2.6 makes
    report = json.loads(next(runs.glob("*/report.json")).read_text())
    # Every job submitted was paid for at usage.cost (0.04/s in the fake's list): spent is their sum.
    assert report["costs"]["spent_usd"] == pytest.approx(0.04 * sum(sent), abs=1e-4)
    key = fake.api_key
    assert key not in proc.stdout + proc.stderr
    assert not [p for p in runs.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]


class TestOpenRouterContract(BackendContract):
    key_vars = ("OPENROUTER_API_KEY",)
    poll_path = "/api/v1/videos/gen-vid"
    expected_frames = 96
    expected_size = (1280, 720)
    moderation_match = "content moderation"
    failure_match = "upstream 500"
    cancels_on_deadline = False  # the video API has no cancel call

    def start_fake(self, media, monkeypatch):
        server = OpenRouterFake(workdir=media, scale=1)
        monkeypatch.setenv("OPENROUTER_API_KEY", server.api_key)
        monkeypatch.delenv("REELWRIGHT_OPENROUTER_BASE_URL", raising=False)
        return server

    def generator(self, fake, clock, **options):
        return OpenRouterGenerator("google/veo-3.1", base_url=fake.base_url,
                                   **{"poll_interval": 1.0, "sleep": clock.sleep, "clock": clock, **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.submit_failures.append((status, message, retry_after))

    def submit_attempts(self, fake):
        return len(fake.submissions)

    def set_outcome(self, fake, outcome):
        fake.outcome = outcome
        if outcome == "failed":
            fake.failure = "Provider returned error: upstream 500"

    def polls(self, fake):
        return len([r for r in fake.requests("GET", "/api/v1/videos/gen-vid") if "/content" not in r.path])
