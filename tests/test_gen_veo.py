"""The Google Veo adapter: the Gemini REST long-running API with httpx, and google-genai in
Vertex mode, both against a fake Veo service on 127.0.0.1. The hosted-backend contract
(`tests/gen_contract.py`) runs over REST; the rest is Veo's own."""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.errors import (
    BriefError,
    ConfigError,
    GeneratorError,
    ModerationError,
    TransientGeneratorError,
)
from reelwright.generators.base import ClipRequest, ReferenceImage
from reelwright.generators.jobs import RetryPolicy, probe_clip
from reelwright.generators.prices import price_per_second
from reelwright.generators.veo import VeoGenerator
from tests.fakes.gen_helpers import png
from tests.fakes.veo_server import CLOUD_ENV, HttpFailure, VeoFake
from tests.gen_contract import BackendContract


@pytest.fixture(autouse=True)
def _no_cloud_env(monkeypatch):
    for var in CLOUD_ENV:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    server = VeoFake(workdir=tmp_path)
    monkeypatch.setenv("GEMINI_API_KEY", server.api_key)
    yield server
    server.close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def gen(fake, sleeps):
    g = VeoGenerator(base_url=fake.url, poll_interval=0.01, sleep=sleeps.append,
                     retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    yield g
    g.close()


def request(tmp_path: Path, **kw) -> ClipRequest:
    base = dict(shot_id="s1", prompt="a dog gets a pup cup", duration=4, width=1280, height=720, aspect="16:9",
                resolution="720p", out_path=tmp_path / "out" / "s1.mp4")
    base.update(kw)
    return ClipRequest(**base)


def test_rest_text_to_video_downloads_a_probed_mp4(gen, fake, tmp_path):
    result = gen.generate(request(tmp_path))
    info = probe_clip(result.path)
    assert info.frames == fake.frames_served(result.job_id) == 96
    assert result.duration == Fraction(4) and info.has_audio
    assert result.metadata["transport"] == "rest" and result.job_id.startswith("models/veo-3.1-generate-preview/")


def test_rest_request_body_follows_the_gemini_api(gen, fake, tmp_path):
    gen.generate(request(tmp_path, negative_prompt="blur, text overlays", duration=6, aspect="9:16"))
    sent = fake.submissions[0]
    assert sent.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert sent.body == {"instances": [{"prompt": "a dog gets a pup cup"}],
                         "parameters": {"aspectRatio": "9:16", "resolution": "720p", "durationSeconds": 6,
                                        "negativePrompt": "blur, text overlays"}}


def test_the_key_is_a_header_on_every_call_and_never_in_a_url(gen, fake, tmp_path):
    gen.generate(request(tmp_path))
    assert all(r.headers.get("x-goog-api-key") == fake.api_key for r in fake.http.log)
    assert all(fake.api_key not in r.path for r in fake.http.log)


def test_the_key_is_not_sent_to_a_foreign_download_host(gen):
    gen._http_client()
    assert gen._download_headers("https://storage.example.com/v.mp4") == {}
    assert gen._download_headers(f"{gen.base_url}/files/x:download")["x-goog-api-key"]


def test_first_last_frame_and_asset_references_are_inline_images(gen, fake, tmp_path):
    first, last = png(tmp_path / "first.png"), png(tmp_path / "last.png", (1, 2, 3))
    gen.generate(request(tmp_path, image=first, last_image=last, duration=8))
    instance = fake.submissions[0].body["instances"][0]
    assert instance["image"]["mimeType"] == "image/png"
    assert base64.b64decode(instance["lastFrame"]["bytesBase64Encoded"]) == last.read_bytes()

    refs = [ReferenceImage(path=png(tmp_path / f"r{i}.png")) for i in range(3)]
    gen.generate(request(tmp_path, references=refs, duration=8))
    sent_refs = fake.submissions[1].body["instances"][0]["referenceImages"]
    assert [r["referenceType"] for r in sent_refs] == ["asset"] * 3


def test_reference_images_require_an_eight_second_clip(gen, fake, tmp_path):
    refs = [ReferenceImage(path=png(tmp_path / "r.png"))]
    with pytest.raises(BriefError, match="must be 8 s"):
        gen.generate(request(tmp_path, references=refs, duration=6))
    assert fake.submissions == []


def test_a_last_frame_without_a_first_image_is_refused(gen, fake, tmp_path):
    with pytest.raises(BriefError, match="last frame only together with a first-frame image"):
        gen.generate(request(tmp_path, last_image=png(tmp_path / "l.png")))


def test_durations_other_than_4_6_8_are_refused_quoting_the_value(gen, tmp_path):
    with pytest.raises(BriefError, match="cannot make a 5 s clip"):
        gen.generate(request(tmp_path, duration=5))


def test_extension_over_rest_continues_a_veo_video_by_uri_and_keeps_the_new_seconds(fake, tmp_path):
    gen = VeoGenerator(base_url=fake.url, poll_interval=0.0, sleep=lambda s: None, extend_seconds=2)
    first = gen.generate(request(tmp_path))
    fake.extension_returns_full, fake.extend_seconds = True, 2.0
    out = tmp_path / "out" / "s2.mp4"
    result = gen.generate(request(tmp_path, duration=2, extend_job=first.metadata["video_uri"], out_path=out))
    sent = fake.submissions[1].body
    assert sent["instances"][0]["video"] == {"uri": first.metadata["video_uri"]}
    assert "durationSeconds" not in sent["parameters"]
    assert fake.frames_served(result.job_id) == 72 and probe_clip(out).frames == 48


def test_google_api_key_also_works(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", fake.api_key)
    gen = VeoGenerator(base_url=fake.url, poll_interval=0.0, sleep=lambda s: None)
    assert probe_clip(gen.generate(request(tmp_path)).path).frames == 96


def test_resource_exhausted_is_retried_after_the_servers_hint(gen, fake, sleeps, tmp_path):
    fake.submit_failures.append(HttpFailure(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_after=2))
    result = gen.generate(request(tmp_path))
    assert probe_clip(result.path).frames == 96
    assert len(fake.submissions) == 2 and sleeps[0] == 2.0


def test_rate_limiting_that_never_ends_raises_transient_after_max_attempts(gen, fake, tmp_path):
    for _ in range(3):
        fake.submit_failures.append(HttpFailure(429, "RESOURCE_EXHAUSTED", "Quota exceeded"))
    with pytest.raises(TransientGeneratorError, match="RESOURCE_EXHAUSTED"):
        gen.generate(request(tmp_path))
    assert len(fake.submissions) == 3


def test_invalid_argument_is_not_retried(gen, fake, sleeps, tmp_path):
    fake.submit_failures.append(HttpFailure(400, "INVALID_ARGUMENT", "aspectRatio is not supported"))
    with pytest.raises(GeneratorError, match="400: INVALID_ARGUMENT aspectRatio") as err:
        gen.generate(request(tmp_path))
    assert not isinstance(err.value, (TransientGeneratorError, ModerationError))
    assert len(fake.submissions) == 1 and sleeps == []


def test_a_prompt_refused_at_submit_is_a_moderation_error(gen, fake, tmp_path):
    fake.submit_failures.append(HttpFailure(400, "INVALID_ARGUMENT",
                                            "The prompt contains sensitive words that violate Google's Responsible AI practices."))
    with pytest.raises(ModerationError, match="Responsible AI"):
        gen.generate(request(tmp_path))


def test_poll_responses_retry_after_is_honoured(gen, fake, sleeps, tmp_path):
    fake.poll_hint = 0.5
    gen.generate(request(tmp_path))
    assert sleeps == [0.5, 0.5]


def test_a_transient_poll_failure_is_retried(gen, fake, tmp_path):
    fake.poll_failures.append(HttpFailure(503, "UNAVAILABLE", "backend busy"))
    assert probe_clip(gen.generate(request(tmp_path)).path).frames == 96


def test_cost_comes_from_the_price_table(gen, fake, tmp_path):
    result = gen.generate(request(tmp_path))
    assert result.cost_usd == pytest.approx(4 * price_per_second("veo", "veo-3.1-generate-preview", "720p"))


def test_google_cloud_project_selects_the_vertex_transport(monkeypatch):
    assert VeoGenerator().transport == "rest"
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    assert VeoGenerator().transport == "vertex"
    assert VeoGenerator(transport="rest").transport == "rest"


@pytest.fixture
def vertex(fake, sleeps):
    from google.oauth2.credentials import Credentials

    g = VeoGenerator(transport="vertex", project="proj", location="us-central1", base_url=fake.url,
                     credentials=Credentials(token=fake.token), poll_interval=0.01, sleep=sleeps.append,
                     retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    yield g
    g.close()


def test_vertex_generates_through_google_genai_against_the_fake(vertex, fake, tmp_path, make_clip):
    result = vertex.generate(request(tmp_path, negative_prompt="blur", seed=7))
    assert probe_clip(result.path).frames == fake.frames_served(result.job_id) == 96
    sent = fake.submissions[0]
    assert sent.path == ("/v1beta1/projects/proj/locations/us-central1/publishers/google/models/"
                         "veo-3.1-generate-preview:predictLongRunning")
    params = sent.body["parameters"]
    assert (params["durationSeconds"], params["negativePrompt"], params["seed"], params["generateAudio"]) == (4, "blur", 7, True)
    assert result.metadata["transport"] == "vertex"


def test_vertex_polls_a_recorded_operation_by_name_instead_of_submitting_again(vertex, fake, tmp_path, make_clip):
    from reelwright.errors import TransientGeneratorError

    submitted: list[str] = []
    asked = request(tmp_path, on_submitted=submitted.append)
    fake.poll_failures.extend([HttpFailure(503, "UNAVAILABLE", "backend busy")] * 3)  # past the 3 attempts
    with pytest.raises(TransientGeneratorError) as info:
        vertex.generate(asked)
    assert submitted and info.value.job_id == submitted[0] in fake.operations
    result = vertex.generate(asked.model_copy(update={"resume_job": info.value.job_id}))
    assert result.job_id == submitted[0] and len(fake.submissions) == 1
    assert probe_clip(result.path).frames == fake.frames_served(result.job_id)


def test_vertex_extension_sends_the_local_video_bytes(fake, tmp_path, make_clip):
    from google.oauth2.credentials import Credentials

    vertex = VeoGenerator(transport="vertex", project="proj", base_url=fake.url, credentials=Credentials(token=fake.token),
                          poll_interval=0.0, sleep=lambda s: None, extend_seconds=2)
    fake.extend_seconds = 2.0
    source = make_clip(seconds=1.0, width=160, height=90)
    result = vertex.generate(request(tmp_path, duration=2, extend_from=source))
    video = fake.submissions[0].body["instances"][0]["video"]
    assert base64.b64decode(video["bytesBase64Encoded"]) == source.read_bytes()
    assert probe_clip(result.path).frames == 48


def test_vertex_rai_filtered_output_is_a_moderation_error(vertex, fake, tmp_path):
    fake.outcome = "filtered"
    with pytest.raises(ModerationError, match="usage guidelines"):
        vertex.generate(request(tmp_path))


def test_vertex_rate_limit_is_retried(vertex, fake, sleeps, tmp_path):
    fake.submit_failures.append(HttpFailure(429, "RESOURCE_EXHAUSTED", "Quota exceeded", retry_after=1))
    assert probe_clip(vertex.generate(request(tmp_path)).path).frames == 96
    assert sleeps[0] == 1.0 and len(fake.submissions) == 2


def test_vertex_bad_request_is_not_retried(vertex, fake, tmp_path):
    fake.submit_failures.append(HttpFailure(400, "INVALID_ARGUMENT", "bad resolution"))
    with pytest.raises(GeneratorError, match="bad resolution"):
        vertex.generate(request(tmp_path))
    assert len(fake.submissions) == 1


def test_vertex_without_a_project_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
        VeoGenerator(transport="vertex").generate(request(tmp_path))


def test_2160p_is_sent_as_veos_4k_and_needs_an_eight_second_clip(fake, tmp_path):
    gen = VeoGenerator(base_url=fake.url, poll_interval=0.0, sleep=lambda s: None)
    with pytest.raises(BriefError, match="2160p only as 8 s"):
        gen.generate(request(tmp_path, resolution="2160p", duration=4))
    assert gen.rest_body(request(tmp_path, resolution="2160p", duration=8))["parameters"]["resolution"] == "4k"
    assert fake.submissions == []


# Google's status name for each HTTP status the contract asks for.
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE"}


class TestVeoContract(BackendContract):
    key_vars = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    poll_path = "/operations/"
    expected_frames = 96
    expected_size = (1280, 720)
    moderation_match = "usage guidelines"
    failure_match = "internal error while generating"
    cancels_on_deadline = False  # the Gemini API offers no cancel for video operations

    def start_fake(self, media, monkeypatch):
        for var in CLOUD_ENV:
            monkeypatch.delenv(var, raising=False)
        server = VeoFake(workdir=media)
        monkeypatch.setenv("GEMINI_API_KEY", server.api_key)
        return server

    def generator(self, fake, clock, **options):
        return VeoGenerator(base_url=fake.url, **{"poll_interval": 1.0, "sleep": clock.sleep, "clock": clock,
                                                  **options})

    def request(self, tmp_path):
        return request(tmp_path)

    def fail_submit(self, fake, status, message, retry_after=None):
        fake.submit_failures.append(HttpFailure(status, GOOGLE_STATUS[status], message, retry_after=retry_after))

    def submit_attempts(self, fake):
        return len(fake.submissions)

    def set_outcome(self, fake, outcome):
        fake.outcome = {"moderated": "filtered", "failed": "error"}.get(outcome, outcome)

    def polls(self, fake):
        return len(fake.requests("GET", "/operations/"))


GOOD_BODY = {"instances": [{"prompt": "a dog gets a pup cup"}],
             "parameters": {"durationSeconds": 8, "aspectRatio": "16:9", "resolution": "720p"}}


@pytest.mark.parametrize("instance, parameters, reason", [
    ({"fps": 24}, {}, 'Unknown name "fps" at \'instances[0]\''),  # unknown field
    ({}, {"frameRate": 24}, 'Unknown name "frameRate" at \'parameters\''),
    ({"prompt": 7}, {}, "prompt is required"),  # wrong type
    ({"prompt": None}, {}, "prompt is required"),  # missing required (removed below)
    ({}, {"durationSeconds": 5}, "durationSeconds 5 is not supported"),  # outside the documented values
    ({}, {"aspectRatio": "1:1"}, "aspectRatio '1:1' is not supported"),
    ({"lastFrame": {"bytesBase64Encoded": "AA==", "mimeType": "image/png"}}, {}, "only together with image"),
    ({"image": {"bytesBase64Encoded": "AA==", "mimeType": "image/gif"}}, {}, "mimeType 'image/gif'"),
])
def test_the_fake_refuses_a_body_the_gemini_api_refuses(fake, instance, parameters, reason):
    import httpx

    inst = {k: v for k, v in {**GOOD_BODY["instances"][0], **instance}.items() if v is not None}
    body = {"instances": [inst], "parameters": {**GOOD_BODY["parameters"], **parameters}}
    url = f"{fake.url}/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    headers = {"x-goog-api-key": fake.api_key}
    assert httpx.post(url, json=GOOD_BODY, headers=headers).status_code == 200
    bad = httpx.post(url, json=body, headers=headers)
    error = bad.json()["error"]
    assert bad.status_code == 400 and error["status"] == "INVALID_ARGUMENT" and reason in error["message"]
    assert len(fake.operations) == 1
