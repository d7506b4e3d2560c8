"""Frames by index and by time, compared with a full decode of a short clip."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from reelwright.errors import ToolArgumentError
from reelwright.media import extract_frame, extract_last_frame, frames_at, frames_by_index


@pytest.fixture(scope="module")
def clip_and_frames(tmp_path_factory):
    from .conftest import make_test_clip

    clip = make_test_clip(tmp_path_factory.mktemp("frames") / "clip.mp4", seconds=1.5, fps="24", audio=False)
    with av.open(str(clip)) as c:
        every = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return clip, every


def test_frames_by_index_match_a_full_decode(clip_and_frames):
    clip, every = clip_and_frames
    wanted = [35, 0, 17, 18, 17]
    for k, got in zip(wanted, frames_by_index(clip, wanted, as_array=True)):
        assert np.array_equal(got, every[k]), k


def test_frames_at_gives_the_frame_on_screen_at_that_time(clip_and_frames):
    clip, every = clip_and_frames
    got = frames_at(clip, [Fraction(1, 2), 0.51, Fraction(25, 24), 99], as_array=True)
    for k, frame in zip([12, 12, 25, 35], got):
        assert np.array_equal(frame, every[k]), k


def test_frames_at_returns_pil_images_by_default(clip_and_frames):
    image = frames_at(clip_and_frames[0], [0])[0]
    assert isinstance(image, Image.Image) and image.size == (320, 180)


def test_extract_frame_writes_a_png(clip_and_frames, tmp_path):
    clip, every = clip_and_frames
    png = extract_frame(clip, tmp_path / "f.png", frame=7)
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), every[7])


def test_extract_last_frame_is_the_final_frame(clip_and_frames, tmp_path):
    clip, every = clip_and_frames
    png = extract_last_frame(clip, tmp_path / "last.png")
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), every[-1])


def test_frame_outside_the_clip_is_refused(clip_and_frames, tmp_path):
    with pytest.raises(ToolArgumentError, match="36 frames"):
        extract_frame(clip_and_frames[0], tmp_path / "f.png", frame=36)
    with pytest.raises(ToolArgumentError, match="exactly one"):
        extract_frame(clip_and_frames[0], tmp_path / "f.png")
