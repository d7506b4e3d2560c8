"""Packed history for continuing shots (context.md point 3): the Director gathers the chain's frames under
the generator's budget, and a tiny LTX-condition pipeline receives them as conditions before its first frame."""

from __future__ import annotations

import importlib.util
import sys
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelwright.brief import Brief
from reelwright.director import Director
from reelwright.generators import register
from reelwright.generators.base import Capabilities, ClipRequest, ClipResult, Generator, HistoryFrame
from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.plan import Plan, Shot
from reelwright.runs.store import RunDir

sys.path.insert(0, str(Path(__file__).parent))

BUDGET = 4  # full-frame equivalents the fake generator declares
W, H, FPS = 256, 144, 12


class HistoryRecorder(Generator):
    """Records every request; makes a testsrc2 clip whose hue depends on the shot, so clips differ."""

    name = "historyfake"

    def __init__(self, model=None, **options):
        super().__init__(model, **options)
        self.requests: list[ClipRequest] = []
        self.lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return Capabilities(name=self.name, durations=[Fraction(1), Fraction(2)], resolutions=["360p"], audio=True,
                            image_to_video=True, max_conditioning_frames=BUDGET, concurrency=2, local=True)

    def generate(self, request: ClipRequest, progress=None) -> ClipResult:
        with self.lock:
            self.requests.append(request.model_copy(deep=True))
        seconds = float(request.duration)
        hue = 37 * int(request.shot_id.lstrip("s"))
        run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={request.width}x{request.height}:rate={request.fps}:"
                    f"duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
                    "-vf", f"hue=h={hue}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-ac", "2", "-shortest", str(request.out_path)])
        return ClipResult(path=request.out_path, duration=Fraction(request.duration), model="historyfake",
                          seconds_generated=Fraction(request.duration))


def chain_plan(n: int) -> tuple[Brief, Plan]:
    """n one-second shots; every shot after the first continues the one before."""
    brief = Brief(request="a long unbroken walk", duration=n, fps=FPS, resolution="360p", generator="historyfake")
    shots = [Shot(id=f"s{i + 1:02d}", beat=f"walk part {i + 1}", prompt=f"A dog walks on, part {i + 1}.",
                  frames=FPS, start_frame=FPS * i, gen_duration=1, continues=i > 0) for i in range(n)]
    return brief, Plan(brief=brief, fps=FPS, width=W, height=H, target_frames=FPS * n, shots=shots)


def run_chain(tmp_path: Path, n: int) -> tuple[Director, HistoryRecorder]:
    register("historyfake", HistoryRecorder)
    brief, plan = chain_plan(n)
    gen = HistoryRecorder()
    director = Director(brief, run=RunDir.create(tmp_path / "runs", brief), generator=gen)
    director.set_plan(plan)
    director.generate_all()
    return director, gen


def cost(history: list[HistoryFrame]) -> float:
    return sum(1 / h.factor**2 for h in history)


def last_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return frames[-1]


@pytest.fixture(scope="module")
def chain20(tmp_path_factory):
    director, gen = run_chain(tmp_path_factory.mktemp("chain20"), 20)
    return director, {r.shot_id: r for r in gen.requests}


