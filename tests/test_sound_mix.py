"""The mix and the loudness pass, measured on decoded sound: effects land on their frame, music ducks
under speech by at least 10 dB and comes back, loops without gaps, and the delivered file meets the
loudness target (integrated within 1 LU, true peak under the ceiling) measured after the AAC encode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.sound.effects import EffectLibrary
from reelwright.sound.loudness import PRESETS, parse_target
from reelwright.sound.mix import Bed, Placed, render
from reelwright.sound.step import _deliver
from tests.conftest import make_test_clip
from tests.sound_helpers import ebur128, samples, tone_level_db

FRAME = 1 / 24


def _wav(path: Path, graph: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", graph, "-c:a", "pcm_s16le", str(path)])
    return path


def _deliver_to(tmp_path: Path, mix: Path, seconds: float, target: str, name: str = "out.mp4") -> Path:
    picture = make_test_clip(tmp_path / f"pic-{name}", seconds=seconds, audio=False)
    from reelwright.sound.loudness import measure

    _deliver(picture, mix, measure(mix), seconds, parse_target(target), tmp_path / name, progress=lambda f: None)
    return tmp_path / name


def _half_peak_onset(x: np.ndarray, near: float, rate: int = 48000) -> float:
    hop = rate // 1000
    a = int((near - 0.6) * rate)
    seg = x[a: a + int(1.2 * rate)]
    env = np.sqrt((seg[: len(seg) // hop * hop].reshape(-1, hop).astype(np.float64) ** 2).mean(axis=1))
    return (a + int(np.argmax(env >= env.max() / 2)) * hop) / rate


def test_effects_land_within_a_frame_after_the_aac_encode(tmp_path):
    lib = EffectLibrary()
    placed, asked = [], {"door slam": 3.0, "click": 12.4, "whoosh": 7.25}
    for name, at in asked.items():
        wav, hit = lib.prepare(name, tmp_path)
        placed.append(Placed(wav, at - hit))
    mix = tmp_path / "mix.wav"
    render(mix, 14.0, voices=[], effects=placed, beds=[], speech=[])
    out = _deliver_to(tmp_path, mix, 14.0, "social")
    x = samples(out)
    for name in ("door slam", "click"):  # impulsive: the sound starts on the frame
        nonzero = np.nonzero(np.abs(x[int((asked[name] - 0.5) * 48000):]) > 1e-3)[0]
        onset = asked[name] - 0.5 + nonzero[0] / 48000
        assert abs(onset - asked[name]) < FRAME, (name, onset)
        assert abs(onset - asked[name]) < 0.006  # in fact within AAC's pre-echo of a short block
    # a whoosh swells: its hit (half its peak), not its first breath, is on the frame
    assert abs(_half_peak_onset(x, asked["whoosh"]) - asked["whoosh"]) < FRAME


def test_music_ducks_under_speech_by_at_least_10_db_and_comes_back(tmp_path):
    music = _wav(tmp_path / "bed.wav", "sine=frequency=200:sample_rate=44100:duration=4")
    voice = _wav(tmp_path / "voice.wav", "sine=frequency=3000:sample_rate=48000:duration=3")
    mix = tmp_path / "mix.wav"
    render(mix, 12.0, voices=[Placed(voice, 4.0)], effects=[], beds=[Bed(music, -6.0, -14.0, loop=True)],
           speech=[(4.0, 7.0)])
    x = samples(mix)
    before = tone_level_db(x[int(1.2 * 48000): int(3.2 * 48000)], 200)
    under = tone_level_db(x[int(4.5 * 48000): int(6.5 * 48000)], 200)
    after = tone_level_db(x[int(8.0 * 48000): int(10.0 * 48000)], 200)
    assert before - under >= 10.0
    assert abs(after - before) < 1.0
    assert len(x) == 12 * 48000
    # looped 3 times with crossfades: no hole anywhere between the fades
    hop = 4800
    env = np.sqrt((x[48000: 11 * 48000].reshape(-1, hop).astype(np.float64) ** 2).mean(axis=1))
    assert env.min() > 0.05 * env.max()


def test_native_sound_is_kept_and_ducked_not_dropped(tmp_path):
    clip = make_test_clip(tmp_path / "clip.mp4", seconds=6.0)  # 440 Hz native tone
    voice = _wav(tmp_path / "voice.wav", "sine=frequency=3000:sample_rate=48000:duration=2")
    mix = tmp_path / "mix.wav"
    render(mix, 6.0, voices=[Placed(voice, 3.0)], effects=[], beds=[Bed(clip, 0.0, -10.0)], speech=[(3.0, 5.0)])
    x = samples(mix)
    native_before = tone_level_db(x[int(0.5 * 48000): int(2.5 * 48000)], 440)
    native_under = tone_level_db(x[int(3.3 * 48000): int(4.7 * 48000)], 440)
    assert native_before > -40  # still there
    assert 9.0 <= native_before - native_under <= 11.0


@pytest.mark.parametrize("target, graph, seconds", [
    ("social", "sine=frequency=300:sample_rate=48000:duration=8,volume=-30dB", 8.0),
    ("broadcast", "anoisesrc=color=pink:amplitude=0.9:duration=6:sample_rate=48000", 6.0),
    ("atsc", "aevalsrc=0.95*sin(2*PI*110*t)*gt(mod(t\\,1)\\,0.5)+0.05*sin(2*PI*2000*t):s=48000:d=6", 6.0),
    ("social", "aevalsrc=0.2*sin(2*PI*500*t)*exp(-3*mod(t\\,0.5)):s=48000:d=2", 2.0),  # under 3 s
])
def test_loudness_target_is_met_on_the_delivered_file(tmp_path, target, graph, seconds):
    mix = _wav(tmp_path / "mix.wav", graph)
    out = _deliver_to(tmp_path, mix, seconds, target)
    goal = PRESETS[target]
    measured = ebur128(out) if seconds >= 3 else ebur128(_looped(out, tmp_path))
    assert abs(measured["I"] - goal.lufs) <= 1.0, measured
    assert measured["TP"] <= goal.true_peak, measured


def _looped(path: Path, tmp_path: Path) -> Path:
    """A short file measured as the loudness standard needs: repeated past 3 s (the test's own way)."""
    out = tmp_path / "looped.wav"
    run_ffmpeg(["-stream_loop", "3", "-i", str(path), "-map", "0:a:0", "-c:a", "pcm_s16le", str(out)])
    return out


def test_an_effect_file_with_a_slow_start_is_started_early_by_its_attack(tmp_path):
    folder = tmp_path / "sfx"
    folder.mkdir()
    # 0.3 s of near-silence, a soft 0.1 s rise, then the hit: the hit must land on the asked time
    _wav(folder / "Door-Slam.wav", "aevalsrc=0.003*sin(2*PI*80*t)*lt(t\\,0.3)+0.2*(t-0.3)/0.1*between(t\\,0.3\\,0.4)"
                                   "*sin(2*PI*300*t)+0.9*exp(-20*(t-0.4))*gt(t\\,0.4)*sin(2*PI*150*t):s=44100:d=1")
    lib = EffectLibrary(folder)
    assert "door slam" in lib.names() and lib.names().count("door slam") == 1
    wav, hit = lib.prepare("door-slam", tmp_path)
    assert 0.35 <= hit <= 0.42
    mix = tmp_path / "mix.wav"
    render(mix, 6.0, voices=[], effects=[Placed(wav, 3.0 - hit)], beds=[], speech=[])
    x = samples(mix)
    assert abs(_half_peak_onset(x, 3.0) - 3.0) < 0.005
