"""The fal adapter against a fake fal queue on 127.0.0.1 (HTTPS with a test-made certificate),
with the official fal-client as client: the hosted-backend contract (`tests/gen_contract.py`), then
what is fal's own."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import fal_client.client
import pytest

from reelwright.errors import ConfigError
from reelwright.generators.base import ClipRequest
from reelwright.generators.fal import FalGenerator
from tests.fakes.fal_server import KEY, FakeFal, make_self_signed_cert
from tests.fakes.gen_helpers import Clock, png, probe_frames
from tests.gen_contract import BackendContract

WAN = "fal-ai/wan/v2.2-a14b/text-to-video"
KLING_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
HAILUO = "fal-ai/minimax/hailuo-02/standard/text-to-video"


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_self_signed_cert(tmp_path_factory.mktemp("fal-tls"))


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return tmp_path_factory.mktemp("fal-media")


@pytest.fixture
def fake(media, cert, monkeypatch):
    server = FakeFal(media, cert)
    # fal-client builds https://$FAL_QUEUE_RUN_HOST/…; trust the fake's certificate for this test only.
    monkeypatch.setenv("FAL_QUEUE_RUN_HOST", server.host)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", fal_client.client.QUEUE_URL_FORMAT)  # restored after
    yield server
    server.close()


@pytest.fixture
def keyed(monkeypatch):
    monkeypatch.setenv("FAL_KEY", KEY)


def make_gen(model: str = WAN, clock: Clock | None = None, **options) -> FalGenerator:
    clock = clock or Clock()
    return FalGenerator(model, poll_interval=1.0, sleep=clock.sleep, clock=clock, **options)


def request(tmp_path: Path, **kw) -> ClipRequest:
    fields = dict(shot_id="s1", prompt="a beagle gets a pup cup at a cafe window", duration=5, width=832,
                  height=480, aspect="16:9", resolution="480p", fps=16, out_path=tmp_path / "out" / "clip.mp4")
    fields.update(kw)
    return ClipRequest(**fields)


def submits(fake: FakeFal):
    return fake.requests("POST")


def test_text_to_video_writes_a_clip_with_the_requested_frames(fake, keyed, tmp_path):
    result = make_gen().generate(request(tmp_path, negative_prompt="blurry, static"))
    assert probe_frames(result.path) == 81
    assert result.duration == Fraction(81, 16)
    assert result.job_id == "req-0001"
    sent = submits(fake)[0]
    assert sent.path == f"/{WAN}"
    assert sent.headers["authorization"] == f"Key {KEY}"
    assert sent.body == {"prompt": "a beagle gets a pup cup at a cafe window", "negative_prompt": "blurry, static",
                         "num_frames": 81, "frames_per_second": 16, "aspect_ratio": "16:9", "resolution": "480p"}


def test_queue_position_and_logs_are_reported_as_progress(fake, keyed, tmp_path):
    seen: list[str] = []
    make_gen().generate(request(tmp_path), progress=lambda f, m: seen.append(m))
    assert "fal: queued (position 2)" in seen
    assert "fal: in progress: step 2" in seen
    assert seen[-1] == "fal: done"


def test_string_durations_are_sent_as_strings(fake, keyed, tmp_path):
    fake.default_fps = 25
    result = make_gen(HAILUO).generate(request(tmp_path, duration=6, resolution="768p"))
    assert submits(fake)[0].body["duration"] == "6"
    assert probe_frames(result.path) == 6 * 25


def test_local_image_is_sent_as_a_data_uri(fake, keyed, tmp_path):
    image = png(tmp_path / "first.png")
    result = make_gen(KLING_I2V).generate(request(tmp_path, image=image, resolution="720p"))
    sent = submits(fake)[0].body
    assert sent["image_url"].startswith("data:image/png;base64,")
    assert sent["duration"] == "5"
    assert probe_frames(result.path) == 5 * 24


def test_wrong_key_is_a_config_error_without_the_key_in_it(fake, monkeypatch, tmp_path):
    monkeypatch.setenv("FAL_KEY", "fal-wrong-secret")
    with pytest.raises(ConfigError, match="FAL_KEY") as info:
        make_gen().generate(request(tmp_path))
    assert "fal-wrong-secret" not in str(info.value)


def test_cost_comes_from_the_price_table(fake, keyed, tmp_path):
    gen = make_gen()
    result = gen.generate(request(tmp_path))
    assert result.cost_usd == pytest.approx(gen.capabilities().price_per_second * 81 / 16)


def test_capabilities_follow_the_chosen_app():
    hailuo = FalGenerator(HAILUO).capabilities()
    assert hailuo.allowed_durations() == [6, 10] and hailuo.fps == [25] and not hailuo.image_to_video
    kling = FalGenerator(KLING_I2V).capabilities()
    assert kling.image_to_video and not kling.text_to_video
    assert "generic inputs" in FalGenerator("someone/unknown-app").capabilities().notes


class TestFalContract(BackendContract):
    key_vars = ("FAL_KEY",)
    poll_path = "/status"
    expected_frames = 81
    expected_size = (832, 480)
    moderation_match = "content checker"
    failure_match = "ran out of memory"
    cancels_on_deadline = True
    sdk_retries_429 = True

    def start_fake(self, media, monkeypatch):
        server = FakeFal(media, make_self_signed_cert(media / "tls"))
        # fal-client builds https://$FAL_QUEUE_RUN_HOST/…; trust the fake's certificate for this test only.
        monkeypatch.setenv("FAL_QUEUE_RUN_HOST", server.host)
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert[0]))
        monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", fal_client.client.QUEUE_URL_FORMAT)
        monkeypatch.setenv("FAL_KEY", KEY)
        return server

    def generator(self, fake, clock, **options):
        return FalGenerator(WAN, **{"poll_interval": 1.0, "sleep": clock.sleep, "clock": clock, **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.submit_errors.append((status, message, "rate_limited" if status == 429 else "validation_error",
                                   {"Retry-After": str(retry_after)} if retry_after else {}))

    def submit_attempts(self, fake):
        return len(submits(fake))

    def polls(self, fake):
        return len(fake.requests("GET", "/status"))

    def cancel_requests(self, fake):
        # Counted only when the request really ended canceled on the server.
        canceled = all(job["canceled"] for job in fake.jobs.values())
        return len(fake.requests("PUT", "/cancel")) if canceled else 0


GOOD_INPUT = {"prompt": "a beagle gets a pup cup", "num_frames": 81, "frames_per_second": 16, "resolution": "480p"}


@pytest.mark.parametrize("change, loc, reason", [
    ({"num_frames": "81"}, ["body", "num_frames"], "is not of type 'integer'"),  # wrong type
    ({"prompt": None}, ["body"], "'prompt' is a required property"),  # missing required (removed below)
    ({"num_frames": 241}, ["body", "num_frames"], "241 is greater than the maximum of 161"),
    ({"resolution": "1080p"}, ["body", "resolution"], "'1080p' is not one of"),
    ({"frames_per_second": 2}, ["body", "frames_per_second"], "2 is less than the minimum of 4"),
])
def test_the_fake_refuses_an_input_the_apps_schema_refuses(fake, change, loc, reason):
    import ssl

    import httpx

    body = {k: v for k, v in {**GOOD_INPUT, **change}.items() if v is not None}
    url, headers = f"{fake.url}/{WAN}", {"Authorization": f"Key {KEY}"}
    with httpx.Client(verify=ssl.create_default_context(cafile=str(fake.cert[0]))) as http:
        assert http.post(url, json=GOOD_INPUT, headers=headers).status_code == 200
        bad = http.post(url, json=body, headers=headers)
    assert bad.status_code == 422
    assert [(d["loc"], reason in d["msg"]) for d in bad.json()["detail"]] == [(loc, True)]
    assert len(fake.jobs) == 1
