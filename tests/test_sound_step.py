"""The sound step end to end on the offline default (animatic + espeak), measured on the delivered file:
narration audible in every shot, captions beside it, −14 ± 1 LUFS, true peak ≤ −1 dBTP, length exact to
the frame; an effect asked in words lands within one frame of its time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import srt

from reelwright.api import make_video
from reelwright.plan import Plan
from reelwright.runs.store import RunDir
from reelwright.sound import AudioReport, SoundOptions
from tests.fakes.gen_helpers import probe_frames
from tests.sound_helpers import band_share_db, ebur128, first_rise, samples, speech_like

UGC = "a 30 second UGC ad for a bottle called Tide: unboxing, filling it at the gym, a quick testimonial"


def make(tmp_path: Path, request: str, options: SoundOptions, **brief) -> tuple[Path, Plan, AudioReport]:
    """Make through the public API (the Director runs the sound step after the cut): (delivered file, the
    run's plan, its report's audio section). The cut before the sound step stays at runs/*/cut.mp4."""
    out = tmp_path / "out.mp4"
    delivery = make_video(request, output=out, runs_dir=tmp_path / "runs", resolution="360p", sound=options, **brief)
    report = json.loads((delivery.run.root / "report.json").read_text(encoding="utf-8"))
    return out, delivery.run.load_plan(), AudioReport.model_validate(report["audio"])


@pytest.fixture(scope="module")
def ugc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ugc")
    return make(tmp, UGC, SoundOptions(voice="auto"), duration="16")


def test_ugc_with_auto_voice_is_on_target_and_exact(ugc):
    out, plan, report = ugc
    measured = ebur128(out)
    assert abs(measured["I"] - -14.0) <= 1.0 and measured["TP"] <= -1.0, measured
    assert probe_frames(out) == plan.target_frames
    x = samples(out)
    assert abs(len(x) / 48000 - float(plan.duration)) <= 1024 / 48000  # one AAC frame of priming
    assert report.narration["coverage"] == 1.0 and report.narration["timing_source"] == "engine"
    assert abs(report.integrated_lufs - measured["I"]) <= 0.2


def test_narration_is_audible_in_every_shot(ugc):
    out, plan, _ = ugc
    x = samples(out)
    cut = samples(next(out.parent.glob("runs/*/cut.mp4")))  # the shots with only their own sound
    for shot in plan.shots:
        a = int(float(plan.shot_start(shot)) * 48000)
        b = int(float(plan.shot_start(shot) + plan.shot_duration(shot)) * 48000)
        # the voice's presence band carries far more of the energy, and the level comes and goes with syllables
        assert band_share_db(x[a:b]) - band_share_db(cut[a:b]) > 15.0, shot.id
        assert speech_like(x[a:b]) - speech_like(cut[a:b]) > 5.0, shot.id


def test_captions_are_beside_the_file_and_read_back(ugc):
    out, plan, report = ugc
    files = [Path(f) for f in report.caption_files]
    assert files == [out.with_suffix(".srt"), out.with_suffix(".vtt")]  # beside the delivered file
    subs = list(srt.parse(files[0].read_text(encoding="utf-8")))
    assert len(subs) == report.captions > 0
    spoken = " ".join(c.text for c in plan.audio if c.kind == "voiceover")
    assert " ".join(s.content.replace("\n", " ") for s in subs) == spoken
    assert subs[-1].end.total_seconds() <= float(plan.duration)
    cuts = {round(float(plan.shot_start(s)), 3) for s in plan.shots[1:]}
    assert not any(s.start.total_seconds() < c < s.end.total_seconds() - 0.05 for s in subs for c in cuts)


def test_a_door_slam_asked_in_words_lands_within_a_frame(tmp_path):
    out, plan, report = make(tmp_path, "a 14 second video of a quiet corridor; a door slams at 0:09.5", SoundOptions())
    assert [(c.effect, c.planned_s) for c in report.cues] == [("door slam", 9.5)]
    onset = first_rise(samples(out), 9.5)
    assert abs(onset - 9.5) < 1 / 24
    assert abs(report.cues[0].measured_s - onset) < 1 / 24
    assert probe_frames(out) == plan.target_frames


def test_voice_none_keeps_the_clips_sound_and_writes_no_captions(tmp_path):
    out, plan, report = make(tmp_path, "a 6 second video of a lake", SoundOptions(voice="none"))
    assert report.captions == 0 and report.caption_files == [] and report.native_audio
    assert abs(ebur128(out)["I"] - -14.0) <= 1.0
    assert probe_frames(out) == plan.target_frames


def _band_level_db(x, a: float, b: float) -> float:
    seg = x[int(a * 48000): int(b * 48000)].astype(float)
    spec = np.abs(np.fft.rfft(seg)) ** 2
    freqs = np.fft.rfftfreq(len(seg), 1 / 48000)
    return 10 * np.log10(spec[(freqs >= 1000) & (freqs < 4000)].sum() / len(seg) + 1e-20)


def test_timing_narration_cuts_between_sentences_and_keeps_the_length(tmp_path):
    text = ("Meet Max. He loves the park, the ball, and the long grass, and he will chase anything that moves. "
            "Every morning he waits by the door. Then, off we go!")
    out, plan, report = make(tmp_path, "a 16 second video of a dog in a park",
                             SoundOptions(voice=text, timing="narration"))
    assert probe_frames(out) == plan.target_frames == plan.total_frames
    lines = [c for c in plan.audio if c.kind == "voiceover"]
    assert " ".join(c.text for c in lines) == text
    assert all(c.text.rstrip().endswith((".", "!", "?")) for c in lines)  # whole sentences per shot
    x = samples(out)
    speaking = np.mean([_band_level_db(x, float(c.start) + 0.4, float(c.start) + 1.2) for c in lines])
    for shot in plan.shots[1:]:
        cut = float(plan.shot_start(shot))
        assert _band_level_db(x, cut - 0.08, cut + 0.08) < speaking - 10, shot.id  # nobody speaks on the cut


def test_otio_export_carries_narration_and_effect_tracks(ugc, tmp_path):
    import opentimelineio as otio

    from reelwright.editing.otio_export import export_otio

    out, plan, _ = ugc
    run = RunDir.open(next(out.parent.glob("runs/*")).name, out.parent / "runs")
    timeline = otio.adapters.read_from_file(str(export_otio(run, tmp_path / "cut.otio")))
    tracks = {t.name: t for t in timeline.tracks}
    narration = [c for c in tracks["Narration"] if isinstance(c, otio.schema.Clip)]
    lines = [c for c in plan.audio if c.kind == "voiceover"]
    assert len(narration) == len(lines)
    for clip, cue in zip(narration, lines):
        start = clip.range_in_parent().start_time.to_seconds()
        assert abs(start - (float(cue.start) + 0.25)) < 1 / 24  # the line enters just after its cut
        assert Path(clip.media_reference.target_url.removeprefix("file://")).is_file()
