"""The storyboard: `Plan`, `Shot`, `Cast`/`Entity`, `Overlay`, `AudioCue`.

A plan is JSON, editable by a person before money is spent. Time inside a plan is whole frames
at the plan's rational fps; seconds are derived."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .brief import Brief
from .errors import BriefError, InputFileError
from .media.watermark import Watermark
from .timing import Frac, frames_to_seconds, show, timecode

EntityKind = Literal["character", "object", "location", "style"]
Transition = Literal["cut", "fade", "dissolve", "fadeblack", "wipeleft", "slideleft"]
ShotSource = Literal["text", "image", "extend", "reference"]
ShotKind = Literal["generated", "card"]
Role = Literal["principal", "speaking", "supporting", "background"]

# Shot and entity ids become file names in the run folder (clips/s01-<fp>.mp4): a letter or digit, then
# letters, digits, '-' and '_' only, so no id from a plan file can name a path outside it.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SPEED_RANGE = (Fraction(1, 16), Fraction(16))  # what media.change_speed can do


def check_safe_id(kind: str, value: str) -> str:
    if not SAFE_ID.fullmatch(value):
        raise ValueError(f"{kind} id {value[:40]!r} is not allowed: use letters, digits, '-' and '_' "
                         "(at most 64, starting with a letter or digit)")
    return value


class RefImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: Path
    view: str = "front"
    source: Literal["user", "generated", "frame"] = "user"
    shot: str | None = None  # the shot a frame reference came from
    verified: bool = True


class Appearance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shot: str
    frame: int | None = None
    state: str = ""  # outfit, props, condition


class Entity(BaseModel):
    """A character, object, location or style that must stay the same across shots."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    kind: EntityKind = "character"
    description: str = ""
    references: list[RefImage] = Field(default_factory=list)
    appearances: list[Appearance] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        return check_safe_id("entity", v)

    @property
    def first_shot(self) -> str | None:
        return self.appearances[0].shot if self.appearances else None

    @property
    def last_shot(self) -> str | None:
        return self.appearances[-1].shot if self.appearances else None


