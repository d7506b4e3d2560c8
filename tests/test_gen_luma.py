"""The Luma adapter against a fake Dream Machine API on 127.0.0.1, with the official lumaai SDK as client."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
    ExpiredResultError,
    GeneratorError,
    InputFileError,
    MissingKeyError,
    ModerationError,
)
from reelwright.generators.base import ClipRequest
from reelwright.generators.luma import LumaGenerator
from tests.fakes.gen_helpers import Clock, png, probe_frames
from tests.fakes.luma_server import KEY, MODERATION_REASON, FakeLuma
from tests.fakes.media_host import Download


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return tmp_path_factory.mktemp("luma-media")


@pytest.fixture
def fake(media):
    server = FakeLuma(media)
    yield server
    server.close()


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("LUMAAI_API_KEY", KEY)


def make_gen(fake: FakeLuma, clock: Clock | None = None, model: str = "ray-2", **options) -> LumaGenerator:
    clock = clock or Clock()
    return LumaGenerator(model, base_url=fake.base_url, poll_interval=1.0, sleep=clock.sleep, clock=clock, **options)


def request(tmp_path: Path, name: str = "clip", **kw) -> ClipRequest:
    fields = dict(shot_id="s1", prompt="two dogs meet on a leafy sidewalk and sniff hello", duration=5,
                  width=1280, height=720, aspect="16:9", resolution="720p", out_path=tmp_path / "out" / f"{name}.mp4")
    fields.update(kw)
    return ClipRequest(**fields)


def creates(fake: FakeLuma):
    return fake.requests("POST", "/generations/video")


def test_text_to_video_writes_a_clip_of_the_requested_length(fake, keyed, tmp_path):
    result = make_gen(fake).generate(request(tmp_path))
    assert probe_frames(result.path) == 5 * 24
    assert result.duration == 5
    sent = creates(fake)[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {"model": "ray-2", "prompt": "two dogs meet on a leafy sidewalk and sniff hello",
                         "aspect_ratio": "16:9", "duration": "5s", "resolution": "720p"}
    assert result.job_id in fake.generations


def test_nine_second_clip_is_asked_as_9s(fake, keyed, tmp_path):
    result = make_gen(fake).generate(request(tmp_path, duration=9))
    assert creates(fake)[0].body["duration"] == "9s"
    assert probe_frames(result.path) == 9 * 24


def test_extension_sends_the_previous_generation_as_frame0(fake, keyed, tmp_path):
    gen = make_gen(fake)
    first = gen.generate(request(tmp_path, "first"))
    second = gen.generate(request(tmp_path, "second", extend_job=first.job_id))
    assert creates(fake)[1].body["keyframes"] == {"frame0": {"type": "generation", "id": first.job_id}}
    assert second.job_id != first.job_id


def test_extension_result_keeps_only_the_new_frames(fake, keyed, tmp_path):
    source = fake.completed(seconds=5)
    result = make_gen(fake).generate(request(tmp_path, extend_job=source, duration=9))
    assert probe_frames(result.path) == 9 * 24  # the 14 s video minus the 5 s it repeats
    assert result.metadata["source_frames_dropped"] == 5 * 24
    assert result.duration == 9


def test_extension_that_returns_only_new_frames_is_left_whole(fake, keyed, tmp_path):
    fake.extension_includes_source = False
    result = make_gen(fake).generate(request(tmp_path, extend_job=fake.completed(seconds=5)))
    assert probe_frames(result.path) == 5 * 24
    assert result.metadata["source_frames_dropped"] == 0


def test_image_is_sent_as_the_url_the_uploader_returns(fake, keyed, tmp_path):
    gen = make_gen(fake, image_url=lambda path: fake.http.host_file(path.name, path))
    assert gen.capabilities().image_to_video
    result = gen.generate(request(tmp_path, image=png(tmp_path / "first.png")))
    assert creates(fake)[0].body["keyframes"] == {"frame0": {"type": "image", "url": f"{fake.http.url}/files/first.png"}}
    assert probe_frames(result.path) == 5 * 24


def test_local_image_without_an_uploader_is_refused_clearly(fake, keyed, tmp_path):
    gen = make_gen(fake)
    assert not gen.capabilities().image_to_video
    with pytest.raises(InputFileError, match="image_url="):
        gen.generate(request(tmp_path, image=png(tmp_path / "first.png")))
    assert fake.http.log == []


def test_missing_key_names_the_env_var(fake, tmp_path):
    with pytest.raises(MissingKeyError, match="LUMAAI_API_KEY"):
        make_gen(fake).generate(request(tmp_path))


def test_wrong_key_is_a_config_error_without_the_key_in_it(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("LUMAAI_API_KEY", "luma-wrong-secret")
    with pytest.raises(ConfigError, match="LUMAAI_API_KEY") as info:
        make_gen(fake).generate(request(tmp_path))
    assert "luma-wrong-secret" not in str(info.value)


def test_rate_limit_is_retried_after_the_servers_retry_after(fake, keyed, tmp_path):
    fake.create_errors.append((429, "Too many concurrent generations", {"Retry-After": "2"}))
    clock = Clock()
    result = make_gen(fake, clock=clock).generate(request(tmp_path))
    assert len(creates(fake)) == 2
    assert clock.sleeps[0] == 2.0
    assert probe_frames(result.path) == 5 * 24


@pytest.mark.parametrize("status", [400, 422])
def test_client_errors_are_not_retried(fake, keyed, tmp_path, status):
    fake.create_errors.append((status, "keyframes.frame0.url: invalid url", {}))
    with pytest.raises(GeneratorError, match="invalid url") as info:
        make_gen(fake).generate(request(tmp_path))
    assert not isinstance(info.value, ModerationError)
    assert len(creates(fake)) == 1


def test_moderated_generation_raises_moderation_error(fake, keyed, tmp_path):
    fake.outcome = "moderated"
    with pytest.raises(ModerationError, match="moderation failed"):
        make_gen(fake).generate(request(tmp_path))


def test_prompt_refused_at_create_raises_moderation_error(fake, keyed, tmp_path):
    fake.create_errors.append((400, MODERATION_REASON, {}))
    with pytest.raises(ModerationError):
        make_gen(fake).generate(request(tmp_path))
    assert len(creates(fake)) == 1


def test_failed_generation_raises_generator_error(fake, keyed, tmp_path):
    fake.outcome = "failed"
    with pytest.raises(GeneratorError, match="internal error while dreaming") as info:
        make_gen(fake).generate(request(tmp_path))
    assert not isinstance(info.value, ModerationError)


def test_expired_video_url_raises_expired_result_error(fake, keyed, tmp_path):
    fake.downloads.append(Download("expired", 403))
    with pytest.raises(ExpiredResultError):
        make_gen(fake).generate(request(tmp_path))
    assert not (tmp_path / "out" / "clip.mp4").exists()


def test_truncated_download_raises_expired_result_error(fake, keyed, tmp_path):
    fake.downloads.append(Download("truncated"))
    with pytest.raises(ExpiredResultError, match="truncated"):
        make_gen(fake).generate(request(tmp_path))
    assert not (tmp_path / "out" / "clip.mp4").exists()


def test_deadline_stops_polling(fake, keyed, tmp_path):
    fake.outcome = "never"
    clock = Clock()
    with pytest.raises(GeneratorError, match="timed out"):
        make_gen(fake, clock=clock, deadline_s=6).generate(request(tmp_path))
    assert clock.now <= 6
    assert len(fake.requests("GET", "/generations/")) == 7


def test_cost_comes_from_the_price_table(fake, keyed, tmp_path):
    gen = make_gen(fake)
    assert gen.generate(request(tmp_path)).cost_usd == pytest.approx(gen.capabilities().price_per_second * 5)


def test_duration_luma_cannot_make_is_refused_before_any_request(fake, keyed, tmp_path):
    with pytest.raises(BriefError, match="duration 7 s"):
        make_gen(fake).generate(request(tmp_path, duration=7))
    assert fake.http.log == []


def test_extending_a_local_video_without_a_job_id_is_refused(fake, keyed, tmp_path):
    with pytest.raises(BriefError, match="extend_job"):
        make_gen(fake).generate(request(tmp_path, extend_from=tmp_path / "earlier.mp4"))


def test_capabilities_declare_extension_and_the_allowed_durations():
    caps = LumaGenerator().capabilities()
    assert caps.model == "ray-2" and caps.extend
    assert caps.allowed_durations() == [5, 9]
    assert "4k" in caps.resolutions and "21:9" in caps.aspects