def test_history_cost_stays_within_budget_and_bound_however_long_the_chain(chain20):
    director, requests = chain20
    spec_bound = 1 + 2 * max(1, (BUDGET - 1) // 2)  # (A + 2·n0)·L with one anchor
    costs = [cost(requests[f"s{i:02d}"].history) for i in range(2, 21)]
    print("history cost per shot (s02..s20):", [round(c, 4) for c in costs])
    assert requests["s01"].history == []
    assert all(0 < c <= min(BUDGET, spec_bound) for c in costs)
    assert all(a <= b for a, b in zip(costs, costs[1:]))  # grows with the history, never past the bound
    assert costs[-1] > costs[0]
    lengths = [len(requests[f"s{i:02d}"].history) for i in (2, 20)]
    assert lengths[1] > lengths[0]  # longer history: more (smaller) frames at the same bounded cost


def test_newest_history_frame_is_the_previous_clips_last_frame_at_full_size(chain20):
    director, requests = chain20
    for i in (2, 11, 20):
        req = requests[f"s{i:02d}"]
        newest = req.history[-1]
        assert (newest.factor, newest.frame_index, newest.strength) == (1, 0, 1.0)
        assert req.image == newest.path  # backends that take one frame get the same newest frame
        prev = director.accepted_clip(director.plan.shots[i - 2])
        assert np.array_equal(np.asarray(Image.open(newest.path).convert("RGB")), last_frame(prev))


def test_anchor_is_the_chains_first_frame_and_history_runs_oldest_first(chain20):
    director, requests = chain20
    first = director.accepted_clip(director.plan.shots[0])
    with av.open(str(first)) as c:
        frame0 = next(c.decode(video=0)).to_ndarray(format="rgb24")
    history = requests["s20"].history
    anchor = history[0]
    assert anchor.factor == 1 and anchor.frame_index == -(19 * (FPS - 1))  # 19 clips joined on shared frames
    assert np.array_equal(np.asarray(Image.open(anchor.path).convert("RGB")), frame0)
    indices = [h.frame_index for h in history]
    assert indices == sorted(set(indices))


def test_history_frames_are_pngs_at_their_packed_sizes(chain20):
    _, requests = chain20
    factors = set()
    for req in requests.values():
        for h in req.history:
            with Image.open(h.path) as im:
                assert im.format == "PNG"
                assert im.size == (W // h.factor, H // h.factor)
            assert h.strength == pytest.approx(1 / h.factor)
            factors.add(h.factor)
    assert {1, 2, 4} <= factors  # older frames really are smaller


def test_a_user_first_frame_is_the_anchor_fitted_to_the_clip(tmp_path):
    register("historyfake", HistoryRecorder)
    brief, plan = chain_plan(3)
    user = tmp_path / "user.png"
    Image.new("RGB", (400, 300), (200, 40, 160)).save(user)  # 4:3, fitted (centre crop) to 16:9
    plan.shots[0].image = user
    gen = HistoryRecorder()
    director = Director(brief, run=RunDir.create(tmp_path / "runs", brief), generator=gen)
    director.set_plan(plan)
    director.generate_all()
    anchor = next(r for r in gen.requests if r.shot_id == "s03").history[0]
    with Image.open(anchor.path) as im:
        assert im.size == (W, H) and anchor.factor == 1
        assert np.abs(np.asarray(im.convert("RGB"), dtype=int) - (200, 40, 160)).max() <= 2


def test_same_plan_gives_the_same_history(tmp_path):
    def summary(director, gen):
        return [[(h.frame_index, h.factor, h.strength, h.path.name, np.asarray(Image.open(h.path)).tobytes())
                 for h in r.history] for r in sorted(gen.requests, key=lambda r: r.shot_id)]

    first = summary(*run_chain(tmp_path / "a", 6))
    second = summary(*run_chain(tmp_path / "b", 6))
    assert first == second and len(first[-1]) > 2


# --- the tiny LTX-condition pipeline ---------------------------------------------------------------------

HAVE_STACK = all(importlib.util.find_spec(m) for m in ("torch", "diffusers", "transformers", "tokenizers"))


@pytest.mark.skipif(not HAVE_STACK, reason="torch/diffusers/transformers not installed (reelwright[diffusers])")
def test_ltx_condition_pipeline_receives_packed_history_before_its_first_frame(tmp_path, monkeypatch):
    from diffusers import LTXConditionPipeline
    from tiny_pipelines import build_tiny_ltx

    from reelwright.generators.diffusers import DiffusersGenerator

    model = build_tiny_ltx(tmp_path / "tiny-ltx-condition", condition=True)
    gen = DiffusersGenerator(model=str(model), steps=2)
    caps = gen.capabilities()
    assert (caps.max_conditioning_frames, caps.conditioning_full_size) == (5, True)
    colours = {"green": (20, 200, 20), "blue": (20, 20, 230), "grey": (128, 128, 128), "red": (230, 20, 20)}
    history = []
    for (name, rgb), index, strength in zip(colours.items(), (-40, -12, -6, 0), (1.0, 0.5, 1.0, 1.0)):
        png = tmp_path / f"{name}.png"
        Image.new("RGB", (40, 30), rgb).save(png)
        history.append(HistoryFrame(path=png, frame_index=index, strength=strength))
    calls: list[dict] = []
    real = LTXConditionPipeline.prepare_latents

    def recording(self, conditions=None, condition_strength=None, condition_frame_index=None, **kw):
        calls.append({"conditions": conditions, "strength": condition_strength, "index": condition_frame_index})
        return real(self, conditions, condition_strength, condition_frame_index, **kw)

    monkeypatch.setattr(LTXConditionPipeline, "prepare_latents", recording)
    request = ClipRequest(shot_id="s02", prompt="a dog walks in the park", duration=Fraction(9, 25), width=32,
                          height=32, aspect="1:1", fps=Fraction(25), out_path=tmp_path / "a.mp4", history=history)
    result = gen.generate(request)

    [call] = calls
    assert call["index"] == [0, -24, -16, -8]  # newest first at 0, then older ones oldest-farthest
    assert call["strength"] == [1.0, 1.0, 0.5, 1.0]

    def colour(t) -> str:  # a [-1, 1] tensor (B, C, F, H, W) of one flat colour
        rgb = t.detach().float().mean(dim=(0, 2, 3, 4)).numpy()
        return min(colours, key=lambda k: np.abs((rgb + 1) * 127.5 - colours[k]).sum())

    assert [colour(c) for c in call["conditions"]] == ["red", "green", "blue", "grey"]
    assert all(tuple(c.shape[-2:]) == (32, 32) for c in call["conditions"])  # every frame at the clip's size
    assert result.metadata["pipeline"] == "LTXConditionPipeline"
    with av.open(str(result.path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 9 and frames[0].shape == (32, 32, 3)


@pytest.mark.skipif(not HAVE_STACK, reason="torch/diffusers/transformers not installed (reelwright[diffusers])")
def test_vace_pipeline_takes_the_newest_frame_first_and_older_history_as_references(tmp_path, monkeypatch):
    from diffusers import WanVACEPipeline
    from tiny_pipelines import build_tiny_wan_vace

    from reelwright.generators.diffusers import DiffusersGenerator

    model = build_tiny_wan_vace(tmp_path / "tiny-wan-vace")
    gen = DiffusersGenerator(model=str(model), steps=2)
    assert (gen.capabilities().max_conditioning_frames, gen.capabilities().conditioning_full_size) == (4, True)
    history = []
    for name, rgb, index in (("green", (20, 200, 20), -30), ("blue", (20, 20, 230), -8), ("red", (230, 20, 20), 0)):
        png = tmp_path / f"{name}.png"
        Image.new("RGB", (40, 30), rgb).save(png)
        history.append(HistoryFrame(path=png, frame_index=index))
    calls: list[dict] = []
    real = WanVACEPipeline.preprocess_conditions

    def recording(self, video=None, mask=None, reference_images=None, *args, **kw):
        calls.append({"video": video, "mask": mask, "refs": reference_images})
        return real(self, video, mask, reference_images, *args, **kw)

    monkeypatch.setattr(WanVACEPipeline, "preprocess_conditions", recording)
    request = ClipRequest(shot_id="s02", prompt="a dog walks in the park", duration=Fraction(9, 16), width=16,
                          height=16, aspect="1:1", fps=Fraction(16), out_path=tmp_path / "v.mp4", history=history)
    result = gen.generate(request)

    def colour(im) -> str:
        r, g, b = np.asarray(im, dtype=float).reshape(-1, 3).mean(axis=0)
        return max((("red", r), ("green", g), ("blue", b)), key=lambda kv: kv[1])[0]

    [call] = calls
    assert colour(call["video"][0]) == "red" and np.asarray(call["mask"][0]).max() == 0  # kept: the first frame
    assert np.asarray(call["mask"][1]).min() == 255  # the rest is generated
    assert [colour(im) for im in call["refs"]] == ["green", "blue"]
    with av.open(str(result.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 9
