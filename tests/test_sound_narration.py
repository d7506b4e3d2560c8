"""Narration planning: which voice-over a request gets, lines sized to their shots, the person's words
spread over the shots, narration too long refused with the numbers; effect cues from the request's words."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reelwright.api import plan_video
from reelwright.errors import BriefError, InputFileError
from reelwright.planning.narration import (MAX_WORDS_PER_SECOND, auto_lines, narrate, shot_budget, voice_setting,
                                           word_count)
from reelwright.sound import SoundOptions, prepare

UGC = "a 30 second UGC ad for a bottle called Tide: unboxing, filling it at the gym, a quick testimonial"


@pytest.mark.parametrize("mode, expected", [("create-video", "none"), ("short-film", "none"),
                                            ("ugc-product", "auto"), ("brand-identity", "auto")])
def test_each_mode_has_its_default_voice(mode, expected):
    assert voice_setting(None, mode, "a video of a lake").mode == expected


def test_request_words_ask_for_a_voice():
    quoted = voice_setting(None, "create-video", "a lake at dawn with a voice-over saying 'Every morning starts here.'")
    assert (quoted.mode, quoted.text) == ("text", "Every morning starts here.")
    double = voice_setting(None, "create-video", 'a lake, narrator says "It\'s quiet here."')
    assert (double.mode, double.text) == ("text", "It's quiet here.")
    assert voice_setting(None, "create-video", "a narrated tour of a lake").mode == "auto"
    assert voice_setting("none", "ugc-product", "a narrated ad").mode == "none"  # the flag wins


def test_voice_from_a_file_and_an_unreadable_one(tmp_path):
    f = tmp_path / "vo.txt"
    f.write_text("Meet Tide.\nThe bottle that keeps up.\n", encoding="utf-8")
    assert voice_setting(str(f), "create-video", "").text == "Meet Tide.\nThe bottle that keeps up."
    with pytest.raises(InputFileError, match="cannot read the narration file"):
        voice_setting(str(tmp_path / "missing.txt"), "create-video", "")


def test_auto_lines_fit_every_shot_at_a_natural_pace():
    plan = plan_video(UGC, resolution="360p")
    lines = auto_lines(plan)
    assert len(lines) == len(plan.shots) and all(lines)
    for shot, line in zip(plan.shots, lines):
        assert 2 <= word_count(line) <= shot_budget(float(plan.shot_duration(shot)))
    assert any("Tide" in line for line in lines)


def test_the_persons_words_are_spread_over_the_shots_in_order():
    plan = plan_video("a 20 second video of a dog in a park")
    text = "Meet Max. He loves the park, the ball, and the long grass. Every morning he waits by the door. Then, off we go!"
    narrate(plan, voice_setting(text, plan.mode, ""))
    cues = [c for c in plan.audio if c.kind == "voiceover"]
    assert " ".join(c.text for c in cues) == text
    assert [c.shot for c in cues] == [s.id for s in plan.shots][: len(cues)]
    assert all(c.start == plan.shot_start(plan.shot(c.shot)) for c in cues)
    assert cues[0].text.endswith(".") or cues[0].text.endswith(",")  # cut at a sentence end or a comma


def test_narration_too_long_is_refused_with_the_numbers():
    plan = plan_video("a 10 second video of a lake")
    words = " ".join(["word"] * 40)
    with pytest.raises(BriefError) as err:
        narrate(plan, voice_setting(words, plan.mode, ""))
    msg = str(err.value)
    assert "40 words" in msg and "10 s" in msg and f"at most {int(10 * MAX_WORDS_PER_SECOND)}" in msg
    assert "\n" not in msg


def test_effects_from_the_requests_words_become_cues():
    req = "a 20 second video of a quiet corridor; a door slams at 0:12 and a bell at 15.5 s"
    plan = prepare(plan_video(req, resolution="360p"), SoundOptions())
    sfx = [(c.effect, c.start) for c in plan.audio if c.kind == "sfx"]
    assert sfx == [("door slam", Fraction(12)), ("ding", Fraction(31, 2))]
    assert not [c for c in plan.audio if c.kind == "voiceover"]  # create-video: no voice unless asked


def test_an_effect_past_the_end_and_an_unknown_effect_are_refused(tmp_path):
    with pytest.raises(BriefError, match="door slam is asked at 25 s but the video is 20 s long"):
        prepare(plan_video("a 20 second video of a corridor; a door slams at 0:25"), SoundOptions())
    plan = plan_video("a 10 second video of a corridor")
    from reelwright.plan import AudioCue

    plan.audio.append(AudioCue(kind="sfx", effect="kazoo", start=Fraction(2)))
    with pytest.raises(BriefError, match="unknown sound effect 'kazoo': use one of click, ding, door slam"):
        prepare(plan, SoundOptions())


def test_whoosh_on_every_cut_and_bell_when_the_logo_appears():
    req = "a 15 second brand identity video for Acme with a whoosh on every cut and a bell when the logo appears"
    plan = prepare(plan_video(req), SoundOptions(voice="none"))
    sfx = [(c.effect, c.start) for c in plan.audio if c.kind == "sfx"]
    cuts = [plan.shot_start(s) for s in plan.shots[1:]]
    assert [t for e, t in sfx if e == "whoosh"] == cuts
    logo = next(s for s in plan.shots if "logo" in s.purpose)
    assert ("ding", plan.shot_start(logo)) in sfx


def test_bad_music_and_sfx_folder_are_refused_before_any_work(tmp_path):
    junk = tmp_path / "bed.mp3"
    junk.write_text("not audio")
    plan = plan_video("a 10 second video of a lake")
    with pytest.raises(InputFileError, match="music file is not readable audio"):
        prepare(plan, SoundOptions(music=junk))
    with pytest.raises(InputFileError, match="--sfx folder not found"):
        prepare(plan, SoundOptions(sfx=tmp_path / "none"))
    with pytest.raises(BriefError, match="unknown loudness"):
        SoundOptions.parse(loudness="loud")
    with pytest.raises(BriefError, match="unknown --subtitles 'sometimes'"):
        SoundOptions.parse(subtitles="sometimes")


def test_an_edited_plans_lines_are_kept_unless_voice_is_given():
    plan = prepare(plan_video(UGC, resolution="360p"), SoundOptions())
    first = next(c for c in plan.audio if c.kind == "voiceover")
    first.text = "My own words."
    again = prepare(plan, SoundOptions())
    assert next(c for c in again.audio if c.kind == "voiceover").text == "My own words."
    silenced = prepare(plan, SoundOptions(voice="none"))
    assert not [c for c in silenced.audio if c.kind == "voiceover"]


def test_timing_narration_follows_the_lines_and_stays_exact_on_a_fixed_duration_generator(tmp_path):
    from reelwright.generators.base import Capabilities
    from reelwright.sound import get_voice
    from reelwright.sound.speech import synthesize

    caps = Capabilities(name="fixed", durations=[4, 6, 8])
    plan = plan_video("a 24 second video of a dog in a park")
    text = ("Max waits. He loves the park, the ball, the long grass, and every smell along the river path. "
            "Home again. Then he sleeps by the fire, paws twitching, dreaming of tomorrow and the ducks.")
    planned = prepare(plan, SoundOptions(voice=text, timing="narration"), capabilities=caps, cache=tmp_path)
    assert planned.total_frames == planned.target_frames == 24 * 24
    lines = {c.shot: c for c in planned.audio if c.kind == "voiceover"}
    voice = get_voice("espeak")
    for shot in planned.shots:
        assert shot.gen_duration in (4, 6, 8) and shot.frames <= shot.gen_duration * 24
    spans = {}
    for cue in lines.values():  # a line holds its shot, or its beat's shots when it is longer than a clip
        spoken = synthesize(voice, cue.text, tmp_path).duration
        assert float(cue.duration) >= spoken + 0.25, (cue.shot, spoken)
        part = [s for s in planned.shots if s.id == cue.shot or s.id.startswith(f"{cue.shot}-")]
        assert sum(s.frames for s in part) == cue.duration * 24
        spans[cue.shot] = (spoken, float(cue.duration))
    # the time follows the lines: the longer a line, the longer its stretch of picture
    ordered = sorted(spans.values())
    assert [d for _, d in ordered] == sorted(d for _, d in ordered)


def test_lines_follow_their_shots_after_an_edit(tmp_path):
    from reelwright.sound import get_voice
    from reelwright.sound.speech import lay_out

    plan = prepare(plan_video(UGC, resolution="360p"), SoundOptions(voice="auto"))
    dropped = plan.shots.pop(1)  # an edit cut the second shot; the plan is laid out again
    plan.target_frames -= dropped.frames
    plan.relayout()
    lines = lay_out(plan, get_voice("espeak"), tmp_path)
    assert dropped.id not in {ln.cue.shot for ln in lines}
    for line in lines:
        assert abs(line.start - (float(plan.shot_start(plan.shot(line.cue.shot))) + 0.25)) < 1e-9


def _lines_from_schema(body):
    """The fake model's answer, derived from the schema the client sent: for each required field, a
    long line that names the field (longer than any budget, so the budget is enforced by the client)."""
    from tests.fakes.openai_server import json_completion

    schema = body["response_format"]["json_schema"]["schema"]
    return json_completion({key: f"Shot {key} shows Tide. It keeps up with you. " + "Really " * 30 + "good."
                            for key in schema["required"]})


def test_a_chat_model_writes_the_lines_within_each_shots_budget():
    from reelwright.llm import get_llm
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(responder=_lines_from_schema) as server:
        llm = get_llm("openai:gpt-4.1-mini", base_url=server.base_url)
        plan = prepare(plan_video(UGC, resolution="360p"), SoundOptions(voice="auto"), llm=llm)
        sent = server.bodies[0]
    assert set(sent["response_format"]["json_schema"]["schema"]["required"]) == {s.id for s in plan.shots}
    lines = {c.shot: c.text for c in plan.audio if c.kind == "voiceover"}
    for shot in plan.shots:
        assert lines[shot.id].startswith(f"Shot {shot.id} shows Tide.")  # the model's words…
        assert word_count(lines[shot.id]) <= shot_budget(float(plan.shot_duration(shot)))  # …held to the budget
    assert [c.purpose for c in llm.ledger] == ["narration"]
