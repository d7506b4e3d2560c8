"""Entity memory for long videos: who appeared where, in what state, and which verified images
show them. Saved as `memory.json` in the run folder so a resumed or extended run remembers."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..brief import Reference
from ..errors import BriefError, InputFileError
from ..runs.files import read_bounded
from ..plan import Appearance, Cast, Entity, EntityKind, Plan, RefImage

MEMORY_FILE = "memory.json"
MEMORY_VERSION = 1

# Calibrated on lavfi test patterns and photos: re-encoded or slightly shifted copies score
# above 0.8, unrelated images below 0.35. Between is "not sure", which is a rejection.
CONSISTENCY_THRESHOLD = 0.6
_THUMB = 32  # side of the grayscale thumbnail the structural term looks at
_BINS = 16  # per-channel bins of the colour histogram (16**3 cells)
_SMOOTH = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # so a small colour shift is not a bin jump

ImageLike = Path | str | Any  # a path, a PIL image or an HxWx3 uint8 array
ConsistencyFn = Callable[[ImageLike, Sequence[ImageLike]], bool]


def _load_rgb(image: ImageLike):
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, os.PathLike)):
        p = Path(image)
        try:
            with Image.open(p) as im:
                return im.convert("RGB")
        except FileNotFoundError as exc:
            raise InputFileError(f"image not found: {p}") from exc
        except (UnidentifiedImageError, OSError) as exc:
            raise InputFileError(f"not a readable image: {p} ({exc.__class__.__name__})") from exc
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise BriefError(f"an image array must be HxWx3, got shape {arr.shape}")
        return Image.fromarray(np.ascontiguousarray(arr[..., :3]).astype(np.uint8), "RGB")
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    raise BriefError(f"not an image: {type(image).__name__}")


def _colour_hist(rgb) -> np.ndarray:
    small = np.asarray(rgb.resize((64, 64)), dtype=np.int64) // (256 // _BINS)
    cells = (small[..., 0] * _BINS + small[..., 1]) * _BINS + small[..., 2]
    hist = np.bincount(cells.ravel(), minlength=_BINS**3).astype(np.float64).reshape(_BINS, _BINS, _BINS)
    for axis in range(3):
        hist = np.apply_along_axis(lambda v: np.convolve(v, _SMOOTH, mode="same"), axis, hist)
    return hist.ravel()


def _gray_thumb(rgb) -> np.ndarray:
    from PIL import Image

    return np.asarray(rgb.convert("L").resize((_THUMB, _THUMB), Image.BILINEAR), dtype=np.float64) / 255.0


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if den == 0.0:  # a flat image: equal only to another identical flat image
        return 1.0 if np.array_equal(a, b) else 0.0
    return float((a * b).sum() / den)


def _ssim(x: np.ndarray, y: np.ndarray, block: int = 8) -> float:
    """Mean SSIM over non-overlapping blocks of two [0,1] thumbnails (no Gaussian window: cheap)."""
    c1, c2 = 0.01**2, 0.03**2
    h, w = (x.shape[0] // block) * block, (x.shape[1] // block) * block
    bx = x[:h, :w].reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3).reshape(-1, block * block)
    by = y[:h, :w].reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3).reshape(-1, block * block)
    mx, my = bx.mean(1), by.mean(1)
    vx, vy = bx.var(1), by.var(1)
    cov = ((bx - mx[:, None]) * (by - my[:, None])).mean(1)
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(s.mean())


def consistency_score(candidate: ImageLike, reference: ImageLike) -> float:
    """Similarity in [0, 1]: the mean of colour-histogram correlation and thumbnail SSIM."""
    a, b = _load_rgb(candidate), _load_rgb(reference)
    hist = max(0.0, _correlation(_colour_hist(a), _colour_hist(b)))
    ssim = max(0.0, _ssim(_gray_thumb(a), _gray_thumb(b)))
    return 0.5 * hist + 0.5 * ssim


def consistency_check(candidate_png: ImageLike, entity_refs: Sequence[ImageLike], *,
                      threshold: float = CONSISTENCY_THRESHOLD) -> bool:
    """True when the candidate looks like at least one of the entity's references.

    A cheap, deterministic stand-in for identity verification: it catches a wrong scene, a
    black frame or a different palette, not a changed face. A vision model (or face/DINO
    embeddings) can replace it: pass any `(candidate, refs) -> bool` as `check=` to
    `CastMemory.add_frame_reference`."""
    if not entity_refs:
        return False
    return max(consistency_score(candidate_png, r) for r in entity_refs) >= threshold


def slug(name: str) -> str:
    # At most 60 characters: room for a "-2" suffix inside plan.SAFE_ID's 64.
    s = re.sub(r"[^a-z0-9]+", "-", name.strip().lower())[:60].strip("-")
    if not s:
        raise BriefError(f"cannot make an entity id from the name {name!r}")
    return s


class CastMemory:
    """Entity memory over a `Cast`, which it changes in place.

    Shot order (plan order) turns shot ids into indexes, so "how long since last seen" is a
    number of shots. Appearances are kept sorted by shot order."""

    def __init__(self, cast: Cast | None = None, *, shot_order: Iterable[str] = ()):
        self.cast = cast if cast is not None else Cast()
        self.shot_order: list[str] = []
        self._index: dict[str, int] = {}
        self.extend_shots(shot_order)

    @classmethod
    def from_plan(cls, plan: Plan) -> "CastMemory":
        """Memory over the plan's cast (shared, not copied), with every shot's entities recorded."""
        mem = cls(plan.cast)
        mem.record_plan(plan)
        return mem

    # shots -------------------------------------------------------------------------------
    def extend_shots(self, shot_ids: Iterable[str]) -> None:
        for sid in shot_ids:
            if sid not in self._index:
                self._index[sid] = len(self.shot_order)
                self.shot_order.append(sid)

    def shot_index(self, shot_id: str) -> int:
        try:
            return self._index[shot_id]
        except KeyError:
            raise BriefError(f"unknown shot {shot_id!r}: memory knows {len(self.shot_order)} shots") from None

    # entities ----------------------------------------------------------------------------
    def entity(self, entity_id: str) -> Entity:
        ent = self.cast.get(entity_id)
        if ent is None:
            known = ", ".join(e.id for e in self.cast.entities) or "none"
            raise BriefError(f"unknown entity {entity_id!r} (known: {known})")
        return ent

    def find(self, name: str) -> Entity | None:
        """The entity whose id or name matches `name`, ignoring case and punctuation."""
        key = slug(name)
        for e in self.cast.entities:
            if e.id == name or slug(e.id) == key or slug(e.name) == key:
                return e
        return None

    def add_entity(self, name: str, *, kind: EntityKind = "character", description: str = "",
                   entity_id: str | None = None) -> Entity:
        """Add an entity (or return the existing one with that name)."""
        found = self.find(entity_id or name)
        if found is not None:
            return found
        ent = Entity(id=entity_id or slug(name), name=name, kind=kind, description=description)
        self.cast.entities.append(ent)
        return ent

    def principal_id(self, plan: Plan | None = None) -> str | None:
        """The principal subject: the entity most often given the principal role, else the first
        character, else the first entity."""
        if plan is not None:
            counts: dict[str, int] = {}
            for s in plan.shots:
                for eid, role in s.roles.items():
                    if role == "principal":
                        counts[eid] = counts.get(eid, 0) + 1
            if counts:
                return sorted(counts, key=lambda e: (-counts[e], e))[0]
        chars = [e for e in self.cast.entities if e.kind == "character"]
        pool = chars or self.cast.entities
        return pool[0].id if pool else None

    def add_user_references(self, refs: Sequence[Reference], *, plan: Plan | None = None,
                            subject: str | None = None) -> list[str]:
        """Attach the person's reference images (`--ref "Biscuit=dog.jpg"`) to entities.

        A named reference goes to the entity with that name, created if new. Unnamed ones go to
        the principal subject; with no entity at all, one is made from `subject` (or the plan's
        subject). Returns the entity id each reference went to, in order."""
        out = []
        for ref in refs:
            if ref.name:
                ent = self.add_entity(ref.name)
            else:
                pid = self.principal_id(plan)
                if pid is None:
                    name = subject or (plan.subject if plan is not None else "") or "subject"
                    ent = self.add_entity(name)
                else:
                    ent = self.cast.get(pid) or self.add_entity(pid, entity_id=pid)
            path = Path(ref.path)
            if not any(r.path == path for r in ent.references):
                ent.references.append(RefImage(path=path, source="user", verified=True))
            out.append(ent.id)
        return out

    # appearances -------------------------------------------------------------------------
    def record_appearance(self, entity_id: str, shot_id: str, *, frame: int | None = None, state: str = "") -> None:
        """Note that an entity is in a shot (optionally at a frame, in a state). Idempotent."""
        ent = self.entity(entity_id)
        self.extend_shots([shot_id])
        for a in ent.appearances:
            if a.shot == shot_id and a.frame == frame:
                if state:
                    a.state = state
                return
        ent.appearances.append(Appearance(shot=shot_id, frame=frame, state=state))
        ent.appearances.sort(key=lambda a: (self._index.get(a.shot, len(self.shot_order)),
                                            -1 if a.frame is None else a.frame))

    def record_plan(self, plan: Plan) -> None:
        """Record every shot's entities; entities a shot names but the cast lacks are added."""
        self.extend_shots(s.id for s in plan.shots)
        for shot in plan.shots:
            for eid in shot.entities:
                if self.cast.get(eid) is None:
                    self.cast.entities.append(Entity(id=eid, name=eid))
                self.record_appearance(eid, shot.id)

    def first_shot(self, entity_id: str) -> str | None:
        return self.entity(entity_id).first_shot

    def last_shot(self, entity_id: str) -> str | None:
        return self.entity(entity_id).last_shot

    def last_seen_before(self, entity_id: str, shot_index: int) -> int | None:
        """Index of the latest shot before `shot_index` the entity appeared in, or None."""
        seen = [self._index[a.shot] for a in self.entity(entity_id).appearances
                if a.shot in self._index and self._index[a.shot] < shot_index]
        return max(seen) if seen else None

    def shots_since_seen(self, entity_id: str, shot_index: int) -> int | None:
        """How many shots ago the entity was last on screen (1 = the previous shot); None if never."""
        last = self.last_seen_before(entity_id, shot_index)
        return None if last is None else shot_index - last

    # references --------------------------------------------------------------------------
    def add_frame_reference(self, entity_id: str, png_path: Path | str, shot_id: str, view: str = "front",
                            verified: bool | None = None, *, check: ConsistencyFn | None = None) -> bool:
        """Offer a frame from a generated shot as a reference; return whether it was kept.

        `verified=None` runs `check` (default `consistency_check`) against the entity's current
        references; `verified=True/False` is a verdict the caller already has (a vision judge).
        An entity with no reference yet takes the frame as its canonical first-appearance
        portrait: there is nothing to compare with, and later frames are checked against it.
        Frames are tagged with `view` (use the shot's camera) so selection can prefer a recent
        frame from the same camera."""
        ent = self.entity(entity_id)
        path = Path(png_path)
        if not path.is_file():
            raise InputFileError(f"frame reference not found: {path}")
        existing = [r.path for r in ent.references]
        if path in existing:
            return True
        if verified is None:
            verified = True if not existing else (check or consistency_check)(path, existing)
        if not verified:
            return False
        self.extend_shots([shot_id])
        ent.references.append(RefImage(path=path, view=view, source="frame", shot=shot_id, verified=True))
        return True

    # persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"version": MEMORY_VERSION, "shots": list(self.shot_order), "cast": self.cast.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CastMemory":
        version = data.get("version")
        if version != MEMORY_VERSION:
            raise BriefError(f"memory version {version!r} is not supported (expected {MEMORY_VERSION})")
        return cls(Cast.model_validate(data.get("cast", {})), shot_order=data.get("shots", []))

    def save(self, path: Path | str) -> Path:
        """Write JSON atomically; a folder means `<folder>/memory.json`."""
        p = Path(path)
        if p.is_dir():
            p = p / MEMORY_FILE
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        os.replace(tmp, p)
        return p

    @classmethod
    def load(cls, path: Path | str) -> "CastMemory":
        p = Path(path)
        if p.is_dir():
            p = p / MEMORY_FILE
        try:
            data = json.loads(read_bounded(p, "memory"))
        except OSError as exc:
            raise InputFileError(f"cannot read memory {p}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise BriefError(f"memory {p} is not valid JSON: line {exc.lineno}: {exc.msg}") from exc
        try:
            return cls.from_dict(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise BriefError(f"memory {p} is invalid at {loc or 'top level'}: {first['msg']}") from exc
