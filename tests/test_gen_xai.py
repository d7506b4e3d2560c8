"""The xAI Grok Imagine adapter against a fake gRPC video service built from xai_sdk's stubs: the hosted-backend
contract (`tests/gen_contract.py`), then what is xAI's own."""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path

import grpc
import pytest
from PIL import Image

from tests.fakes.gen_helpers import png
from tests.fakes.xai_server import RpcFailure, XAIFake
from tests.gen_contract import BackendContract
from reelwright.errors import BriefError, ModerationError
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


# The gRPC status the xAI service answers in place of each HTTP status the contract asks for.
GRPC_FOR_HTTP = {400: grpc.StatusCode.INVALID_ARGUMENT, 422: grpc.StatusCode.INVALID_ARGUMENT,
                 429: grpc.StatusCode.RESOURCE_EXHAUSTED, 500: grpc.StatusCode.INTERNAL,
                 503: grpc.StatusCode.UNAVAILABLE}


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


def test_failed_job_with_a_moderation_code_is_a_moderation_error(gen, fake, tmp_path):
    fake.outcome, fake.failure_code, fake.failure_message = "failed", "content_moderation", "prompt refused"
    with pytest.raises(ModerationError, match="prompt refused"):
        gen.generate(request(tmp_path))


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


class TestXAIContract(BackendContract):
    key_vars = ("XAI_API_KEY",)
    expected_frames = 48
    expected_size = (854, 480)
    moderation_match = "moderation"
    failure_match = "internal_error.*the model crashed"
    cancels_on_deadline = False  # the xAI API has no cancel: the job is left to finish

    def start_fake(self, media, monkeypatch):
        server = XAIFake(workdir=media)
        monkeypatch.setenv("XAI_API_KEY", server.api_key)
        return server

    def generator(self, fake, clock, **options):
        return XAIGenerator(api_host=fake.api_host, **{"poll_interval": 1.0, "sleep": clock.sleep, "clock": clock,
                                                       **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.submit_failures.append(RpcFailure(GRPC_FOR_HTTP[status], message, retry_after=retry_after))

    def submit_attempts(self, fake):
        return fake.submit_calls

    def server_calls(self, fake):
        return len(fake.auth_headers)

    def set_outcome(self, fake, outcome):
        fake.outcome = outcome

    def polls(self, fake):
        return fake.poll_calls

    def fail_polls(self, fake, times):
        # Three times as many: xai_sdk retries UNAVAILABLE itself before the adapter sees it.
        fake.poll_failures.extend([RpcFailure(grpc.StatusCode.UNAVAILABLE, "gateway lost")] * times * 3)

    def clear_poll_failures(self, fake):
        fake.poll_failures.clear()


@pytest.mark.parametrize("change, reason", [
    ({"duration": 20}, "1 to 15 seconds"),
    ({"model": "grok-video-9"}, "not found"),
    ({"resolution": 3}, "1080p is available on grok-imagine-video-1.5 only"),  # VIDEO_RESOLUTION_1080P
    ({"aspect_ratio": 42}, "unknown aspect_ratio"),
    ({"prompt": "  "}, "prompt must not be empty"),
    ({"reference_images": [{"image_url": "data:image/png;base64,AA=="}] * 8}, "at most 7 reference images"),
    ({"reference_images": [{"image_url": "file:///etc/passwd"}]}, "https URL or a data URI"),
])
def test_the_fake_refuses_a_request_the_service_refuses(fake, change, reason):
    from xai_sdk.proto import video_pb2, video_pb2_grpc

    fields = {"prompt": "a dog", "model": "grok-imagine-video", "duration": 5, **change}
    channel = grpc.insecure_channel(fake.api_host)
    stub = video_pb2_grpc.VideoStub(channel)
    metadata = (("authorization", f"Bearer {fake.api_key}"),)
    stub.GenerateVideo(video_pb2.GenerateVideoRequest(prompt="a dog", model="grok-imagine-video", duration=5),
                       metadata=metadata)
    with pytest.raises(grpc.RpcError) as info:
        stub.GenerateVideo(video_pb2.GenerateVideoRequest(**fields), metadata=metadata)
    channel.close()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and reason in info.value.details()
    assert len(fake.submissions) == 1  # only the well-formed request became a job
