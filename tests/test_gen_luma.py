"""The Luma adapter against a fake Dream Machine API on 127.0.0.1, with the official lumaai SDK as client: the
hosted-backend contract (`tests/gen_contract.py`), then what is Luma's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
    InputFileError,
    ModerationError,
)
from reelwright.generators.base import ClipRequest
from reelwright.generators.luma import LumaGenerator
from tests.fakes.gen_helpers import Clock, png, probe_frames
from tests.fakes.luma_server import KEY, MODERATION_REASON, FakeLuma
from tests.gen_contract import BackendContract


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


def test_wrong_key_is_a_config_error_without_the_key_in_it(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("LUMAAI_API_KEY", "luma-wrong-secret")
    with pytest.raises(ConfigError, match="LUMAAI_API_KEY") as info:
        make_gen(fake).generate(request(tmp_path))
    assert "luma-wrong-secret" not in str(info.value)


def test_prompt_refused_at_create_raises_moderation_error(fake, keyed, tmp_path):
    fake.create_errors.append((400, MODERATION_REASON, {}))
    with pytest.raises(ModerationError):
        make_gen(fake).generate(request(tmp_path))
    assert len(creates(fake)) == 1


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


class TestLumaContract(BackendContract):
    key_vars = ("LUMAAI_API_KEY",)
    poll_path = "/generations/"
    expected_frames = 5 * 24
    expected_size = (1280, 720)
    moderation_match = "moderation failed"
    failure_match = "internal error while dreaming"
    cancels_on_deadline = False  # Luma has no cancel: past the deadline the job is left to finish

    def start_fake(self, media, monkeypatch):
        monkeypatch.setenv("LUMAAI_API_KEY", KEY)
        return FakeLuma(media)

    def generator(self, fake, clock, **options):
        return LumaGenerator("ray-2", base_url=fake.base_url, **{"poll_interval": 1.0, "sleep": clock.sleep,
                                                                 "clock": clock, **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.create_errors.append((status, message, {"Retry-After": str(retry_after)} if retry_after else {}))

    def submit_attempts(self, fake):
        return len(creates(fake))

    def polls(self, fake):
        return len(fake.requests("GET", "/generations/"))


GOOD_BODY = {"model": "ray-2", "prompt": "two dogs meet", "aspect_ratio": "16:9", "duration": "5s"}


@pytest.mark.parametrize("change, loc", [
    ({"fps": 24}, ["body", "fps"]),  # unknown field
    ({"loop": "yes"}, ["body", "loop"]),  # wrong type
    ({"model": None}, ["body", "model"]),  # missing required (removed below)
    ({"aspect_ratio": "2:1"}, ["body", "aspect_ratio"]),  # not a documented ratio
    ({"keyframes": {"frame0": {"type": "image"}}}, ["body", "keyframes", "frame0"]),  # an image without its url
])
def test_the_fake_refuses_a_body_the_sdk_types_refuse(fake, change, loc):
    import httpx

    body = {k: v for k, v in {**GOOD_BODY, **change}.items() if v is not None}
    headers = {"Authorization": f"Bearer {KEY}"}
    ok = httpx.post(f"{fake.base_url}/generations/video", json=GOOD_BODY, headers=headers)
    bad = httpx.post(f"{fake.base_url}/generations/video", json=body, headers=headers)
    assert ok.status_code == 201
    assert bad.status_code == 422 and [d["loc"] for d in bad.json()["detail"]][0][:len(loc)] == loc


def test_the_fake_refuses_a_duration_ray2_does_not_make(fake):
    import httpx

    bad = httpx.post(f"{fake.base_url}/generations/video", json={**GOOD_BODY, "duration": "7s"},
                     headers={"Authorization": f"Bearer {KEY}"})
    assert bad.status_code == 400 and "duration" in bad.json()["detail"]
