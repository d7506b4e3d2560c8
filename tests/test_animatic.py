"""The animatic backend: exact-length H.264/AAC storyboard clips, offline, with the card, palette,
camera move, image/extend backgrounds and reference thumbnails it promises."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelwright.errors import BriefError, InputFileError
from reelwright.generators._palette import palette_for
from reelwright.generators.animatic import AnimaticGenerator, camera_move
from reelwright.generators.base import ClipRequest, ReferenceImage
from reelwright.media.ffmpeg import ffprobe_exe, run_ffmpeg

PROMPT = "A golden retriever trots along a park path at sunset, sniffing the grass"


def request(tmp_path: Path, name: str = "clip", **kw) -> ClipRequest:
    base = dict(shot_id="s01", prompt=PROMPT, duration=Fraction(1), width=320, height=180, aspect="16:9",
                fps=Fraction(24), out_path=tmp_path / f"{name}.mp4",
                display={"index": 1, "count": 3, "beat": "The dog sniffs the grass", "start_tc": "0:02.000",
                         "title": "Walk", "camera": "static"})
    base.update(kw)
    return ClipRequest(**base)


def probe(path: Path) -> dict:
    out = subprocess.run([ffprobe_exe(), "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    streams = {s["codec_type"]: s for s in data["streams"]}
    return {"video": streams.get("video"), "audio": streams.get("audio"), "format": data["format"]}


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(video=0)]


def audio_samples(path: Path) -> int:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return round(float(s.duration * s.time_base) * s.sample_rate)


@pytest.fixture(scope="module")
def gen():
    return AnimaticGenerator()


def test_odd_duration_renders_exact_frame_count(gen, tmp_path):
    result = gen.generate(request(tmp_path, duration=Fraction(5, 2)))
    v = probe(result.path)["video"]
    assert int(v["nb_read_frames"]) == 60
    assert result.duration == Fraction(5, 2)


def test_ntsc_rate_gives_rounded_frames_at_the_exact_rate(gen, tmp_path):
    fps = Fraction(30000, 1001)
    result = gen.generate(request(tmp_path, duration=Fraction(1), fps=fps))
    v = probe(result.path)["video"]
    assert int(v["nb_read_frames"]) == 30  # round(1 s * 29.97)
    assert Fraction(v["r_frame_rate"]) == fps
    assert result.duration == Fraction(30) / fps


def test_streams_are_h264_yuv420p_and_aac_stereo_48k(gen, tmp_path):
    info = probe(gen.generate(request(tmp_path)).path)
    v, a = info["video"], info["audio"]
    assert (v["codec_name"], v["pix_fmt"], v["width"], v["height"]) == ("h264", "yuv420p", 320, 180)
    assert v.get("sample_aspect_ratio", "1:1") == "1:1"
    assert (a["codec_name"], a["channels"], int(a["sample_rate"])) == ("aac", 2, 48000)


def test_moov_atom_is_before_media_data(gen, tmp_path):
    data = gen.generate(request(tmp_path)).path.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")


def test_audio_lasts_as_long_as_the_video(gen, tmp_path):
    result = gen.generate(request(tmp_path, duration=Fraction(7, 4)))
    assert abs(audio_samples(result.path) - 84000) <= 1
    a = probe(result.path)["audio"]
    assert float(a["duration"]) == pytest.approx(1.75, abs=1e-3)


def test_tone_bed_is_quiet_but_not_silent(gen, tmp_path):
    result = gen.generate(request(tmp_path))
    with av.open(str(result.path)) as c:
        pcm = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
    assert 0.003 < rms < 0.2


def test_audio_off_gives_a_silent_track(gen, tmp_path):
    result = gen.generate(request(tmp_path, audio=False))
    with av.open(str(result.path)) as c:
        pcm = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert np.abs(pcm).max() < 1e-4


def test_vertical_9_16_frame_size(gen, tmp_path):
    v = probe(gen.generate(request(tmp_path, width=360, height=640, aspect="9:16")).path)["video"]
    assert (v["width"], v["height"]) == (360, 640)


def test_image_to_video_shows_the_image(gen, tmp_path):
    img = tmp_path / "red.png"
    Image.new("RGB", (640, 360), (210, 40, 40)).save(img)
    frame = decode(gen.generate(request(tmp_path, image=img, prompt="a red wall")).path)[0]
    centre = frame[50:80, 110:210].reshape(-1, 3).mean(axis=0)
    assert np.allclose(centre, (210, 40, 40), atol=25)


def test_extend_starts_from_the_last_frame_of_the_input(gen, tmp_path):
    src = tmp_path / "prev.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=0x2040d0:s=320x180:r=24:d=0.5", "-f", "lavfi", "-i",
                "color=c=0x30c050:s=320x180:r=24:d=0.5", "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]",
                "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src)])
    frame = decode(gen.generate(request(tmp_path, extend_from=src, prompt="the meadow")).path)[0]
    centre = frame[50:80, 110:210].reshape(-1, 3).mean(axis=0)
    assert np.allclose(centre, (0x30, 0xC0, 0x50), atol=25)


def test_reference_thumbnails_are_composited(gen, tmp_path):
    ref = tmp_path / "green.png"
    Image.new("RGB", (200, 200), (0, 230, 0)).save(ref)
    plain = decode(gen.generate(request(tmp_path, "plain")).path)[0]
    with_ref = decode(gen.generate(request(tmp_path, "ref", references=[ReferenceImage(path=ref, name="Rex")])).path)[0]
    greenish = (with_ref[..., 1] > 180) & (with_ref[..., 0] < 80) & (with_ref[..., 2] < 80)
    assert greenish.sum() > 300  # a thumbnail of a few hundred pixels, at 320x180
    assert not ((plain[..., 1] > 180) & (plain[..., 0] < 80) & (plain[..., 2] < 80)).any()
    ys, xs = np.nonzero(greenish)
    assert xs.mean() > 160 and ys.mean() < 90  # upper right, under the header


def test_camera_pan_moves_the_backdrop(gen, tmp_path):
    frames = decode(gen.generate(request(tmp_path, duration=Fraction(2), display={"camera": "pan right"})).path)
    first, last = frames[0][40:100], frames[-1][40:100]
    assert np.abs(first - last).mean() > 3
    moving = sum(np.abs(a[40:100] - b[40:100]).mean() > 0.05 for a, b in zip(frames, frames[1:]))
    assert moving >= 0.8 * (len(frames) - 1)  # no frozen stretch


def test_static_camera_still_drifts(gen, tmp_path):
    frames = decode(gen.generate(request(tmp_path, duration=Fraction(2))).path)
    assert np.abs(frames[0][40:100] - frames[-1][40:100]).mean() > 1


def test_same_request_and_seed_give_identical_frames(gen, tmp_path):
    a = decode(gen.generate(request(tmp_path, "a", seed=7)).path)
    b = decode(gen.generate(request(tmp_path, "b", seed=7)).path)
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_another_seed_paints_another_backdrop(gen, tmp_path):
    a = decode(gen.generate(request(tmp_path, "a", seed=1)).path)[0]
    b = decode(gen.generate(request(tmp_path, "b", seed=2)).path)[0]
    assert np.abs(a - b).mean() > 1


def test_progress_rises_to_one(gen, tmp_path):
    seen: list[float] = []
    gen.generate(request(tmp_path), progress=lambda f, msg: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) >= 3
    assert all(b >= a for a, b in zip(seen, seen[1:]))


def test_output_replaces_atomically_and_leaves_no_temp_files(gen, tmp_path):
    out = tmp_path / "shots" / "s01.mp4"
    out.parent.mkdir()
    out.write_bytes(b"old")
    gen.generate(request(tmp_path, out_path=out))
    assert probe(out)["video"]["codec_name"] == "h264"
    assert sorted(p.name for p in out.parent.iterdir()) == ["s01.mp4"]


def test_result_reports_free_local_model(gen, tmp_path):
    result = gen.generate(request(tmp_path, duration=Fraction(3, 2)))
    assert (result.cost_usd, result.model, result.seconds_generated) == (0, "animatic", Fraction(3, 2))


@pytest.mark.parametrize("duration", [Fraction(0), Fraction(-1)])
def test_non_positive_duration_is_a_brief_error(gen, tmp_path, duration):
    with pytest.raises(BriefError, match="positive"):
        gen.generate(request(tmp_path, duration=duration))


def test_duration_beyond_range_is_a_brief_error(gen, tmp_path):
    with pytest.raises(BriefError, match="31"):
        gen.generate(request(tmp_path, duration=Fraction(31)))


def test_unreadable_reference_is_an_input_file_error(gen, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InputFileError, match="notes.png"):
        gen.generate(request(tmp_path, references=[ReferenceImage(path=bad, name="x")]))


def test_missing_image_is_an_input_file_error(gen, tmp_path):
    with pytest.raises(InputFileError, match="nope.png"):
        gen.generate(request(tmp_path, image=tmp_path / "nope.png"))


def test_unreadable_video_to_extend_is_an_input_file_error(gen, tmp_path):
    bad = tmp_path / "prev.mp4"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(InputFileError, match="prev.mp4"):
        gen.generate(request(tmp_path, extend_from=bad))


def test_capabilities_declare_a_fine_duration_range():
    caps = AnimaticGenerator().capabilities()
    allowed = caps.allowed_durations()
    assert Fraction(5, 2) in allowed and allowed[0] == Fraction(1, 2) and allowed[-1] == Fraction(30)
    assert caps.local and caps.price_per_second == 0 and caps.audio and caps.extend and caps.image_to_video
    assert caps.max_references == 4 and "9:16" in caps.aspects


@pytest.mark.parametrize(("camera", "kind"), [
    ("slow push-in", "push_in"), ("dolly out to reveal the street", "pull_out"), ("pan left", "pan_left"),
    ("tracking shot", "track_right"), ("tilt down to the pup cup", "tilt_down"), ("handheld", "handheld"),
    ("drone aerial", "aerial"), ("", "static"), ("locked-off wide", "static"),
])
def test_camera_hint_maps_to_a_move(camera, kind):
    assert camera_move(camera).kind == kind


def test_sunset_palette_is_warm_and_night_is_deep_blue():
    sunset, night = palette_for("a walk at sunset"), palette_for("a walk at night")
    assert sunset.sky_bottom[0] > sunset.sky_bottom[2] + 60
    assert night.sky_top[2] > night.sky_top[0] and sum(night.sky_top) < 120


def test_place_words_choose_the_scenery():
    assert palette_for("a dog in the park").scenery == "forest"
    assert palette_for("friends on the beach").scenery == "water"
    assert palette_for("a neon city street").scenery == "city"


def test_prompts_without_cues_get_stable_distinct_palettes():
    a1, a2, b = palette_for("an abstract logo"), palette_for("an abstract logo"), palette_for("a quiet idea")
    assert a1 == a2 and a1.sky_top != b.sky_top
