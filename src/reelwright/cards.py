"""Card shots as the Director makes them: the plan's `CardSpec` drawn by the card tool (`media.cards`) at the
plan's size and rate — never sent to a generator, free, and the same pixels every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .media.cards import render_card
from .media.spec import VideoSpec
from .plan import Plan, Shot


def is_card(shot: Shot) -> bool:
    return shot.kind == "card" and shot.card is not None


def card_identity(plan: Plan, shot: Shot) -> dict[str, Any]:
    """What decides a card clip's pixels (for the clip fingerprint): the card, the logo file, the size and rate."""
    assert shot.card is not None
    logo = plan.card_logo(shot)
    return {"card": shot.card.model_dump(mode="json"), "logo": str(logo) if logo else None,
            "size": [plan.width, plan.height], "fps": str(plan.fps)}


def make_card_clip(plan: Plan, shot: Shot, out: str | Path, *, frames: int) -> Path:
    """The card clip of `frames` frames (the shot's frames plus any a transition overlaps)."""
    assert shot.card is not None, f"shot {shot.id} is not a card"
    return render_card(out, frames=frames, spec=VideoSpec.from_plan(plan), text=shot.card.text,
                       subtitle=shot.card.subtitle, logo=plan.card_logo(shot), colors=shot.card.colors)
