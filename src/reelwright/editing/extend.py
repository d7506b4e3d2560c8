"""Extend an existing video to an exact length: probe it, find its scenes, continue from its last frame
(native extension where the generator has it), and stitch the new shots on without re-encoding the original
when its stream already matches."""

from __future__ import annotations

import re
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..brief import ASPECTS, RESOLUTIONS, Brief
from ..director import Delivery, Director
from ..errors import BriefError
from ..events import EventBus
from ..executors import make_generator, released
from ..media.ffmpeg import run_ffmpeg
from ..runs.lock import run_lock
from ..runs.store import ExtendTask, RunDir
from ..timing import seconds_to_frames


def detect_scenes(path: Path, threshold: float = 0.3) -> list[Fraction]:
    """Times (seconds) where a new scene starts, from ffmpeg's scene score; always includes 0."""
    proc = run_ffmpeg(["-i", str(path), "-an", "-vf", f"scale=160:-2,select='gt(scene,{threshold})',showinfo",
                       "-f", "null", "-"], loglevel="info")
    times = [Fraction(0)]
    for m in re.finditer(r"pts_time:([0-9.]+)", proc.stderr):
        t = Fraction(m.group(1))
        if t > 0:
            times.append(t)
    return times


def rotation_of(path: Path) -> int:
    """The display rotation of a video's first stream in degrees (0, 90, 180, 270): phones record
    portrait as landscape frames plus a display matrix, which a join must not lose."""
    import json
    import subprocess

    from ..media.ffmpeg import dies_with_parent, ffprobe_exe

    exe = ffprobe_exe()
    if exe is None:
        return 0
    proc = subprocess.run(dies_with_parent([exe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                                            "stream_side_data=rotation:stream_tags=rotate", "-of", "json",
                                            str(path)]), capture_output=True, text=True)
    try:
        stream = (json.loads(proc.stdout or "{}").get("streams") or [{}])[0]
    except ValueError:
        return 0
    values = [sd.get("rotation") for sd in stream.get("side_data_list") or []]
    values.append((stream.get("tags") or {}).get("rotate"))
    for v in values:
        try:
            return int(float(v)) % 360
        except (TypeError, ValueError):
            continue
    return 0


def display_size(info, rotation: int) -> tuple[int, int]:
    return (info.height, info.width) if rotation % 180 == 90 else (info.width, info.height)


def closest_aspect(width: int, height: int) -> str:
    ratio = width / height
    return min(ASPECTS, key=lambda a: abs(ASPECTS[a][0] / ASPECTS[a][1] - ratio))


def closest_resolution(width: int, height: int) -> str:
    short = min(width, height)
    return min(RESOLUTIONS, key=lambda r: abs(RESOLUTIONS[r] - short))


def describe_video(path: Path, llm: Any = None) -> str:
    """What the video shows, for planning the continuation: a vision model's words when one is configured."""
    if llm is not None and getattr(llm, "supports_images", False):
        from ..media import extract_frame, probe

        info = probe(path)
        frames = []
        for n, frac in enumerate((Fraction(1, 4), Fraction(3, 4), Fraction(1))):
            png = path.parent / f".{path.stem}.describe{n}.png"
            extract_frame(path, png, frame=max(0, int(info.frames * frac) - 1))
            frames.append(png)
        try:
            resp = llm.complete([{"role": "user", "content": "Describe this video's subject, setting, style and the "
                                  "last action in two sentences, for continuing it."}], images=frames, purpose="describe")
            return resp.text.strip()
        finally:
            for f in frames:
                f.unlink(missing_ok=True)
    return ""


