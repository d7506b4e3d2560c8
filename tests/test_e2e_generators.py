"""End to end against the fake provider servers: `reelwright make` (CLI and Python API) with Grok Imagine
over gRPC and Veo over REST, checking the finished video and what each request to the provider carried."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from reelwright.api import make_video, plan_video
from reelwright.generators.prices import price_per_second
from reelwright.generators.veo import VeoGenerator
from reelwright.media import probe
from tests.fakes.gen_helpers import png
from tests.fakes.veo_server import CLOUD_ENV, VeoFake
from tests.fakes.xai_server import XAIFake

ROOT = Path(__file__).resolve().parents[1]
# A key distinctive enough that finding it anywhere in the outputs means it leaked.
XAI_KEY = "xai-e2e-SECRET-5c1d9f27b3a84e"
GEMINI_KEY = "gemini-e2e-SECRET-84e0a2c7d15f"
BISCUIT, MANGO = (220, 40, 40), (40, 40, 220)
# Shots: opening, walk (no refs), meeting Biscuit, Biscuit and Mango, pup cup (no refs), closing.
DOG = "a dog going on a walk, meeting Biscuit at the park, playing with Biscuit and Mango, getting a pup cup"
XAI_PRICE = price_per_second("xai", "grok-imagine-video", "480p")


# ------------------------------------------------------------------------------------------- helpers
def dog_references(folder: Path) -> list[str]:
    """`--ref` values naming Biscuit and Mango, each a solid-colour PNG written to `folder`."""
    return [f"Biscuit={png(folder / 'biscuit.png', BISCUIT, size=(96, 96))}",
            f"Mango={png(folder / 'mango.png', MANGO, size=(96, 96))}"]


def sent_images(submission) -> list[Image.Image]:
    """The reference images of one GenerateVideo request, decoded from their data URIs."""
    images = []
    for ref in submission.reference_images:
        header, _, payload = ref.image_url.partition(",")
        assert header.startswith("data:image/") and header.endswith(";base64"), header
        images.append(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))
    return images


def solid_colour(image: Image.Image) -> tuple[int, int, int] | None:
    """The image's colour if every pixel has it (a user reference here), else None (a harvested frame)."""
    colours = image.getcolors(1)
    return colours[0][1] if colours else None


def decode_errors(path: Path) -> int:
    errors = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            try:
                packet.decode()
            except av.error.FFmpegError:
                errors += 1
    return errors


def assert_exact_video(path: Path, seconds: int, fps: int = 24) -> None:
    info = probe(path)
    assert info.frames == seconds * fps
    assert abs(info.video_duration - seconds) <= Fraction(1, fps)
    assert abs(info.duration - seconds) <= Fraction(1, fps)
    assert info.audio_duration is not None and abs(info.audio_duration - seconds) <= Fraction(1, fps)
    assert (info.vcodec, info.acodec) == ("h264", "aac")
    assert decode_errors(path) == 0


def accepted_requests(delivery, fake: XAIFake) -> dict[str, object]:
    """shot id -> the GenerateVideo request that made its accepted clip (joined on the provider's job id)."""
    state = delivery.run.load_state()
    return {rec.shot_id: fake.jobs[rec.job_id].request for rec in state.accepted.values()}


def entity_id(plan, name: str) -> str:
    return next(e.id for e in plan.cast.entities if e.name == name)


