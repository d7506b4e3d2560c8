"""The card tool: frame-exact H.264/AAC card clips (text, logo, brand colours), checked by probing and by
looking at a decoded frame."""

from __future__ import annotations

from fractions import Fraction

import pytest
from PIL import Image, ImageDraw

from reelwright.critique.technical import ClipExpectation, check_clip
from reelwright.errors import InputFileError, ToolArgumentError
from reelwright.media import VideoSpec, extract_frame, probe
from reelwright.media.cards import card_colours, logo_colours, render_card

NTSC = Fraction(30000, 1001)


@pytest.fixture
def logo(tmp_path):
    """A brand logo: an orange disc on a white ground, the way logos are usually delivered."""
    im = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(im).ellipse([100, 50, 300, 250], fill=(240, 110, 20))
    path = tmp_path / "logo.png"
    im.save(path)
    return path


@pytest.mark.parametrize("fps,frames,size", [(Fraction(24), 61, (1280, 720)), (NTSC, 75, (720, 1280)),
                                             (Fraction(25), 1, (480, 480))])
def test_a_card_is_exactly_the_asked_frames_size_and_rate_with_sound(tmp_path, fps, frames, size):
    spec = VideoSpec(width=size[0], height=size[1], fps=fps)
    out = render_card(tmp_path / "card.mp4", frames=frames, spec=spec, text="Stay hydrated", subtitle="tide.example")
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames) == (size[0], size[1], fps, frames)
    assert info.vcodec == "h264" and info.acodec == "aac" and info.sample_rate == 48000
    assert abs(info.audio_duration - Fraction(frames) / fps) <= Fraction(1, 50)  # one AAC frame at most
    assert spec.matches(info, audio=True)  # the cut stream-copies it like any accepted clip
    verdict = check_clip(out, ClipExpectation(frames=frames, fps=fps, width=size[0], height=size[1]))
    assert verdict.passed, verdict.reasons


def test_the_logo_and_its_colours_are_on_the_card(tmp_path, logo):
    spec = VideoSpec(width=640, height=360, fps=Fraction(24))
    out = render_card(tmp_path / "end.mp4", frames=24, spec=spec, text="Tide", logo=logo)
    png = extract_frame(out, tmp_path / "end.png", frame=12)
    frame = Image.open(png).convert("RGB")
    background = frame.getpixel((20, 180))
    # no colours were given: the background is the logo's orange, not the logo's white ground
    assert background[0] > 150 and background[2] < 90, background
    centre = frame.getpixel((320, 120))  # the logo's disc, above the text
    assert centre[0] > 180 and 70 < centre[1] < 150 and centre[2] < 70, centre
    # the text is drawn below the logo, in ink that stands out from the background
    below = [frame.getpixel((x, y)) for x in range(200, 440, 2) for y in range(225, 300, 2)]
    assert sum(1 for px in below if min(px) > 220) > 30


def test_given_colours_win_and_the_ink_stands_out():
    background, ink = card_colours(["navy", "gold"], None)
    assert background == (0, 0, 128) and ink == (255, 215, 0)
    background, ink = card_colours(["white", "#fafafa"], None)  # an accent too close to the ground is not ink
    assert background == (255, 255, 255) and sum(ink) < 100


def test_logo_colours_skip_the_white_ground(logo):
    first = logo_colours(Image.open(logo))[0]
    assert first[0] > 200 and first[2] < 60


def test_bad_inputs_say_what_is_wrong(tmp_path):
    spec = VideoSpec(width=320, height=240, fps=Fraction(24))
    with pytest.raises(ToolArgumentError, match="unknown colour 'blurple'"):
        render_card(tmp_path / "a.mp4", frames=10, spec=spec, text="x", colors=["blurple"])
    with pytest.raises(ToolArgumentError, match="at least one frame"):
        render_card(tmp_path / "a.mp4", frames=0, spec=spec, text="x")
    with pytest.raises(ToolArgumentError, match="needs text"):
        render_card(tmp_path / "a.mp4", frames=10, spec=spec)
    with pytest.raises(InputFileError, match="does not exist"):
        render_card(tmp_path / "a.mp4", frames=10, spec=spec, logo=tmp_path / "missing.png")
    not_image = tmp_path / "logo.png"
    not_image.write_text("not a picture")
    with pytest.raises(InputFileError, match="not a readable image"):
        render_card(tmp_path / "a.mp4", frames=10, spec=spec, logo=not_image)
    assert not list(tmp_path.glob("*.mp4"))  # nothing half-written


def test_a_planned_end_card_shows_the_brands_logo_at_the_shots_length(tmp_path, logo):
    from reelwright.brief import Brief, Reference
    from reelwright.cards import make_card_clip
    from reelwright.generators.animatic import AnimaticGenerator
    from reelwright.planning.builtin import build_plan

    brief = Brief(request="a 12 second UGC ad for the Tide water bottle: filling it at the gym, logo end card",
                  resolution="360p", references=[Reference(path=logo, name="logo")])
    plan = build_plan(brief, AnimaticGenerator().capabilities())
    end = plan.shots[-1]
    assert end.kind == "card" and plan.card_logo(end) == logo
    assert plan.cast.get(end.card.logo).kind == "object"
    assert not any(end.card.logo in s.entities for s in plan.shots if s.kind == "generated")  # drawn, not sent
    out = make_card_clip(plan, end, tmp_path / "end.mp4", frames=end.frames)
    info = probe(out)
    assert (info.frames, info.width, info.height) == (end.frames, plan.width, plan.height)
    frame = Image.open(extract_frame(out, tmp_path / "end.png", frame=end.frames // 2)).convert("RGB")
    corner = frame.getpixel((5, plan.height // 2))
    assert corner[0] > 150 and corner[2] < 90  # the logo's orange, read from the reference image