def extend_video(source: Path, to_seconds: Fraction, *, request: str = "", generator: str = "animatic",
                 output: Path | None = None, runs_dir: Path | None = None, bus: EventBus | None = None,
                 llm: Any = None, generator_options: dict[str, Any] | None = None, executor: str | None = None,
                 signer: Any = None) -> Delivery:
    """Continue `source` until it lasts exactly `to_seconds` (`executor="ray"`: clips made on the cluster); with
    `signer` (a provenance.SigningIdentity) the joined video gets a signed C2PA manifest (composite: the person's
    footage plus generated frames)."""
    from ..config import default_runs_dir
    from ..media import probe
    from ..planning.builtin import build_plan

    source = Path(source)
    info = probe(source)
    bus = bus or EventBus()
    target = seconds_to_frames(Fraction(to_seconds), info.fps)
    missing = target - info.frames
    if missing <= 0:
        raise BriefError(f"{source.name} is already {float(info.video_duration):.3f} s; nothing to extend to "
                         f"{float(to_seconds):g} s (use `reelwright edit ... 'trim to {float(to_seconds):g} seconds'`)")
    t0 = time.perf_counter()
    scenes = detect_scenes(source)
    description = describe_video(source, llm) or request or "the scene carries on naturally"
    bus.emit("extend", "info", f"{source.name}: {float(info.video_duration):.3f} s, {len(scenes)} scene(s); "
             f"adding {float(Fraction(missing) / info.fps):.3f} s")
    gen = make_generator(generator, generator_options, executor)
    caps = gen.capabilities()
    width, height = display_size(info, rotation_of(source))  # the continuation is made as the video is seen
    brief = Brief(request=f"continue the video: {description}", duration=Fraction(missing) / info.fps,
                  aspect=closest_aspect(width, height), resolution=closest_resolution(width, height),
                  fps=info.fps, generator=generator)
    plan = build_plan(brief, caps)
    plan.width, plan.height = width, height
    plan.shots[0].continues = True
    plan.title = f"{source.stem} extended"
    run = RunDir.create(runs_dir or default_runs_dir(), brief)
    with run_lock(run.root), released(gen):  # one writer per run folder
        state = run.load_state()
        state.extend = ExtendTask(source=str(source.absolute()), source_frames=info.frames, target_frames=target)
        if output is not None:
            state.output = str(Path(output).absolute())
        run.save_state(state)  # before any money is spent: resume knows what this run is for
        director = Director(brief, run=run, generator=gen, llm=llm, bus=bus, continues_from=source, signer=signer)
        director.set_plan(plan)
        delivery = finish_extension_run(director, state.extend, output, scenes=scenes)
    bus.emit("extend", "done", f"{float(delivery.duration):.3f} s", elapsed_s=time.perf_counter() - t0)
    return delivery


def resume_extension(run: RunDir, *, output: Path | None = None, bus: EventBus | None = None,
                     llm: Any = None, generator_options: dict[str, Any] | None = None,
                     executor: str | None = None, signer: Any = None) -> Delivery:
    """Finish an interrupted `extend`: the accepted continuation clips are reused, and what is delivered
    and verified is the whole video (original + continuation) at the recorded target length."""
    from ..errors import InputFileError
    from ..media import probe

    state = run.load_state()
    task = state.extend
    assert task is not None
    source = Path(task.source)
    if not source.is_file():
        raise InputFileError(f"run {run.id} extends {source}, which is gone; it is needed to finish the run")
    info = probe(source)
    if info.frames != task.source_frames:
        raise InputFileError(f"{source} changed since run {run.id} began ({info.frames} frames, "
                             f"was {task.source_frames}); extend it again")
    brief = run.load_brief()
    out = output if output is not None else (Path(state.output) if state.output else None)
    with released(make_generator(brief.generator, generator_options, executor)) as gen:
        director = Director(brief, run=run, llm=llm, bus=bus or EventBus(), generator=gen, continues_from=source,
                            signer=signer)
        return finish_extension_run(director, task, out)


def finish_extension_run(director: Director, task: ExtendTask, output: Path | None, *,
                         scenes: list[Fraction] | None = None) -> Delivery:
    """Generate (reusing accepted clips), join onto the original and verify the whole target."""
    from ..media import VideoSpec, concat, conform, probe

    bus, run = director.bus, director.run
    source = Path(task.source)
    info = probe(source)
    plan = director.plan
    assert plan is not None
    director.generate_all()
    continuation = director.cut()
    rotation = rotation_of(source)
    width, height = display_size(info, rotation)
    spec = VideoSpec(width=width, height=height, fps=info.fps)
    joined = run.root / "extended.mp4"
    if spec.matches(info) and info.video_start == 0 and not rotation:
        # Same codec and size: keep every packet of the original, even when its encoder settings differ.
        join_keeping_first(source, continuation, joined, spec)
    else:
        why = ", ".join(spec.mismatches(info)) or (f"rotated {rotation}°" if rotation else "timestamps")
        bus.emit("extend", "warning", f"{source.name} does not match the cut's encoding ({why}); "
                 "re-encoding it once, upright")
        original = run.clips_dir / "original-conformed.mp4"
        conform(source, original, spec)
        concat([original, continuation], joined, spec)
    continuation.unlink(missing_ok=True)
    # the delivered video covers the original too: verify against the full target
    director.plan = plan.model_copy(update={"target_frames": task.target_frames})
    if scenes is not None:
        director.plan.notes.append(f"extends {source} ({info.frames} frames) by {task.target_frames - info.frames} "
                                   "frames; scenes at " + ", ".join(f"{float(t):.2f}s" for t in scenes))
    return _finish_extension(director, joined, output, task.target_frames, info)