class Cast(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entities: list[Entity] = Field(default_factory=list)

    def get(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)


class Overlay(BaseModel):
    """Text drawn deterministically over the cut, at an exact time."""

    model_config = ConfigDict(extra="forbid")
    text: str
    start: Frac  # seconds from the start of the video
    duration: Frac
    position: Literal["center", "top", "bottom", "lower-third"] = "center"
    size: float = 0.08  # font height as a fraction of the frame height
    color: str = "white"
    box: bool = True

    @property
    def end(self) -> Fraction:
        return self.start + self.duration


class AudioCue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["tone", "music", "voiceover", "sfx", "silence"] = "tone"
    text: str = ""
    start: Frac = Fraction(0)
    duration: Frac | None = None
    path: Path | None = None
    gain_db: float = 0.0
    effect: str = ""  # sfx: the effect's name ("door slam"); `start` is where it hits
    shot: str | None = None  # voiceover: the shot whose line this is


class CardSpec(BaseModel):
    """What the card tool draws for a card shot: text (and a logo) on the brand's colours, never generated,
    because video models garble lettering and logos."""

    model_config = ConfigDict(extra="forbid")
    text: str = ""
    subtitle: str = ""
    logo: str | None = None  # id of the cast entity whose first reference image is drawn (the brand's logo)
    colors: list[str] = Field(default_factory=list)  # background first, then accent; empty: read from the logo

    @field_validator("colors")
    @classmethod
    def _known_colours(cls, colors: list[str]) -> list[str]:
        from PIL import ImageColor

        for c in colors:
            try:
                ImageColor.getrgb(c)
            except ValueError:
                raise ValueError(f"unknown colour {c!r}: use a name such as navy or a hex value such as #1a2b3c") from None
        return colors


class Shot(BaseModel):
    """One clip to make, and where it sits in the cut."""

    model_config = ConfigDict(extra="forbid")
    id: str  # stable id, e.g. "s01"
    beat: str  # the sparse intent, in the person's words
    prompt: str = ""  # the dense prompt for the generator
    negative_prompt: str = ""
    start_frame: int = 0
    frames: int  # frames used in the cut
    gen_duration: Frac | None = None  # seconds asked of the generator (an allowed duration ≥ used)
    entities: list[str] = Field(default_factory=list)
    roles: dict[str, Role] = Field(default_factory=dict)
    camera: str = "static"
    setting: str = ""
    transition: Transition = "cut"  # transition into the next shot
    source: ShotSource = "text"
    image: Path | None = None  # first frame for image→video
    continues: bool = False  # continues the previous shot (extend / last frame)
    seed: int = 0
    purpose: str = ""  # e.g. "opening", "hook", "call to action"
    kind: ShotKind = "generated"  # "card": drawn by the card tool from `card`, never sent to a generator, free
    card: CardSpec | None = None
    # Deterministic finishing, applied at cut time to the accepted clip (never a reason to regenerate):
    in_frame: int = 0  # first frame of the generated clip that the cut uses
    speed: Frac = Fraction(1)  # playback speed: 1/2 plays the clip at half speed
    fade_in: int = 0  # frames
    fade_out: int = 0  # frames

    @property
    def source_frames(self) -> int:
        """Frames of the generated clip this shot consumes (its cut length times its speed)."""
        exact = self.frames * self.speed
        return max(1, int(exact + Fraction(1, 2)))

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        return check_safe_id("shot", v)

    @model_validator(mode="after")
    def _positive(self) -> "Shot":
        if self.frames <= 0:
            raise ValueError(f"shot {self.id}: frames must be positive, got {self.frames}")
        if self.start_frame < 0:
            raise ValueError(f"shot {self.id}: start_frame must not be negative")
        if self.kind == "card" and self.card is None:
            raise ValueError(f"shot {self.id}: a card shot needs a card (text, logo or colours)")
        # Everything the cut applies is checked here, before any clip is paid for.
        lo, hi = SPEED_RANGE
        if not lo <= self.speed <= hi:
            raise ValueError(f"shot {self.id}: speed must be between 1/16 and 16, got {show(self.speed)}")
        if self.in_frame < 0:
            raise ValueError(f"shot {self.id}: in_frame must not be negative, got {self.in_frame}")
        if self.fade_in < 0 or self.fade_out < 0 or self.fade_in + self.fade_out > self.frames:
            raise ValueError(f"shot {self.id}: fades of {self.fade_in}+{self.fade_out} frames do not fit "
                             f"its {self.frames} frames")
        if self.gen_duration is not None and self.gen_duration <= 0:
            raise ValueError(f"shot {self.id}: gen_duration must be positive")
        return self


class Plan(BaseModel):
    """The storyboard. `shots` are contiguous: each starts where the previous ended."""

    model_config = ConfigDict(extra="forbid")
    version: int = 1
    title: str = ""
    brief: Brief
    mode: str = "create-video"
    generator: str = "animatic"
    fps: Frac = Fraction(24)
    width: int = 1280
    height: int = 720
    aspect: str = "16:9"
    target_frames: int
    subject: str = ""
    setting: str = ""
    style: str = ""
    shots: list[Shot]
    cast: Cast = Field(default_factory=Cast)
    overlays: list[Overlay] = Field(default_factory=list)
    audio: list[AudioCue] = Field(default_factory=list)
    estimated_cost_usd: float = 0.0
    output_aspect: str | None = None  # crop the finished cut to this aspect (an edit), generation size unchanged
    watermark: Watermark | None = None  # stamped on the whole cut after stitching (and stated in the C2PA manifest)
    notes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # what the person must know (e.g. the chat model's plan was replaced)

    @model_validator(mode="after")
    def _check_layout(self) -> "Plan":
        if not self.shots:
            raise ValueError("a plan needs at least one shot")
        ids = [s.id for s in self.shots]
        if len(set(ids)) != len(ids):
            raise ValueError(f"shot ids repeat: {ids}")
        expect = 0
        for s in self.shots:
            if s.start_frame != expect:
                raise ValueError(f"shot {s.id} starts at frame {s.start_frame}, expected {expect} (shots must be contiguous)")
            expect += s.frames
        if self.width % 2 or self.height % 2:
            raise ValueError(f"frame size must be even, got {self.width}x{self.height}")
        for s in self.shots:
            if s.card is not None and s.card.logo and self.cast.get(s.card.logo) is None:
                raise ValueError(f"shot {s.id}: card logo {s.card.logo!r} is not in the cast")
        if not 16 <= self.width <= 8192 or not 16 <= self.height <= 8192:
            raise ValueError(f"frame size {self.width}x{self.height} is out of range (16 to 8192)")
        if not Fraction(1) <= self.fps <= Fraction(120):
            raise ValueError(f"fps {show(self.fps)} is out of range: use 1 to 120")
        if self.target_frames <= 0:
            raise ValueError(f"target_frames must be positive, got {self.target_frames}")
        for s in self.shots:
            if s.gen_duration is not None and s.in_frame + s.source_frames > s.gen_duration * self.fps + 1:
                raise ValueError(f"shot {s.id}: in_frame {s.in_frame} plus {s.source_frames} frames is past the "
                                 f"end of its {show(s.gen_duration)} s clip")
        duration = self.duration
        for o in self.overlays:
            if o.start < 0 or o.duration <= 0 or o.end > duration:
                raise ValueError(f"overlay {o.text[:30]!r} at {show(o.start)} s for {show(o.duration)} s is not "
                                 f"inside the {show(duration)} s video")
        return self

    @property
    def total_frames(self) -> int:
        return sum(s.frames for s in self.shots)

    @property
    def duration(self) -> Fraction:
        return frames_to_seconds(self.total_frames, self.fps)

    def shot(self, shot_id: str) -> Shot:
        for s in self.shots:
            if s.id == shot_id:
                return s
        raise KeyError(shot_id)

    def card_logo(self, shot: Shot) -> Path | None:
        """The image a card shot draws: the first reference image of its logo entity, if any."""
        if shot.card is None or not shot.card.logo:
            return None
        ent = self.cast.get(shot.card.logo)
        return ent.references[0].path if ent is not None and ent.references else None

    def shot_start(self, shot: Shot) -> Fraction:
        return frames_to_seconds(shot.start_frame, self.fps)

    def shot_duration(self, shot: Shot) -> Fraction:
        return frames_to_seconds(shot.frames, self.fps)

    def relayout(self) -> "Plan":
        """Recompute start frames after shots were added, removed or resized."""
        start = 0
        for s in self.shots:
            s.start_frame = start
            start += s.frames
        return self

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def load(cls, path: Path | str) -> "Plan":
        """A plan from a JSON file: size and type checked before reading, errors in one line."""
        from .runs.files import load_json

        p = Path(path)
        data = load_json(p, "plan")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            ctx = (first.get("ctx") or {}).get("error")
            raise BriefError(f"plan {p} is invalid at {loc or 'top level'}: {ctx or first['msg']}") from None

    def summary_lines(self) -> list[str]:
        lines = []
        for i, s in enumerate(self.shots, 1):
            lines.append(f"{i:>3} {s.id} {timecode(self.shot_start(s))} +{float(self.shot_duration(s)):.3f}s  {s.beat}")
        return lines
