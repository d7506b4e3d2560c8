"""GOP-smart edits of a plain video: only the GOPs an overlay or trim touches are re-encoded; every other
frame decodes bit-identical to the source (decoded frame hashes), the sound is kept, the file decodes
cleanly; sources that cannot be joined safely fall back to a whole re-encode."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import av
import numpy as np
import pytest

from reelwright.editing.apply import edit_video_file
from reelwright.events import EventBus
from reelwright.media import probe
from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.media.smart_edit import SmartRenderUnsupported, gop_map, smart_overlay, smart_trim
from reelwright.plan import Overlay


def plain_video(path, *, seconds=12, gop=48, extra=()):
    """A camera-like file: 320x180 at 24 fps, a keyframe every `gop` frames, B-frames, AAC sound, faststart."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=24:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
                "-pix_fmt", "yuv420p", *extra, "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path)])
    return path


def frame_hashes(path):
    with av.open(str(path)) as c:
        return [hashlib.md5(f.to_ndarray(format="yuv420p").tobytes()).hexdigest() for f in c.decode(video=0)]


def decode_errors(path) -> int:
    errors = 0
    with av.open(str(path)) as c:
        for packet in c.demux():
            try:
                packet.decode()
            except av.error.FFmpegError:
                errors += 1
    return errors


def gray(path, n):
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == n:
                return f.to_ndarray(format="gray").astype(float)
    raise AssertionError(f"no frame {n}")


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return plain_video(tmp_path_factory.mktemp("smart") / "src.mp4")


def test_the_gop_map_finds_every_keyframe(source):
    g = gop_map(source)
    assert g.frames == 288 and g.fps == 24
    assert g.keyframes == (0, 48, 96, 144, 192, 240)
    assert g.span(100, 130) == (96, 144)
    assert g.span(100, 150) == (96, 192)


def test_an_overlay_reencodes_only_its_gops_and_every_other_frame_is_bit_identical(source, tmp_path):
    out = tmp_path / "out.mp4"
    ka, kb = smart_overlay(source, out, [Overlay(text="SALE 50%", start=Fraction(5), duration=Fraction(1))])
    assert (ka, kb) == (96, 144)  # frames 120..143 show the text, inside the GOP 96..143
    before, after = frame_hashes(source), frame_hashes(out)
    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert changed and min(changed) >= ka and max(changed) < kb
    assert all(before[i] == after[i] for i in range(len(before)) if not ka <= i < kb)
    # the text is there inside its window, and the re-encoded frames outside it are faithful
    assert psnr(gray(source, 130), gray(out, 130)) < 30
    assert psnr(gray(source, 100), gray(out, 100)) > 38
    assert decode_errors(out) == 0
    a, b = probe(source), probe(out)
    assert (b.frames, b.acodec, b.faststart) == (a.frames, "aac", True)
    assert b.video_duration == a.video_duration and abs(b.duration - a.duration) < Fraction(1, 24)


def test_an_overlay_across_a_keyframe_takes_both_gops(source, tmp_path):
    ka, kb = smart_overlay(source, tmp_path / "o.mp4", [Overlay(text="x", start=Fraction(7), duration=Fraction(2))])
    assert (ka, kb) == (144, 240)
    before, after = frame_hashes(source), frame_hashes(tmp_path / "o.mp4")
    assert all(before[i] == after[i] for i in range(len(before)) if not ka <= i < kb)
    assert decode_errors(tmp_path / "o.mp4") == 0


@pytest.mark.parametrize("keep", [150, 144])
def test_a_trim_copies_whole_gops_and_reencodes_only_the_partial_last_one(source, tmp_path, keep):
    out = tmp_path / "t.mp4"
    ka, kb = smart_trim(source, out, keep)
    assert (ka, kb) == ((144, 150) if keep == 150 else (144, 144))
    info = probe(out)
    assert info.frames == keep and info.video_duration == Fraction(keep, 24)
    assert abs(info.audio_duration - Fraction(keep, 24)) < Fraction(1, 100)
    before, after = frame_hashes(source), frame_hashes(out)
    assert after[:144] == before[:144]
    assert decode_errors(out) == 0


def test_the_plain_file_edit_command_uses_the_smart_path(source, tmp_path):
    events = []
    out = tmp_path / "edited.mp4"
    result = edit_video_file(source, "add text 'HELLO' at 0:05 for 1 second", output=out, bus=EventBus([events.append]))
    assert result.tools == ["overlay_text"]
    assert any("copied the rest" in e.message for e in events)
    before, after = frame_hashes(source), frame_hashes(out)
    same = sum(a == b for a, b in zip(before, after))
    assert same >= len(before) - 48


def test_an_open_gop_source_is_refused_and_the_edit_falls_back_to_a_whole_reencode(tmp_path):
    src = plain_video(tmp_path / "open.mp4", seconds=6, extra=["-x264-params", "open-gop=1:bframes=3"])
    with pytest.raises(SmartRenderUnsupported):
        smart_overlay(src, tmp_path / "x.mp4", [Overlay(text="x", start=Fraction(2), duration=Fraction(1))])
    events = []
    out = tmp_path / "edited.mp4"
    edit_video_file(src, "add text 'HELLO' at 0:02 for 1 second", output=out, bus=EventBus([events.append]))
    assert any("re-encoding the whole video" in e.message for e in events)
    assert probe(out).frames == probe(src).frames and decode_errors(out) == 0


def test_a_non_h264_source_is_refused(tmp_path):
    src = tmp_path / "m.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=24:duration=2", "-c:v", "mpeg4", str(src)])
    with pytest.raises(SmartRenderUnsupported, match="mpeg4"):
        gop_map(src)