def reorder_depth(path: Path) -> int:
    """How many frames the decoder holds back for B-frame reordering (ffprobe's has_b_frames)."""
    import json
    import subprocess

    from ..media.ffmpeg import ffprobe_exe

    exe = ffprobe_exe()
    if exe is None:
        import av

        with av.open(str(path)) as c:
            return 2 if c.streams.video[0].codec_context.has_b_frames else 0
    out = subprocess.run([exe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=has_b_frames",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    streams = json.loads(out).get("streams") or [{}]
    return int(streams[0].get("has_b_frames", 0))


def join_keeping_first(first: Path, second: Path, dst: Path, spec) -> Path:
    """Append `second` to `first` without re-encoding either video stream.

    An MP4 track holds one SPS/PPS, so clips from different encoders cannot simply be stream-copied
    together. Rewritten as Annex B (parameter sets in-band before each keyframe) inside MPEG-TS, the two
    streams concatenate as they are and decoders pick up the new parameters where the second begins.
    The audio is rebuilt to exactly the frames' length, as `media.concat` does."""
    import tempfile

    from ..media import probe
    from ..media.encode import aac_args, h264_args, mp4_args

    a, b = probe(first), probe(second)
    samples = [spec.samples(a.frames), spec.samples(b.frames)]
    depth1, depth2 = reorder_depth(first), reorder_depth(second)
    with tempfile.TemporaryDirectory(prefix=".rw-join-", dir=dst.parent) as tmp:
        if depth2 != depth1:
            # A decoder whose reorder depth grows mid-stream mangles the frames before the join; our own
            # continuation is re-encoded with the original's B-frame depth instead (never the original).
            matched = Path(tmp) / "second.mp4"
            run_ffmpeg(["-i", str(second), "-map", "0:v:0", "-map", "0:a?",
                        *h264_args(preset=spec.preset, crf=spec.crf, bframes=depth1, pix_fmt=spec.pix_fmt),
                        "-c:a", "copy", str(matched)])
            second = matched
        parts = []
        for n, src in enumerate((first, second)):
            ts = Path(tmp) / f"{n}.ts"
            run_ffmpeg(["-i", str(src), "-map", "0:v:0", "-c", "copy", "-bsf:v", "h264_mp4toannexb",
                        "-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts", str(ts)])
            parts.append(ts)
        listing = Path(tmp) / "list.txt"
        listing.write_text("".join(f"file '{p.resolve().as_posix()}'\n" for p in parts))
        audio = Path(tmp) / "audio.m4a"
        chains = []
        for n, (src, count) in enumerate(zip((first, second), samples)):
            has = (a if n == 0 else b).has_audio
            chains.append(f"[{n}:a:0]aresample={spec.sample_rate},aformat=channel_layouts=stereo,apad,atrim=end_sample={count}[a{n}]"
                          if has else f"anullsrc=r={spec.sample_rate}:cl=stereo,atrim=end_sample={count}[a{n}]")
        graph = ";".join(chains) + ";[a0][a1]concat=n=2:v=0:a=1[aout]"
        run_ffmpeg(["-i", str(first), "-i", str(second), "-filter_complex", graph, "-map", "[aout]",
                    *aac_args(bitrate=spec.audio_bitrate), str(audio)])
        tmp_out = Path(tmp) / "joined.mp4"
        run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio), "-map", "0:v", "-map", "1:a",
                    "-c", "copy", *mp4_args(), str(tmp_out)])
        tmp_out.replace(dst)
    return dst


def _finish_extension(director: Director, joined: Path, output: Path | None, target: int, info) -> Delivery:
    from ..critique.technical import check_final
    from ..director import deliver_copy
    from ..errors import ReelwrightError
    from ..provenance.steps import seal

    verdict = check_final(joined, target, info.fps)
    if not verdict.passed:
        raise ReelwrightError(f"the extended video failed verification: {'; '.join(verdict.reasons)}")
    entry = {"kind": "extend", "source": str(director.continues_from), "source_frames": info.frames,
             "target_frames": target}
    seal(director.production, joined, history=[entry])  # signed (when configured) before the final rename
    joined.replace(director.run.final_path)
    out = deliver_copy(director.run.final_path, output) if output else director.run.final_path
    state = director.run.load_state()
    state.status, state.output = "done", str(out)
    if entry not in state.history:  # a resume that finishes again records the extension once
        state.history.append(entry)
    director.run.save_state(state)
    director.write_report(status="done", output=str(out), final_checks=verdict.model_dump(),
                           extended_from=str(director.continues_from))
    assert director.plan is not None
    return Delivery(out, director.run, director.plan, Fraction(target) / info.fps, director.run.load_report())
