"""The Replicate adapter against a fake Replicate API on 127.0.0.1, with the official SDK as client: the
hosted-backend contract (`tests/gen_contract.py`), then what is Replicate's own."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
)
from reelwright.generators import model_inputs
from reelwright.generators.base import ClipRequest
from reelwright.generators.replicate import ReplicateGenerator
from tests.fakes.gen_helpers import Clock, png, probe_frames
from tests.gen_contract import BackendContract
from tests.fakes.replicate_server import TOKEN, FakeReplicate

WAN_T2V = "wan-video/wan-2.2-t2v-fast"
WAN_I2V = "wan-video/wan-2.2-i2v-fast"
KLING = "kwaivgi/kling-v2.5-turbo-pro"


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return tmp_path_factory.mktemp("replicate-media")  # clips are cached per folder: made once


@pytest.fixture
def fake(media):
    server = FakeReplicate(media)
    yield server
    server.close()


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)


def make_gen(fake: FakeReplicate, model: str = WAN_T2V, clock: Clock | None = None, **options) -> ReplicateGenerator:
    clock = clock or Clock()
    return ReplicateGenerator(model, base_url=fake.url, poll_interval=1.0, sleep=clock.sleep, clock=clock, **options)


def request(tmp_path: Path, **kw) -> ClipRequest:
    fields = dict(shot_id="s1", prompt="a beagle sniffs a lamppost at dawn", duration=5, width=832, height=480,
                  aspect="16:9", resolution="480p", fps=16, out_path=tmp_path / "out" / "clip.mp4")
    fields.update(kw)
    return ClipRequest(**fields)


def creates(fake: FakeReplicate):
    return fake.requests("POST", "/predictions")


def test_text_to_video_writes_a_clip_with_the_requested_frames(fake, keyed, tmp_path):
    result = make_gen(fake).generate(request(tmp_path))
    assert probe_frames(result.path) == 81  # 5 s at 16 fps, Wan's 4k+1 frame count
    assert result.path == tmp_path / "out" / "clip.mp4"
    assert result.duration == Fraction(81, 16)
    assert result.job_id == "fake0001"
    sent = creates(fake)[0]
    assert sent.path == f"/v1/models/{WAN_T2V}/predictions"
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.body["input"] == {"prompt": "a beagle sniffs a lamppost at dawn", "num_frames": 81,
                                  "frames_per_second": 16, "aspect_ratio": "16:9", "resolution": "480p"}


def test_polls_until_succeeded_and_reports_progress(fake, keyed, tmp_path):
    fake.polls_to_finish = 3
    seen: list[tuple[float, str]] = []
    make_gen(fake).generate(request(tmp_path), progress=lambda f, m: seen.append((f, m)))
    assert len(fake.requests("GET", "/v1/predictions/")) == 3
    assert any("processing" in m for _, m in seen)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_output_given_as_a_list_of_urls_is_downloaded(fake, keyed, tmp_path):
    fake.output_as_list = True
    result = make_gen(fake, KLING).generate(request(tmp_path, resolution="1080p"))
    assert probe_frames(result.path) == 5 * 24
    assert creates(fake)[0].body["input"]["duration"] == 5


def test_small_first_frame_image_is_sent_inline_as_a_data_uri(fake, keyed, tmp_path):
    result = make_gen(fake, WAN_I2V).generate(request(tmp_path, image=png(tmp_path / "first.png")))
    sent = creates(fake)[0].body["input"]
    assert sent["image"].startswith("data:image/png;base64,")
    assert "aspect_ratio" not in sent  # image-to-video takes the image's shape
    assert probe_frames(result.path) == 81
    assert fake.uploads == []


def test_image_goes_through_the_files_api_when_asked(fake, keyed, tmp_path):
    make_gen(fake, WAN_I2V, file_encoding="url").generate(request(tmp_path, image=png(tmp_path / "first.png")))
    assert len(fake.uploads) == 1 and b"first.png" in fake.uploads[0]
    assert creates(fake)[0].body["input"]["image"] == f"{fake.url}/v1/files/file1"


def test_wait_option_sends_prefer_wait_and_skips_polling(fake, keyed, tmp_path):
    result = make_gen(fake, wait=30).generate(request(tmp_path))
    assert creates(fake)[0].headers["prefer"] == "wait=30"
    assert fake.requests("GET", "/v1/predictions/") == []
    assert probe_frames(result.path) == 81


def test_wrong_key_is_a_config_error_without_the_key_in_it(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_wrong_secret")
    with pytest.raises(ConfigError) as info:
        make_gen(fake).generate(request(tmp_path))
    assert "REPLICATE_API_TOKEN" in str(info.value) and "r8_wrong_secret" not in str(info.value)


def test_cost_comes_from_the_price_table_without_a_stated_cost(fake, keyed, tmp_path):
    result = make_gen(fake).generate(request(tmp_path))
    rate = make_gen(fake).capabilities().price_per_second
    assert rate > 0
    assert result.cost_usd == pytest.approx(rate * 81 / 16)


def test_cost_stated_by_the_response_wins(fake, keyed, tmp_path):
    fake.cost = 0.4242
    assert make_gen(fake).generate(request(tmp_path)).cost_usd == pytest.approx(0.4242)


def test_capabilities_follow_the_chosen_model():
    wan = ReplicateGenerator(WAN_T2V).capabilities()
    assert wan.allowed_durations()[0] == 5 and wan.allowed_durations()[-1] == Fraction(15, 2)
    assert Fraction(21, 4) in wan.allowed_durations()  # 85 frames
    assert wan.fps == [16] and not wan.image_to_video
    kling = ReplicateGenerator(KLING).capabilities()
    assert kling.allowed_durations() == [5, 10] and kling.image_to_video
    i2v = ReplicateGenerator(WAN_I2V).capabilities()
    assert i2v.image_to_video and not i2v.text_to_video and i2v.last_frame


def test_unknown_model_gets_a_generic_mapping_and_a_note(fake, keyed, tmp_path):
    gen = make_gen(fake, "someone/new-video-model")
    assert "not in reelwright's replicate table" in gen.capabilities().notes
    gen.generate(request(tmp_path, resolution="720p", seed=7, negative_prompt="blurry"))
    assert creates(fake)[0].body["input"] == {"prompt": "a beagle sniffs a lamppost at dawn", "duration": 5,
                                              "aspect_ratio": "16:9", "seed": 7, "negative_prompt": "blurry"}


def test_inputs_option_overrides_the_models_input_names(fake, keyed, tmp_path):
    gen = make_gen(fake, KLING, inputs={"image": "first_frame", "durations": ["5", "7"], "fixed": {"cfg": 0.5}})
    assert gen.capabilities().allowed_durations() == [5, 7]
    gen.generate(request(tmp_path, duration=7, resolution="1080p", image=png(tmp_path / "first.png")))
    sent = creates(fake)[0].body["input"]
    assert sent["first_frame"].startswith("data:image/png") and "start_image" not in sent
    assert sent["cfg"] == 0.5 and sent["duration"] == 7


def test_unknown_input_setting_is_a_config_error():
    with pytest.raises(ConfigError, match="'image_key'"):
        ReplicateGenerator(KLING, inputs={"image_key": "x"})


def test_duration_the_model_cannot_make_is_refused_before_any_request(fake, keyed, tmp_path):
    with pytest.raises(BriefError, match="duration 8 s"):
        make_gen(fake, KLING).generate(request(tmp_path, duration=8, resolution="1080p"))
    assert fake.http.log == []


def test_image_only_model_refuses_a_text_only_request(fake, keyed, tmp_path):
    with pytest.raises(BriefError, match="from an image only"):
        make_gen(fake, WAN_I2V).generate(request(tmp_path))


def test_frame_based_durations_map_to_frame_counts():
    spec = model_inputs.resolve("replicate", "lightricks/ltx-video")
    assert spec.allowed_durations()[:2] == [4, Fraction(16, 3)]
    assert spec.frame_count(Fraction(16, 3)) == 129


def test_a_frame_input_with_only_a_minimum_allows_that_one_length():
    spec = model_inputs.resolve("replicate", "someone/frames-model",
                                {"frames": "num_frames", "native_fps": "16", "min_frames": 81, "frames_offset": 1})
    assert spec.allowed_durations() == [5]


class TestReplicateContract(BackendContract):
    key_vars = ("REPLICATE_API_TOKEN",)
    poll_path = "/v1/predictions/"
    expected_frames = 81
    expected_size = (832, 480)
    moderation_match = "flagged as sensitive"
    failure_match = "CUDA out of memory"
    cancels_on_deadline = True

    def start_fake(self, media, monkeypatch):
        monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
        return FakeReplicate(media)

    def generator(self, fake, clock, **options):
        return ReplicateGenerator(WAN_T2V, base_url=fake.url, **{"poll_interval": 1.0, "sleep": clock.sleep,
                                                                 "clock": clock, **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.create_errors.append((status, "Request failed", message,
                                   {"Retry-After": str(retry_after)} if retry_after else {}))

    def submit_attempts(self, fake):
        return len(creates(fake))

    def polls(self, fake):
        return len(fake.requests("GET", "/v1/predictions/"))

    def cancel_requests(self, fake):
        # Counted only when the prediction really ended canceled on the server.
        canceled = all(p["status"] == "canceled" for p in fake.predictions.values())
        return len(fake.requests("POST", "/cancel")) if canceled else 0


GOOD_INPUT = {"prompt": "a beagle sniffs a lamppost", "num_frames": 81, "frames_per_second": 16, "resolution": "480p",
              "aspect_ratio": "16:9"}


@pytest.mark.parametrize("body, reason", [
    ({"input": {**GOOD_INPUT, "fps": 24}}, "- input: Additional properties are not allowed ('fps' was unexpected)"),
    ({"input": {**GOOD_INPUT, "num_frames": "81"}}, "- input.num_frames: '81' is not of type 'integer'"),
    ({"input": {k: v for k, v in GOOD_INPUT.items() if k != "prompt"}}, "- input: 'prompt' is a required property"),
    ({"input": {**GOOD_INPUT, "num_frames": 161}}, "- input.num_frames: 161 is greater than the maximum of 121"),
    ({"input": {**GOOD_INPUT, "aspect_ratio": "1:1"}}, "- input.aspect_ratio: '1:1' is not one of"),
    ({"inputs": GOOD_INPUT}, "'input' is a required property"),
])
def test_the_fake_refuses_a_body_the_models_schema_refuses(fake, body, reason):
    import httpx

    url = f"{fake.url}/v1/models/{WAN_T2V}/predictions"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(url, json={"input": GOOD_INPUT}, headers=headers).status_code == 201
    bad = httpx.post(url, json=body, headers=headers)
    assert bad.status_code == 422 and bad.json()["title"] == "Input validation failed"
    assert reason in bad.json()["detail"]
    assert len(fake.predictions) == 1
