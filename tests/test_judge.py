"""The vision judge against fake OpenAI and Anthropic servers: frames sampled from a real clip go out
as images, scores and reasons come back as a Verdict."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from reelwright.critique.judge import VisionJudge
from reelwright.llm import get_llm
from tests.conftest import make_test_clip
from tests.fakes.anthropic_server import FakeAnthropic, json_message
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, json_completion


def scores(adherence=0.9, sense=0.9, artifacts=0.9, continuity=0.9, reason="fine", fix=""):
    return {"prompt_adherence": {"score": adherence, "reason": reason if adherence < 0.6 else "matches",
                                 "fix": fix if adherence < 0.6 else ""},
            "logical_sense": {"score": sense, "reason": "plausible", "fix": ""},
            "visual_artifacts": {"score": artifacts, "reason": "smeared fur" if artifacts < 0.6 else "clean",
                                 "fix": "crisp, clean fur texture" if artifacts < 0.6 else ""},
            "continuity": {"score": continuity, "reason": "same place", "fix": ""}}


@pytest.fixture
def server():
    with FakeOpenAI() as s:
        yield s


@pytest.fixture
def clip(tmp_path):
    return make_test_clip(tmp_path / "clip.mp4", seconds=2, width=320, height=180)


def _images(body):
    parts = body["messages"][-1]["content"]
    return [Image.open(io.BytesIO(base64.b64decode(p["image_url"]["url"].split(",", 1)[1])))
            for p in parts if p["type"] == "image_url"]


def test_judge_sends_sampled_frames_and_passes_a_good_clip(server, clip):
    server.push(json_completion(scores()))
    judge = VisionJudge(get_llm("openai:gpt-4.1", base_url=server.base_url), frames=3)
    verdict = judge.judge_clip(clip, None, {"prompt": "a test pattern", "beat": "colour bars"})
    assert verdict.passed and verdict.critic == "judge"
    assert verdict.scores == {"prompt_adherence": 0.9, "logical_sense": 0.9, "visual_artifacts": 0.9,
                              "continuity": 1.0}  # no previous shot: continuity is not the model's guess
    images = _images(server.bodies[0])
    assert [im.size for im in images] == [(320, 180)] * 3
    assert len({im.tobytes() for im in images}) == 3  # three different moments of a moving pattern
    text = server.bodies[0]["messages"][-1]["content"][0]["text"]
    assert "a test pattern" in text and "1.67 s" in text
    assert server.bodies[0]["response_format"]["json_schema"]["name"] == "JudgeScores"


def test_judge_rejects_with_scores_and_reasons(server, clip):
    server.push(json_completion(scores(adherence=0.2, reason="no dog is visible, only colour bars",
                                       fix="a dog sniffing a lamppost fills the frame")))
    judge = VisionJudge(get_llm("openai:gpt-4.1", base_url=server.base_url), threshold=0.6)
    verdict = judge.judge_clip(clip, None, {"prompt": "a dog sniffing a lamppost"})
    assert not verdict.passed
    assert verdict.scores["prompt_adherence"] == 0.2
    assert verdict.reasons == ["prompt adherence 0.20: a dog sniffing a lamppost fills the frame"]
    failed = [(c.name, c.detail) for c in verdict.checks if not c.passed]
    assert failed == [("judge.prompt_adherence", "no dog is visible, only colour bars")]


def test_judge_shows_the_previous_shots_last_frame_first(server, clip, tmp_path):
    previous = make_test_clip(tmp_path / "prev.mp4", seconds=1, width=320, height=180, source="smptebars")
    server.push(json_completion(scores(continuity=0.3)))
    judge = VisionJudge(get_llm("openai:gpt-4.1", base_url=server.base_url), frames=2)
    verdict = judge.judge_clip(clip, None, {"prompt": "p", "previous": previous})
    images = _images(server.bodies[0])
    assert len(images) == 3
    text = server.bodies[0]["messages"][-1]["content"][0]["text"]
    assert "Image 1 is the LAST frame of the previous shot" in text
    assert not verdict.passed and verdict.scores["continuity"] == 0.3


def test_judge_repairs_an_invalid_reply_once(server, clip):
    server.push(completion("the clip looks fine"), json_completion(scores()))
    judge = VisionJudge(get_llm("openai:gpt-4.1", base_url=server.base_url), frames=1)
    assert judge.judge_clip(clip, None, {"prompt": "p"}).passed
    repair = server.bodies[1]["messages"][-1]["content"]
    assert "not valid" in repair


def test_judge_outage_leaves_the_clip_to_the_technical_checks(server, clip):
    server.push(Reply({"error": {"message": "model overloaded"}}, status=400))
    judge = VisionJudge(get_llm("openai:gpt-4.1", base_url=server.base_url), frames=1)
    verdict = judge.judge_clip(clip, None, {"prompt": "p"})
    assert verdict.passed and "no verdict" in verdict.checks[0].detail


def test_judge_over_anthropic_sends_image_blocks(clip, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with FakeAnthropic() as server:
        server.push(json_message(scores(artifacts=0.1)))
        judge = VisionJudge(get_llm("anthropic:claude-sonnet-4-6", base_url=server.base_url), frames=2)
        verdict = judge.judge_clip(clip, None, {"prompt": "p"})
        blocks = server.bodies[0]["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["image", "image", "text"]
    assert blocks[0]["source"]["media_type"] == "image/jpeg"
    assert not verdict.passed and verdict.reasons == ["visual artifacts 0.10: crisp, clean fur texture"]


def test_director_regenerates_a_clip_the_judge_rejects_once_with_its_fix_in_the_prompt(server, tmp_path):
    """The whole loop: the judge fails the first take, the Director folds the fix into the prompt and
    makes a second take, which passes; the scores land in the run's report."""
    from reelwright.brief import Brief
    from reelwright.director import Director, Limits
    from reelwright.generators.animatic import AnimaticGenerator
    from reelwright.plan import Plan, Shot
    from reelwright.runs.store import RunDir

    class RecordingAnimatic(AnimaticGenerator):
        def __init__(self):
            super().__init__()
            self.prompts: list[str] = []

        def generate(self, request, progress=None):
            self.prompts.append(request.prompt)
            return super().generate(request, progress)

    server.push(json_completion(scores(adherence=0.3, reason="the cup is missing", fix="the dog licks a small paper cup")),
                json_completion(scores()))
    brief = Brief(request="a dog getting a pup cup", duration=1, fps=12, resolution="360p")
    plan = Plan(brief=brief, fps=12, width=160, height=90, target_frames=12,
                shots=[Shot(id="s01", beat="getting a pup cup", prompt="A dog getting a pup cup.", frames=12,
                            gen_duration=1)])
    generator = RecordingAnimatic()
    judge = VisionJudge(get_llm("openai:gpt-4.1", base_url=server.base_url), frames=2)
    director = Director(brief, run=RunDir.create(tmp_path / "runs", brief), generator=generator, judge=judge,
                        limits=Limits(max_retries_per_shot=2))
    director.set_plan(plan)
    outcome = director.produce_shot(plan.shots[0])
    assert outcome.attempts == 2 and len(server.requests) == 2
    assert generator.prompts[0] == "A dog getting a pup cup."
    assert "the dog licks a small paper cup" in generator.prompts[1]
    first, second = outcome.verdicts
    assert not first["passed"] and first["scores"]["prompt_adherence"] == 0.3
    assert second["passed"] and second["scores"]["prompt_adherence"] == 0.9
