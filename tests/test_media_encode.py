"""The one H.264/AAC/MP4 argument builder: what it asks for is what the encoded file has (probed, not
compared as bytes), and no other module in src/ writes encoder arguments of its own."""

from __future__ import annotations

import re
from pathlib import Path

import av
import pytest

from reelwright.media import VideoSpec, probe
from reelwright.media.encode import aac_args, h264_args, mp4_args
from reelwright.media.ffmpeg import run_ffmpeg

SRC = Path(__file__).resolve().parent.parent / "src" / "reelwright"
# Encoder calls in modules other helpers own, switched to media/encode.py when their branches land.
PENDING: set[str] = set()


def encode(dst: Path, *args: str, seconds: float = 1.0, audio_rate: int = 44100) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=160x96:rate=24:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate={audio_rate}:duration={seconds}",
                "-metadata", "title=from the source", *args, str(dst)])
    return dst


def test_h264_high_bt709_without_b_frames_is_what_the_file_has(tmp_path):
    out = encode(tmp_path / "a.mp4", *h264_args(preset="veryfast", crf=28, profile="high", bt709=True, bframes=0,
                                                 threads=1),
                 *aac_args(bitrate="96k", sample_rate=48000, channels=1), *mp4_args())
    info = probe(out)
    assert (info.vcodec, info.pix_fmt, info.acodec) == ("h264", "yuv420p", "aac")
    assert (info.sample_rate, info.audio_channels, info.frames) == (48000, 1, 24)
    assert info.faststart
    with av.open(str(out)) as c:
        cc = c.streams.video[0].codec_context
        assert cc.profile == "High"
        assert (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range) == (1, 1, 1, 1)  # BT.709, tv range
        kinds = {str(f.pict_type).rsplit(".", 1)[-1] for f in c.decode(video=0)}
    assert "B" not in kinds and "3" not in kinds


def test_defaults_keep_the_inputs_audio_format_and_b_frames(tmp_path):
    out = encode(tmp_path / "b.mp4", *h264_args(), *aac_args(bitrate=None), audio_rate=44100)
    info = probe(out)
    assert (info.pix_fmt, info.sample_rate, info.audio_channels) == ("yuv420p", 44100, 1)
    assert not info.faststart  # faststart is the muxer's part: asked for with mp4_args
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.profile == "High"


def test_strip_metadata_drops_the_sources_tags(tmp_path):
    src = encode(tmp_path / "src.mp4", *h264_args(preset="ultrafast"), *aac_args())
    with av.open(str(src)) as c:
        assert c.metadata.get("title") == "from the source"
    kept, stripped = tmp_path / "kept.mp4", tmp_path / "stripped.mp4"
    run_ffmpeg(["-i", str(src), "-c", "copy", *mp4_args(), str(kept)])
    run_ffmpeg(["-i", str(src), "-c", "copy", *mp4_args(strip_metadata=True), str(stripped)])
    with av.open(str(kept)) as a, av.open(str(stripped)) as b:
        assert a.metadata.get("title") == "from the source"
        assert "title" not in b.metadata
    assert probe(stripped).faststart


@pytest.mark.parametrize("kw, needle", [({"preset": "warp"}, "preset"), ({"crf": 52}, "crf"), ({"crf": -1}, "crf")])
def test_bad_encoder_values_are_refused(kw, needle):
    with pytest.raises(ValueError, match=needle):
        h264_args(**kw)


def test_video_spec_output_is_built_by_the_builder(tmp_path):
    spec = VideoSpec(width=160, height=96, fps=24, crf=30, preset="ultrafast", audio_bitrate="64k")
    assert spec.output_args() == [*h264_args(preset="ultrafast", crf=30),
                                  *aac_args(bitrate="64k", sample_rate=48000, channels=2, fast_coder=True),
                                  *mp4_args(strip_metadata=True)]
    info = probe(encode(tmp_path / "spec.mp4", *spec.output_args()))
    assert (info.sample_rate, info.audio_channels, info.faststart) == (48000, 2, True)


def test_no_module_writes_its_own_encoder_arguments():
    pattern = re.compile(r"""["']libx264["']|["']-c:a["'],\s*["']aac["']|["']\+faststart["']""")
    assert pattern.search((SRC / "media" / "encode.py").read_text(encoding="utf-8"))  # the pattern sees them
    offenders = {p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
                 if p.name != "encode.py" and pattern.search(p.read_text(encoding="utf-8"))}
    assert offenders <= PENDING, sorted(offenders - PENDING)
