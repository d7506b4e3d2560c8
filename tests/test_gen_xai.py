"""The xAI Grok Imagine adapter against a fake gRPC video service built from xai_sdk's stubs."""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path

import grpc
import pytest
from PIL import Image

from tests.fakes.gen_helpers import png
from tests.fakes.media_host import Download
from tests.fakes.xai_server import RpcFailure, XAIFake
from reelwright.errors import BriefError, ExpiredResultError, GeneratorError, MissingKeyError, ModerationError
from reelwright.generators.base import ClipRequest, ReferenceImage
from reelwright.generators.jobs import RetryPolicy, probe_clip
from reelwright.generators.prices import price_per_second
from reelwright.generators.xai import XAIGenerator


@pytest.fixture
def fake(tmp_path, monkeypatch):
    server = XAIFake(workdir=tmp_path)
    monkeypatch.setenv("XAI_API_KEY", server.api_key)
    yield server
    server.close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def gen(fake, sleeps):
    g = XAIGenerator(api_host=fake.api_host, poll_interval=0.01, sleep=sleeps.append,
                     retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    yield g
    g.close()


def request(tmp_path: Path, **kw) -> ClipRequest:
    base = dict(shot_id="s1", prompt="a dog sniffs a lamppost", duration=2, width=854, height=480, aspect="16:9",
                resolution="480p", out_path=tmp_path / "out" / "s1.mp4")
    base.update(kw)
    return ClipRequest(**base)


def decode_data_uri(uri: str, dest: Path) -> Path:
    header, _, payload = uri.partition(",")
    assert header.endswith(";base64")
    dest.write_bytes(base64.b64decode(payload))
    return dest


def test_text_to_video_downloads_a_probed_mp4_of_the_served_length(gen, fake, tmp_path):
    progress = []
    result = gen.generate(request(tmp_path), lambda f, m: progress.append(f))
    info = probe_clip(result.path)
    assert result.path == tmp_path / "out" / "s1.mp4"
    assert info.frames == fake.frames_served(result.job_id) == 48
    assert result.duration == Fraction(2)
    assert info.has_audio
    sent = fake.submissions[0]
    assert (sent.model, sent.duration, sent.generate_audio) == ("grok-imagine-video", 2, True)
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_request_carries_aspect_and_resolution_as_api_enums(gen, fake, tmp_path):
    from xai_sdk.proto import video_pb2

    gen.generate(request(tmp_path, aspect="9:16", resolution="720p"))
    sent = fake.submissions[0]
    assert sent.aspect_ratio == video_pb2.VideoAspectRatio.VIDEO_ASPECT_RATIO_9_16
    assert sent.resolution == video_pb2.VideoResolution.VIDEO_RESOLUTION_720P


def test_the_key_travels_as_bearer_metadata(gen, fake, tmp_path):
    gen.generate(request(tmp_path))
    assert fake.auth_headers and set(fake.auth_headers) == {f"Bearer {fake.api_key}"}


def test_first_frame_image_is_sent_as_a_data_uri(gen, fake, tmp_path):
    image = png(tmp_path / "first.png")
    gen.generate(request(tmp_path, image=image))
    sent = fake.submissions[0]
    assert sent.image.image_url.startswith("data:image/png;base64,")
    with Image.open(decode_data_uri(sent.image.image_url, tmp_path / "echo.png")) as img:
        assert img.size == (64, 36)


def test_reference_images_are_sent_in_order(gen, fake, tmp_path):
    refs = [ReferenceImage(path=png(tmp_path / f"r{i}.png", (i * 60, 0, 0)), name=f"e{i}") for i in range(3)]
    result = gen.generate(request(tmp_path, references=refs, prompt="<IMAGE_1> meets <IMAGE_2> near <IMAGE_3>"))
    sent = fake.submissions[0].reference_images
    assert len(sent) == 3
    colors = [Image.open(decode_data_uri(r.image_url, tmp_path / f"echo{i}.png")).getpixel((0, 0))
              for i, r in enumerate(sent)]
    assert colors == [(0, 0, 0), (60, 0, 0), (120, 0, 0)]
    assert result.metadata["references"] == ["e0", "e1", "e2"]


def test_reference_mode_refuses_clips_longer_than_ten_seconds(gen, fake, tmp_path):
    refs = [ReferenceImage(path=png(tmp_path / "r.png"))]
    with pytest.raises(BriefError, match="at most 10"):
        gen.generate(request(tmp_path, references=refs, duration=12))
    assert fake.submissions == []


def test_more_than_seven_references_is_refused_before_submitting(gen, fake, tmp_path):
    refs = [ReferenceImage(path=png(tmp_path / f"r{i}.png")) for i in range(8)]
    with pytest.raises(BriefError, match="at most 7"):
        gen.generate(request(tmp_path, references=refs))
    assert fake.submissions == []


def test_extension_sends_only_the_last_seconds_of_the_input(fake, sleeps, tmp_path, make_clip):
    gen = XAIGenerator(api_host=fake.api_host, poll_interval=0.01, sleep=sleeps.append, max_extend_input=2)
    source = make_clip(seconds=3.0, width=160, height=90)
    result = gen.generate(request(tmp_path, extend_from=source, duration=3))
    sent = fake.submissions[0]
    assert fake.jobs[result.job_id].kind == "extend" and sent.duration == 3
    echoed = probe_clip(decode_data_uri(sent.video.url, tmp_path / "echo.mp4"))
    assert echoed.frames == 48
    assert result.metadata["input_trimmed_to_s"] == 2.0
    gen.close()


def test_extension_returned_with_its_input_keeps_only_the_new_seconds(fake, gen, tmp_path, make_clip):
    fake.extension_returns_full = True
    source = make_clip(seconds=2.0, width=160, height=90)
    result = gen.generate(request(tmp_path, extend_from=source, duration=2))
    assert fake.frames_served(result.job_id) == 144
    assert probe_clip(result.path).frames == 48
    assert Path(result.metadata["full_extension"]).is_file()


def test_edit_sends_the_whole_input_video_without_duration(gen, fake, tmp_path, make_clip):
    source = make_clip(seconds=2.0, width=160, height=90)
    result = gen.generate(request(tmp_path, extend_from=source, duration=4, display={"mode": "edit"}))
    sent = fake.submissions[0]
    assert fake.jobs[result.job_id].kind == "generate" and sent.HasField("video") and not sent.HasField("duration")
    assert result.metadata["mode"] == "edit"
    assert probe_clip(result.path).frames == 96


def test_missing_key_names_the_env_var(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("XAI_API_KEY")
    gen = XAIGenerator(api_host=fake.api_host)
    with pytest.raises(MissingKeyError, match="XAI_API_KEY"):
        gen.generate(request(tmp_path))


def test_rate_limit_is_retried_after_the_servers_hint(gen, fake, sleeps, tmp_path):
    fake.submit_failures.append(RpcFailure(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after=1.5))
    result = gen.generate(request(tmp_path))
    assert probe_clip(result.path).frames == 48
    assert len(fake.submissions) == 1 and 1.5 in sleeps


def test_invalid_argument_is_not_retried(gen, fake, sleeps, tmp_path):
    fake.submit_failures.append(RpcFailure(grpc.StatusCode.INVALID_ARGUMENT, "duration out of range"))
    with pytest.raises(GeneratorError, match="INVALID_ARGUMENT") as err:
        gen.generate(request(tmp_path))
    assert not isinstance(err.value, ModerationError)
    assert fake.submissions == [] and len(fake.auth_headers) == 1 and sleeps == []


def test_blocked_video_is_a_moderation_error(gen, fake, tmp_path):
    fake.outcome = "moderated"
    with pytest.raises(ModerationError, match="moderation"):
        gen.generate(request(tmp_path))
    assert not (tmp_path / "out" / "s1.mp4").exists()


def test_failed_job_with_a_moderation_code_is_a_moderation_error(gen, fake, tmp_path):
    fake.outcome, fake.failure_code, fake.failure_message = "failed", "content_moderation", "prompt refused"
    with pytest.raises(ModerationError, match="prompt refused"):
        gen.generate(request(tmp_path))


def test_failed_job_is_a_generator_error_with_the_servers_reason(gen, fake, tmp_path):
    fake.outcome = "failed"
    with pytest.raises(GeneratorError, match="internal_error.*the model crashed") as err:
        gen.generate(request(tmp_path))
    assert not isinstance(err.value, ModerationError)


def test_expired_result_url_is_an_expired_result_error(gen, fake, tmp_path):
    fake.media.downloads.append(Download("expired", 403))
    with pytest.raises(ExpiredResultError, match="expired"):
        gen.generate(request(tmp_path))
    assert not (tmp_path / "out" / "s1.mp4").exists()


def test_truncated_download_is_an_expired_result_error(gen, fake, tmp_path):
    fake.media.downloads.append(Download("truncated"))
    with pytest.raises(ExpiredResultError, match="truncated"):
        gen.generate(request(tmp_path))
    assert list((tmp_path / "out").iterdir()) == []


def test_a_job_that_never_finishes_times_out(fake, tmp_path):
    fake.outcome = "never"
    gen = XAIGenerator(api_host=fake.api_host, poll_interval=0.0, deadline_s=0.05, sleep=lambda s: None)
    with pytest.raises(GeneratorError, match="timed out after 0.05 s"):
        gen.generate(request(tmp_path))
    gen.close()


def test_cost_comes_from_the_reported_usage_when_present(gen, fake, tmp_path):
    fake.cost_ticks = 1_234_000_000  # 0.1234 USD
    assert gen.generate(request(tmp_path)).cost_usd == pytest.approx(0.1234)


def test_cost_falls_back_to_the_price_table(gen, fake, tmp_path):
    result = gen.generate(request(tmp_path))
    assert result.cost_usd == pytest.approx(2 * price_per_second("xai", "grok-imagine-video", "480p"))


def test_1080p_is_declared_only_for_the_1_5_model():
    assert "1080p" not in XAIGenerator().capabilities().resolutions
    caps = XAIGenerator("grok-imagine-video-1.5").capabilities()
    assert "1080p" in caps.resolutions and caps.allowed_durations()[0] == 1 and caps.allowed_durations()[-1] == 15


def test_1080p_on_the_base_model_is_refused_quoting_the_value(gen, fake, tmp_path):
    with pytest.raises(BriefError, match="'1080p'"):
        gen.generate(request(tmp_path, resolution="1080p"))
