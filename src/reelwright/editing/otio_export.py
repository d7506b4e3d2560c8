"""Hands a run's cut to editors as an OpenTimelineIO timeline: one video clip per shot with its in/out
points on the accepted clip, overlays as markers (and a text track), and the audio of each clip."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from ..errors import InputFileError, MissingDependencyError
from ..runs.store import RunDir


def export_otio(run: RunDir, dst: Path) -> Path:
    try:
        import opentimelineio as otio
    except ImportError as exc:
        raise MissingDependencyError("OpenTimelineIO", "pip install 'reelwright[otio]'") from exc
    from ..media import probe

    plan = run.load_plan()
    if plan is None:
        raise InputFileError(f"run {run.id} has no plan to export")
    state = run.load_state()
    rate = float(plan.fps)

    def rt(frames: int | Fraction) -> "otio.opentime.RationalTime":
        return otio.opentime.RationalTime(float(frames), rate)

    timeline = otio.schema.Timeline(name=plan.title or run.id)
    timeline.global_start_time = rt(0)
    video = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="Audio", kind=otio.schema.TrackKind.Audio)
    text = otio.schema.Track(name="Text", kind=otio.schema.TrackKind.Video)
    for shot in plan.shots:
        clip_path = run.clip_in_cut(shot.id, state)
        if clip_path is None:
            raise InputFileError(f"shot {shot.id} has no accepted clip; finish the run before exporting")
        available = probe(clip_path).frames
        ref_kwargs = dict(target_url=clip_path.resolve().as_uri(),
                          available_range=otio.opentime.TimeRange(rt(0), rt(available)))
        # With a speed change the source range covers the frames consumed; a LinearTimeWarp states the speed.
        src_range = otio.opentime.TimeRange(rt(shot.in_frame), rt(shot.frames))
        for track in (video, audio):
            clip = otio.schema.Clip(name=f"{shot.id} {shot.beat}"[:80],
                                    media_reference=otio.schema.ExternalReference(**ref_kwargs),
                                    source_range=src_range)
            clip.metadata["reelwright"] = {"shot": shot.id, "beat": shot.beat, "prompt": shot.prompt,
                                           "speed": str(shot.speed), "fade_in": shot.fade_in, "fade_out": shot.fade_out}
            if shot.speed != 1:
                clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=float(shot.speed)))
            track.append(clip)
    cursor = Fraction(0)
    for o in sorted(plan.overlays, key=lambda o: o.start):
        start_f, dur_f = o.start * plan.fps, o.duration * plan.fps
        if start_f > cursor:
            text.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(start_f - cursor))))
        title = otio.schema.Clip(name=o.text, source_range=otio.opentime.TimeRange(rt(0), rt(dur_f)),
                                 media_reference=otio.schema.GeneratorReference(
                                     generator_kind="text", parameters={"text": o.text, "position": o.position},
                                     available_range=otio.opentime.TimeRange(rt(0), rt(dur_f))))
        text.append(title)
        cursor = max(cursor, start_f + dur_f)
        video.markers.append(otio.schema.Marker(name=o.text, marked_range=otio.opentime.TimeRange(rt(start_f), rt(dur_f)),
                                                color=otio.schema.MarkerColor.YELLOW,
                                                metadata={"reelwright": {"overlay": o.model_dump(mode="json")}}))
    timeline.tracks.append(video)
    if len(text):
        timeline.tracks.append(text)
    timeline.tracks.append(audio)
    from ..sound.otio_tracks import sound_tracks

    for track in sound_tracks(run.root, otio, rate):  # narration, effects, music as the sound step placed them
        timeline.tracks.append(track)
    timeline.metadata["reelwright"] = {"run": run.id, "fps": str(plan.fps), "width": plan.width,
                                       "height": plan.height, "output_aspect": plan.output_aspect}
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part{dst.suffix}")
    otio.adapters.write_to_file(timeline, str(tmp))
    tmp.replace(dst)
    return dst
