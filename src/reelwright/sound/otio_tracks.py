"""The sound step's tracks for an OpenTimelineIO export: narration lines, effects and music as audio
tracks, each clip where the mix placed it (read from the run's `sound/placements.json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .audiofile import audio_duration

_NAMES = {"narration": "Narration", "effects": "Effects", "music": "Music"}


def sound_tracks(run_root: Path, otio: Any, rate: float) -> list[Any]:
    """Audio tracks (possibly none) for the run's narration, effects and music."""
    placements = Path(run_root) / "sound" / "placements.json"
    if not placements.is_file():
        return []
    rows = json.loads(placements.read_text(encoding="utf-8"))

    def rt(seconds: float):
        return otio.opentime.RationalTime(round(seconds * rate), rate)

    tracks = []
    for kind, title in _NAMES.items():
        items = sorted((r for r in rows if r["track"] == kind and Path(r["path"]).is_file()), key=lambda r: r["start"])
        if not items:
            continue
        track = otio.schema.Track(name=title, kind=otio.schema.TrackKind.Audio)
        cursor = 0.0
        for r in items:
            length = audio_duration(r["path"], f"{kind} sound")
            head = max(0.0, -r["start"])  # an effect started before 0 by its attack: its head is cut
            start = max(0.0, r["start"])
            used = min(length - head, r.get("length", length - head))
            if start > cursor:
                track.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(start - cursor))))
            elif start < cursor:  # overlapping sounds: this track keeps the earlier one whole
                continue
            clip = otio.schema.Clip(name=r.get("name") or Path(r["path"]).stem,
                                    media_reference=otio.schema.ExternalReference(
                                        target_url=Path(r["path"]).resolve().as_uri(),
                                        available_range=otio.opentime.TimeRange(rt(0), rt(length))),
                                    source_range=otio.opentime.TimeRange(rt(head), rt(used)))
            clip.metadata["reelwright"] = {k: v for k, v in r.items() if k != "path"}
            track.append(clip)
            cursor = start + used
        tracks.append(track)
    return tracks
