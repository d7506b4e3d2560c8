"""Audio tools: beds and silence of exact length, laying and mixing sound under a copied video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from reelwright.errors import ToolArgumentError
from reelwright.media import mix_audio, mux_audio, probe, silence, tone_bed


def _decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        blocks = []
        for frame in c.decode(audio=0):
            data = frame.to_ndarray()
            if data.dtype == np.int16:
                data = data / 32768.0
            channels = frame.layout.nb_channels
            blocks.append(data.mean(axis=0) if frame.format.is_planar else data.reshape(-1, channels).mean(axis=1))
        return np.concatenate(blocks)


def _video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def test_tone_bed_lasts_exactly_the_asked_samples(tmp_path):
    samples = _decode(tone_bed(tmp_path / "bed.wav", Fraction(37, 24)))
    assert len(samples) == 74000
    assert 0.005 < np.abs(samples[24000:48000]).max() < 0.5  # audible, below full scale
    assert np.abs(samples[:50]).max() < np.abs(samples[24000:48000]).max()  # fades in


def test_silence_is_silent_and_exact(tmp_path):
    samples = _decode(silence(tmp_path / "quiet.wav", 0.5))
    assert len(samples) == 24000 and not samples.any()


def test_bad_lengths_are_refused(tmp_path):
    with pytest.raises(ToolArgumentError, match="positive"):
        silence(tmp_path / "x.wav", 0)


def test_mux_audio_replaces_the_sound_and_copies_the_picture(make_clip, tmp_path):
    video = make_clip(seconds=2, audio=False)
    bed = tone_bed(tmp_path / "bed.m4a", 3)
    out = mux_audio(video, bed, tmp_path / "out.mp4", gain_db=-6)
    info = probe(out)
    assert info.acodec == "aac" and abs(info.audio_duration - 2) <= Fraction(1, 24)
    assert _video_packets(out) == _video_packets(video)
    assert info.faststart


def test_mix_audio_enters_at_its_start(make_clip, tmp_path):
    video = make_clip(seconds=2, audio=False)
    bed = tone_bed(tmp_path / "bed.wav", 3, fade_s=0.01)
    out = mix_audio(video, bed, tmp_path / "out.mp4", start=1, gain_db=0)
    samples = _decode(out)
    assert abs(probe(out).audio_duration - 2) <= Fraction(1, 24)
    assert np.abs(samples[2000:46000]).max() < 1e-3  # silent before the cue
    assert np.abs(samples[52000:90000]).max() > 0.01  # the cue after 1 s
