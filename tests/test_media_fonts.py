"""The one font lookup: each kind resolves to a real face of that kind, REELWRIGHT_FONT steers the
regular face only, and the animatic's cards and timecode use the same files as the overlays."""

from __future__ import annotations

import pytest
from PIL import ImageFont

from reelwright.errors import MissingDependencyError
from reelwright.generators import _cards
from reelwright.media.fonts import find_font, font_file


def test_each_kind_is_a_real_face_of_that_kind():
    mono = ImageFont.truetype(str(find_font("mono")), 20)
    assert mono.getlength("iiii") == mono.getlength("WWWW")  # monospaced: the timecode does not jitter
    regular = ImageFont.truetype(str(find_font("regular")), 20)
    assert regular.getlength("iiii") < regular.getlength("WWWW")
    bold = ImageFont.truetype(str(find_font("bold")), 20)
    assert "bold" in " ".join(bold.getname()).lower()


def test_reelwright_font_steers_the_regular_face_only(tmp_path, monkeypatch):
    chosen = tmp_path / "mine.ttf"
    chosen.write_bytes(find_font("bold").read_bytes())
    monkeypatch.setenv("REELWRIGHT_FONT", str(chosen))
    assert find_font() == chosen
    assert find_font("mono") != chosen


def test_a_missing_reelwright_font_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("REELWRIGHT_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(MissingDependencyError, match="REELWRIGHT_FONT"):
        font_file("regular")


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="mono"):
        font_file("italic")  # type: ignore[arg-type]


def test_cards_draw_with_the_shared_lookup(monkeypatch, tmp_path):
    assert _cards.font("mono", 17).path == str(find_font("mono"))
    chosen = tmp_path / "card.ttf"
    chosen.write_bytes(find_font("mono").read_bytes())
    monkeypatch.setenv("REELWRIGHT_FONT", str(chosen))
    assert _cards.font("regular", 19).path == str(chosen)
