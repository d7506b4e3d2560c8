"""Edits by request on a finished run, extension of existing videos, and OTIO export: the right tool is
used, only the touched shots are regenerated, and durations stay exact."""

from __future__ import annotations

import shutil
from fractions import Fraction

import av
import numpy as np
import pytest

from reelwright.api import make_video, plan_video
from reelwright.editing.apply import edit_run
from reelwright.editing.extend import extend_video
from reelwright.generators import register
from reelwright.generators.base import Capabilities
from reelwright.media import probe

from .conftest import make_test_clip
from .gen_fakes import ScriptedGenerator

FPS = 24


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    register("scripted", ScriptedGenerator)
    ScriptedGenerator.reset()
    base = tmp_path_factory.mktemp("base")
    plan = plan_video("a cat naps, then stretches, then eats, then plays with a ball", generator="scripted",
                      duration=12, resolution="360p")
    delivery = make_video(plan=plan, output=base / "cat.mp4", runs_dir=base / "runs")
    return delivery.run.root


@pytest.fixture
def run_copy(finished_run, tmp_path):
    register("scripted", ScriptedGenerator)
    ScriptedGenerator.reset()
    dst = tmp_path / "run"
    shutil.copytree(finished_run, dst)
    return dst


def frames_of(path):
    return probe(path).frames


def gray_at(path, t):
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            if f.time is not None and f.time >= t - 1e-6:
                return f.to_ndarray(format="gray").astype(float)
    raise AssertionError(t)


def test_overlay_edit_uses_the_text_tool_and_regenerates_nothing(run_copy, tmp_path):
    result = edit_run(run_copy, "add 'SALE 50%' at 0:05 for 3 seconds", output=tmp_path / "e.mp4")
    assert result.tools == ["overlay_text"]
    assert result.regenerated == [] and ScriptedGenerator.calls == []
    assert frames_of(result.output) == 12 * FPS
    before = gray_at(run_copy / "final.v1.mp4", 6.0)
    after = gray_at(result.output, 6.0)
    assert np.abs(before - after).max() > 100  # the text is there
    assert np.abs(gray_at(run_copy / "final.v1.mp4", 2.0) - gray_at(result.output, 2.0)).mean() < 2


def test_cut_the_last_shot_shortens_by_exactly_that_shot(run_copy):
    from reelwright.runs.store import RunDir

    plan = RunDir(run_copy).load_plan()
    last = plan.shots[-1].frames
    result = edit_run(run_copy, "cut the last shot")
    assert result.tools == ["cut_shot"] and result.regenerated == []
    assert frames_of(result.output) == 12 * FPS - last


def test_half_speed_shot_doubles_that_shot_only(run_copy):
    from reelwright.runs.store import RunDir

    plan = RunDir(run_copy).load_plan()
    second = plan.shots[1].frames
    result = edit_run(run_copy, "make shot 2 half speed")
    assert result.tools == ["change_speed"] and result.regenerated == []
    assert frames_of(result.output) == 12 * FPS + second


def test_make_it_vertical_crops_without_regenerating(run_copy):
    result = edit_run(run_copy, "make it vertical")
    info = probe(result.output)
    assert result.tools == ["crop_to_aspect"] and result.regenerated == []
    assert info.height > info.width
    assert abs(info.width / info.height - 9 / 16) < 0.02
    assert info.frames == 12 * FPS


def test_trim_to_seconds_is_frame_exact(run_copy):
    result = edit_run(run_copy, "trim to 5 seconds")
    assert result.tools == ["trim"] and result.regenerated == []
    assert frames_of(result.output) == 5 * FPS
    assert abs(probe(result.output).duration - 5) <= Fraction(1, FPS)


def test_fade_out_darkens_the_end_only(run_copy):
    result = edit_run(run_copy, "fade out at the end")
    assert result.tools == ["fade"] and result.regenerated == []
    info = probe(result.output)
    assert info.frames == 12 * FPS
    assert gray_at(result.output, 12 - 1 / FPS).mean() < 12
    assert gray_at(result.output, 6).mean() > 40


def test_restyle_regenerates_only_the_named_shot(run_copy):
    result = edit_run(run_copy, "make the cat in shot 3 a tiger")
    assert result.regenerated == ["s03"]
    assert {c[0] for c in ScriptedGenerator.calls} == {"s03"}
    assert "tiger" in ScriptedGenerator.calls[0][2]
    assert frames_of(result.output) == 12 * FPS