def files_containing(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


class ModeratingXAIFake(XAIFake):
    """The xAI fake, blocking by moderation every video whose prompt has a flagged word."""

    flagged = ("fight",)

    def GetDeferredVideo(self, request, context):  # noqa: N802 - gRPC method name
        from xai_sdk.proto import deferred_pb2, video_pb2

        job = self.jobs.get(request.request_id)
        if job is not None and any(w in job.request.prompt.lower() for w in self.flagged):
            self._check(context, self.poll_failures)
            video = video_pb2.GeneratedVideo(url="", duration=0, respect_moderation=False)
            return video_pb2.GetDeferredVideoResponse(
                status=deferred_pb2.DeferredStatus.DONE,
                response=video_pb2.VideoResponse(video=video, model=job.request.model))
        return super().GetDeferredVideo(request, context)


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def xai(tmp_path, monkeypatch):
    workdir = tmp_path / "xai-fake"
    workdir.mkdir()
    server = XAIFake(workdir=workdir, api_key=XAI_KEY, pending_polls=0)
    monkeypatch.setenv("XAI_API_KEY", XAI_KEY)
    yield server
    server.close()


@pytest.fixture
def refs(tmp_path) -> list[str]:
    return dog_references(tmp_path)


@pytest.fixture(scope="module")
def dog_run(tmp_path_factory):
    """One 20 s Grok Imagine run through the Python API with two named references (shared: it is the
    expensive part, and each test below checks one thing about it)."""
    tmp = tmp_path_factory.mktemp("dog-run")
    (tmp / "fake").mkdir()
    server = XAIFake(workdir=tmp / "fake", api_key=XAI_KEY, pending_polls=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REELWRIGHT_HOME", str(tmp / "home"))
        mp.setenv("XAI_API_KEY", XAI_KEY)
        mp.delenv("REELWRIGHT_XAI_API_HOST", raising=False)
        try:
            delivery = make_video(DOG, output=tmp / "out.mp4", runs_dir=tmp / "runs", generator="xai", duration=20,
                                  resolution="480p", references=dog_references(tmp),
                                  generator_options={"api_host": server.api_host, "poll_interval": 0.01})
            yield delivery, server
        finally:
            server.close()


# ------------------------------------------------------------------------------------------- Grok Imagine
@pytest.mark.slow
def test_api_run_against_xai_delivers_an_exact_20_second_video(dog_run):
    delivery, fake = dog_run
    assert delivery.output.is_file() and delivery.duration == 20
    assert_exact_video(delivery.output, 20)
    assert len(accepted_requests(delivery, fake)) == len(delivery.plan.shots) == len(fake.submissions)


@pytest.mark.slow
def test_named_references_go_only_to_the_shots_they_appear_in(dog_run):
    delivery, fake = dog_run
    plan = delivery.plan
    biscuit, mango = entity_id(plan, "Biscuit"), entity_id(plan, "Mango")
    sent = accepted_requests(delivery, fake)
    with_biscuit = {s.id for s in plan.shots if biscuit in s.entities}
    with_mango = {s.id for s in plan.shots if mango in s.entities}
    assert with_biscuit and with_mango and with_mango < with_biscuit  # both appear, and some shots have neither
    assert set(sent) - with_biscuit, "the request should leave some shots without the named characters"
    for shot in plan.shots:
        colours = [solid_colour(img) for img in sent_images(sent[shot.id])]
        assert len(colours) <= 7
        user = [c for c in colours if c is not None]
        expected = [c for c, ids in ((BISCUIT, with_biscuit), (MANGO, with_mango)) if shot.id in ids]
        assert user == expected, f"{shot.id}: sent {user}, expected {expected}"


@pytest.mark.slow
def test_each_image_token_in_the_prompt_points_at_that_characters_image(dog_run):
    delivery, fake = dog_run
    plan = delivery.plan
    sent = accepted_requests(delivery, fake)
    checked = 0
    for shot in plan.shots:
        request = sent[shot.id]
        images = sent_images(request)
        for name, colour in (("Biscuit", BISCUIT), ("Mango", MANGO)):
            if entity_id(plan, name) not in shot.entities:
                continue
            token = re.search(rf"{name}\W{{0,3}}<IMAGE_(\d+)>", request.prompt)
            assert token, f"{shot.id}: the prompt does not name {name} as <IMAGE_n>: {request.prompt}"
            n = int(token.group(1))
            assert 1 <= n <= len(images) and solid_colour(images[n - 1]) == colour, \
                f"{shot.id}: <IMAGE_{n}> is {name} in the prompt but image {n} is not {name}'s"
            checked += 1
    assert checked == 3  # Biscuit twice, Mango once


@pytest.mark.slow
def test_cli_make_with_xai_uses_the_host_from_the_environment_and_never_leaks_the_key(xai, refs, tmp_path):
    out, runs = tmp_path / "out.mp4", tmp_path / "runs"
    env = {**os.environ, "XAI_API_KEY": XAI_KEY, "REELWRIGHT_XAI_API_HOST": xai.api_host}
    argv = [sys.executable, "-m", "reelwright.cli", "make", DOG, "--generator", "xai", "--ref", refs[0], "--ref",
            refs[1], "-o", str(out), "--duration", "20", "--resolution", "480p", "--runs-dir", str(runs)]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_exact_video(out, 20)
    assert len(xai.submissions) == 6 and set(xai.auth_headers) == {f"Bearer {XAI_KEY}"}
    sent = [solid_colour(img) for s in xai.submissions for img in sent_images(s)]
    assert sent.count(BISCUIT) == 2 and sent.count(MANGO) == 1
    assert XAI_KEY not in proc.stdout and XAI_KEY not in proc.stderr
    assert files_containing(runs, XAI_KEY) == [] and XAI_KEY.encode() not in out.read_bytes()


@pytest.mark.slow
def test_cli_budget_stops_before_crossing_it(xai, refs, tmp_path):
    budget = 0.3
    plan = plan_video(DOG, generator="xai", duration=20, resolution="480p", references=refs)
    assert plan.estimated_cost_usd > budget
    out = tmp_path / "out.mp4"
    env = {**os.environ, "XAI_API_KEY": XAI_KEY, "REELWRIGHT_XAI_API_HOST": xai.api_host}
    argv = [sys.executable, "-m", "reelwright.cli", "make", DOG, "--generator", "xai", "--ref", refs[0], "--ref",
            refs[1], "-o", str(out), "--duration", "20", "--resolution", "480p", "--budget", str(budget),
            "--runs-dir", str(tmp_path / "runs")]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "budget" in errors[0] and "Traceback" not in proc.stderr
    assert not out.exists()
    sent_usd = sum(s.duration for s in xai.submissions) * XAI_PRICE
    shortest = min(s.gen_duration for s in plan.shots)
    assert xai.submissions and sent_usd <= budget + 1e-9
    assert sent_usd + float(shortest) * XAI_PRICE > budget  # it stopped because nothing more fitted
    assert len(xai.submissions) < len(plan.shots)


@pytest.mark.slow
def test_moderated_shot_is_rewritten_family_friendly_and_the_video_completes(tmp_path, monkeypatch):
    fake = ModeratingXAIFake(workdir=tmp_path, api_key=XAI_KEY, pending_polls=0)
    monkeypatch.setenv("XAI_API_KEY", XAI_KEY)
    try:
        delivery = make_video("a dog going on a walk, then a fight over a stick", output=tmp_path / "out.mp4",
                              runs_dir=tmp_path / "runs", generator="xai", duration=6, resolution="480p",
                              generator_options={"api_host": fake.api_host, "poll_interval": 0.01})
    finally:
        fake.close()
    assert_exact_video(delivery.output, 6)
    blocked = [s for s in fake.submissions if "fight" in s.prompt.lower()]
    assert blocked, "the request should have reached the provider with the flagged word first"
    accepted = accepted_requests(delivery, fake)
    fight_shot = next(s.id for s in delivery.plan.shots if "fight" in s.beat)
    rewritten = accepted[fight_shot].prompt
    assert rewritten.startswith("A family-friendly") and "fight" not in rewritten.lower()
    assert len(fake.submissions) == len(delivery.plan.shots) + len(blocked)


# ------------------------------------------------------------------------------------------- Veo
@pytest.fixture
def veo(tmp_path, monkeypatch):
    for var in CLOUD_ENV:
        monkeypatch.delenv(var, raising=False)
    workdir = tmp_path / "veo-fake"
    workdir.mkdir()
    server = VeoFake(workdir=workdir, api_key=GEMINI_KEY, pending_polls=0)
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    yield server
    server.close()


@pytest.mark.slow
def test_veo_continuation_extends_the_previous_result_by_its_uri(veo, tmp_path):
    options = {"base_url": veo.url, "poll_interval": 0.01}
    plan = plan_video("a dog walks to the park, then sits by the pond", generator="veo", duration=5,
                      generator_options=options)
    assert len(plan.shots) == 2
    hop = VeoGenerator(**options).capabilities().extend_durations[0]
    veo.extend_seconds = float(hop)
    plan.shots[1].continues = True
    plan.shots[1].gen_duration = hop  # an extension adds the generator's fixed hop
    delivery = make_video(plan=plan, output=tmp_path / "out.mp4", runs_dir=tmp_path / "runs",
                          generator_options=options)
    assert_exact_video(delivery.output, 5)
    first, second = veo.submissions
    assert "video" not in first.body["instances"][0]
    downloads = [r for r in veo.http.log if r.method == "GET" and r.path.startswith("/files/")]
    first_uri = veo.url + downloads[0].path
    assert second.body["instances"][0]["video"] == {"uri": first_uri}
    assert "durationSeconds" not in second.body["parameters"]
    assert veo.http.log.index(downloads[0]) < veo.http.log.index(second)


@pytest.mark.slow
def test_veo_run_of_four_second_shots_completes(veo, tmp_path):
    delivery = make_video("a dog walks to the park, then sits by the pond", generator="veo", duration=5,
                          output=tmp_path / "out.mp4", runs_dir=tmp_path / "runs",
                          generator_options={"base_url": veo.url, "poll_interval": 0.01})
    assert_exact_video(delivery.output, 5)


@pytest.mark.slow
def test_veo_continuation_planned_without_the_hop_length_still_completes(veo, tmp_path):
    options = {"base_url": veo.url, "poll_interval": 0.01}
    plan = plan_video("a dog walks to the park, then sits by the pond", generator="veo", duration=5,
                      generator_options=options)
    plan.shots[1].continues = True  # what the `extend` tool does to a shot
    delivery = make_video(plan=plan, output=tmp_path / "out.mp4", runs_dir=tmp_path / "runs",
                          generator_options=options)
    assert_exact_video(delivery.output, 5)
    assert veo.submissions[1].body["instances"][0]["video"]["uri"].startswith(veo.url)