def test_replace_shot_regenerates_only_that_shot(run_copy):
    result = edit_run(run_copy, "replace shot 2 with the cat meeting a dog")
    assert result.regenerated == ["s02"]
    assert "meeting a dog" in ScriptedGenerator.calls[0][2]
    assert frames_of(result.output) == 12 * FPS
    assert result.generated_seconds < 12


def test_make_it_longer_adds_continuation_shots_only(run_copy):
    result = edit_run(run_copy, "make this video 20 seconds")
    assert frames_of(result.output) == 20 * FPS
    assert result.regenerated and all(sid not in ("s01", "s02", "s03") for sid in result.regenerated)


def test_unknown_edit_is_a_clear_error_and_changes_nothing(run_copy):
    from reelwright.errors import BriefError

    before = (run_copy / "plan.json").read_text()
    with pytest.raises(BriefError, match="cannot tell"):
        edit_run(run_copy, "sprinkle some magic")
    assert (run_copy / "plan.json").read_text() == before


def test_edits_on_a_plain_video_file(tmp_path):
    src = make_test_clip(tmp_path / "in.mp4", seconds=4)
    result = edit_run(src, "add 'HELLO' at 1 for 1 second and fade out at the end", output=tmp_path / "out.mp4")
    assert result.tools == ["overlay_text", "fade"]
    assert frames_of(result.output) == 96


class ExtendingGenerator(ScriptedGenerator):
    """Native extension: the request names the video to continue; the result holds only new frames."""

    extend_inputs: list = []

    def capabilities(self) -> Capabilities:
        caps = super().capabilities()
        return caps.model_copy(update={"name": "extending", "extend": True, "max_extend_input": Fraction(15)})

    def generate(self, request, progress=None):
        type(self).extend_inputs.append(request.extend_from)
        return super().generate(request, progress)


def test_extend_seven_seconds_to_sixty_with_the_animatic_keeps_the_original(tmp_path):
    src = make_test_clip(tmp_path / "seven.mp4", seconds=7, width=320, height=180)
    out = tmp_path / "sixty.mp4"
    delivery = extend_video(src, Fraction(60), output=out, runs_dir=tmp_path / "runs")
    info = probe(out)
    assert info.frames == 60 * FPS
    assert abs(info.duration - 60) <= Fraction(1, FPS)
    assert delivery.duration == 60
    with av.open(str(src)) as a, av.open(str(out)) as b:
        fa = [f.to_ndarray(format="rgb24") for f in a.decode(a.streams.video[0])]
        fb = []
        for f in b.decode(b.streams.video[0]):
            fb.append(f.to_ndarray(format="rgb24"))
            if len(fb) == len(fa):
                break
    assert len(fa) == 168
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb)), "the original's frames changed"


def test_extend_uses_native_extension_when_the_generator_has_it(tmp_path):
    register("extending", ExtendingGenerator)
    ExtendingGenerator.reset()
    ExtendingGenerator.extend_inputs = []
    src = make_test_clip(tmp_path / "seven.mp4", seconds=7, width=320, height=180)
    out = tmp_path / "sixty.mp4"
    extend_video(src, Fraction(60), generator="extending", output=out, runs_dir=tmp_path / "runs")
    assert probe(out).frames == 60 * FPS
    assert ExtendingGenerator.extend_inputs[0] == src  # the first new shot continues the input natively


def test_otio_export_clip_ranges_add_up_to_the_video(run_copy, tmp_path):
    import opentimelineio as otio

    from reelwright.editing.otio_export import export_otio
    from reelwright.runs.store import RunDir

    edit_run(run_copy, "add 'HELLO' at 0:02 for 2 seconds")
    path = export_otio(RunDir(run_copy), tmp_path / "cut.otio")
    timeline = otio.adapters.read_from_file(str(path))
    video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video][0]
    total = sum(c.source_range.duration.to_seconds() for c in video.find_clips())
    assert abs(total - probe(run_copy / "final.mp4").video_duration) < 1e-6
    assert [m.name for m in video.markers] == ["HELLO"]
    for clip in video.find_clips():
        assert clip.media_reference.target_url.startswith("file://")


def test_make_this_video_one_minute_as_a_request_extends_a_file(tmp_path):
    src = make_test_clip(tmp_path / "in.mp4", seconds=7, width=320, height=180)
    result = edit_run(src, "make this video one minute", output=tmp_path / "minute.mp4")
    assert result.tools == ["extend"]
    assert frames_of(result.output) == 60 * FPS
