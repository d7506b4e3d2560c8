"""Applies edit operations to a finished run: deterministic tools where they suffice, regeneration of
only the shots whose pixels must change; every other accepted clip is reused."""

from __future__ import annotations

import re
import shutil
import os
import time
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..director import Director
from ..media.util import copy_atomic
from ..errors import BriefError, InputFileError
from ..events import EventBus
from ..executors import make_generator, released
from ..plan import Overlay, Plan, Shot
from ..runs.store import RunDir
from ..timing import Frac, seconds_to_frames
from .parse import EditOp, parse_edit


class EditOutcome(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    request: str
    ops: list[EditOp]
    tools: list[str]  # the deterministic tools used, in order
    regenerated: list[str]  # shot ids generated anew
    reused: list[str]  # shot ids whose accepted clips were reused
    output: Path
    duration: Frac
    generated_seconds: float = 0.0
    version: int = 1
    notes: list[str] = Field(default_factory=list)


def edit_run(ref: str | Path, request: str, *, runs_dir: Path | None = None, output: Path | None = None,
             bus: EventBus | None = None, llm: Any = None, generator_options: dict[str, Any] | None = None,
             executor: str | None = None, sign_cert: Path | str | None = None,
             sign_key: Path | str | None = None) -> EditOutcome:
    """Edit a reelwright run by request. A plain video file (no run) gets the deterministic edits only.
    `executor="ray"`: the shots it regenerates are made on the Ray cluster. With `sign_cert`/`sign_key` the
    edited video gets a signed C2PA manifest stating the edit."""
    from ..config import default_runs_dir
    from ..provenance.c2pa_io import signing_identity
    from ..runs.lock import run_lock

    signer = signing_identity(sign_cert, sign_key)  # a bad certificate or key stops here, before any work
    path = Path(ref)
    if path.is_file():
        return edit_video_file(path, request, output=output, bus=bus, signer=signer)
    run = RunDir.open(ref, runs_dir or default_runs_dir())
    with run_lock(run.root):  # one writer per run folder: a second edit or a resume is refused, not raced
        return _edit_locked(run, request, output=output, bus=bus, llm=llm, generator_options=generator_options,
                            signer=signer, executor=executor)


def _edit_locked(run: RunDir, request: str, *, output: Path | None, bus: EventBus | None, llm: Any,
                 generator_options: dict[str, Any] | None, signer: Any, executor: str | None) -> EditOutcome:
    from ..provenance.steps import seal
    from ..runs import transaction
    from ..runs.crash import clean_stale

    clean_stale(run.root)
    finished = transaction.recover(run)  # an edit a killed process committed is rolled forward first
    if finished is not None and finished.request == request:
        return _outcome_of(run, finished, output)  # the same edit again: it is done, do not apply it twice
    plan = run.load_plan()
    if plan is None or not run.final_path.is_file():
        raise InputFileError(f"run {run.id} has no finished video to edit; finish it with `reelwright resume {run.id}`")
    ops = _ops_for(request, llm)
    bus = bus or EventBus()
    brief = run.load_brief()
    from ..sound.after_cut import deliver_with_sound, load_options, sound_step

    notes: list[str] = _damage_notes(run.final_path, bus, what=f"run {run.id}'s final.mp4",
                                     consequence="the edit is cut again from the run's clips")
    # the run's own sound settings: lines follow their shots, unchanged lines are not synthesized again
    generator = make_generator(brief.generator, generator_options, executor)
    with released(generator):
        director = Director(brief, run=run, bus=bus, llm=llm, generator=generator,
                            after_cut=[sound_step(load_options(run.root))], signer=signer)
        director.production.staged = True  # state.json switches with plan.json and final.mp4, at the commit
        new_plan = plan.model_copy(deep=True)
        tools: list[str] = []
        extend_to: Fraction | None = None
        for op in ops:
            if op.kind == "extend_to":
                extend_to = op.duration
                continue
            tools.extend(apply_op(new_plan, op, director=director, notes=notes))
        if extend_to is not None:
            tools.append("plan_continuation")
            _extend_plan(new_plan, extend_to, director)
        new_plan.relayout()
        new_plan.target_frames = new_plan.total_frames
        bus.emit("edit", "start", f"{request!r}: " + ", ".join(f"{o.kind}({o.route})" for o in ops))
        t0 = time.perf_counter()
        director.set_plan(new_plan, save=False)  # plan.json switches only when the edit commits
        before = {s.id: director.accepted_clip(s) is not None for s in new_plan.shots}
        needed = [s.id for s in new_plan.shots if director.accepted_clip(s) is None]
        outcomes = director.generate_all(needed) if needed else []
        regenerated = [o.shot_id for o in outcomes if not o.reused]
        generated_seconds = sum(float(director.gen_duration(new_plan.shot(sid))) for sid in regenerated)
        version = len(run.load_state().history) + 1
        cut = director.cut()
        verdict = _verify(director, cut)
        entry = {"id": uuid.uuid4().hex, "kind": "edit", "request": request, "ops": [o.model_dump(mode="json") for o in ops],
                 "tools": tools, "regenerated": regenerated, "reused": [sid for sid, ok in before.items()
                                                                        if ok and sid not in regenerated],
                 "generated_seconds": generated_seconds, "notes": notes, "at": time.time(),
                 "previous": f"final.v{version}.mp4"}
        seal(director.production, cut, history=[entry])  # the manifest states this edit: signed before the commit
        cut.replace(transaction.next_final_path(run))
        pending = transaction.PendingEdit(request=request, version=version, plan=new_plan.model_dump(mode="json"),
                                          history=entry, cut_clips=dict(director.production.cut_used),
                                          output=str(Path(output).absolute()) if output else None)
        transaction.commit(run, pending)
        director.production.staged = False
        director.production.state = run.load_state()
        report = director.write_report(status="done", output=str(output or run.final_path),
                                       final_checks=verdict.model_dump())
        from ..director import Delivery

        deliver_with_sound(Delivery(Path(output) if output else run.final_path, run, new_plan, new_plan.duration, report))
        bus.emit("edit", "done", f"tools: {', '.join(tools) or 'none'}; regenerated: {', '.join(regenerated) or 'none'}",
                 elapsed_s=time.perf_counter() - t0)
        return _outcome_of(run, pending, output)


def _verify(director: Director, cut: Path):
    from ..critique.technical import check_final
    from ..errors import ReelwrightError

    plan = director.plan
    assert plan is not None
    verdict = check_final(cut, plan.target_frames, plan.fps)
    if not verdict.passed:
        cut.unlink(missing_ok=True)
        raise ReelwrightError(f"the edited cut failed verification: {'; '.join(verdict.reasons)}")
    return verdict


def _outcome_of(run: RunDir, pending: Any, output: Path | None) -> EditOutcome:
    entry = pending.history
    plan = Plan.model_validate(pending.plan)
    return EditOutcome(request=pending.request, ops=[EditOp.model_validate(o) for o in entry.get("ops", [])],
                       tools=entry.get("tools", []), regenerated=entry.get("regenerated", []),
                       reused=entry.get("reused", []), output=Path(output) if output else run.final_path,
                       duration=plan.duration, generated_seconds=entry.get("generated_seconds", 0.0),
                       version=pending.version + 1, notes=entry.get("notes", []))


def _ops_for(request: str, llm: Any) -> list[EditOp]:
    try:
        return parse_edit(request)
    except BriefError:
        if llm is None:
            raise
    from .llm_edit import edit_ops_with_llm

    return edit_ops_with_llm(request, llm)


def _shot_at(plan: Plan, number: int | None) -> Shot:
    if number is None:
        raise BriefError("say which shot, e.g. 'shot 2' or 'the last shot'")
    index = len(plan.shots) - 1 if number == -1 else number - 1
    if not 0 <= index < len(plan.shots):
        raise BriefError(f"there is no shot {number}: the video has {len(plan.shots)} shots")
    return plan.shots[index]


def apply_op(plan: Plan, op: EditOp, *, director: Director, notes: list[str]) -> list[str]:
    """Change the plan for one operation; return the tools it will use. Regeneration happens because a
    changed prompt changes a shot's fingerprint, so only the touched shots are generated again."""
    fps = plan.fps
    if op.kind == "overlay":
        duration = op.duration or Fraction(3)
        start = plan.duration - duration if op.start is not None and op.start < 0 else (op.start or Fraction(0))
        if start >= plan.duration:
            raise BriefError(f"{float(start):g} s is past the end of the video ({float(plan.duration):.3f} s)")
        duration = min(duration, plan.duration - start)
        overlay = Overlay(text=op.text, start=start, duration=duration, position=op.position)  # type: ignore[arg-type]
        if overlay not in plan.overlays:  # the same text at the same time twice is one overlay (re-run edits)
            plan.overlays.append(overlay)
        return ["overlay_text"]
    if op.kind == "cut_shot":
        shot = _shot_at(plan, op.shot)
        if len(plan.shots) == 1:
            raise BriefError("cannot cut the only shot")
        plan.shots.remove(shot)
        plan.relayout()
        _clamp_overlays(plan, notes)
        return ["cut_shot"]
    if op.kind == "speed":
        factor = op.factor or Fraction(1)
        targets = [_shot_at(plan, op.shot)] if op.shot is not None else list(plan.shots)
        for shot in targets:
            source = shot.source_frames
            shot.speed = shot.speed * factor
            shot.frames = max(1, int(Fraction(source) / shot.speed + Fraction(1, 2)))
        plan.relayout()
        return ["change_speed"]
    if op.kind == "aspect":
        plan.output_aspect = None if op.aspect == plan.aspect else op.aspect
        return ["crop_to_aspect"]
    if op.kind == "trim_total":
        target = seconds_to_frames(op.duration or Fraction(0), fps)
        if target <= 0:
            raise BriefError("cannot trim to zero seconds")
        if target > plan.total_frames:
            raise BriefError(f"the video is {float(plan.duration):.3f} s; to make it longer say 'make it {float(op.duration):g} seconds'")
        kept, total = [], 0
        for shot in plan.shots:
            if total >= target:
                break
            take = min(shot.frames, target - total)
            if take < shot.frames:
                shot.frames = take  # the part takes fewer frames of the same clip
            kept.append(shot)
            total += take
        plan.shots = kept
        plan.relayout()
        _clamp_overlays(plan, notes)
        return ["trim"]
    if op.kind in ("fade_out", "fade_in"):
        frames = seconds_to_frames(op.duration or Fraction(1), fps)
        if op.kind == "fade_out":
            shot = plan.shots[-1]
            shot.fade_out = min(frames, shot.frames)
        else:
            shot = plan.shots[0]
            shot.fade_in = min(frames, shot.frames)
        return ["fade"]
    if op.kind == "restyle_shot":
        shot = _shot_at(plan, op.shot)
        shot.prompt, shot.beat = restyle(shot, op.text, plan)
        return ["regenerate_clip"]
    if op.kind == "replace_shot":
        shot = _shot_at(plan, op.shot)
        shot.beat = op.text
        shot.prompt = dense_prompt(plan, shot, op.text, director)
        shot.continues = False
        return ["regenerate_clip"]
    raise BriefError(f"edit {op.kind} is not supported here")


def _clamp_overlays(plan: Plan, notes: list[str]) -> None:
    kept = []
    for o in plan.overlays:
        if o.start >= plan.duration:
            notes.append(f"overlay {o.text!r} at {float(o.start):g} s was past the new end and was dropped")
            continue
        if o.end > plan.duration:
            o.duration = plan.duration - o.start
        kept.append(o)
    plan.overlays = kept


_RESTYLE = re.compile(r"\b(?:make|turn|change)\s+(?:the\s+)?(?P<old>[\w' -]+?)\s+(?:in|of)\s+(?:shot|clip|scene)\s*\S+\s+(?:into\s+|to\s+)?(?P<new>.+)$", re.IGNORECASE)


def restyle(shot: Shot, instruction: str, plan: Plan) -> tuple[str, str]:
    """'make the dog in shot 3 a golden retriever' → swap 'dog' for 'golden retriever' in the shot's prompt
    and beat; anything else is appended to the prompt as an explicit change."""
    m = _RESTYLE.search(instruction.strip().rstrip("."))
    if m:
        old = m.group("old").strip()
        new = re.sub(r"^(a|an|the)\s+", "", m.group("new").strip(), flags=re.IGNORECASE)
        pattern = re.compile(rf"\b{re.escape(old)}\b", re.IGNORECASE)
        if pattern.search(shot.prompt):
            return pattern.sub(new, shot.prompt), pattern.sub(new, shot.beat)
        return f"{shot.prompt} The {old} is {new}.", shot.beat
    return f"{shot.prompt} Change: {instruction}.", shot.beat


def dense_prompt(plan: Plan, shot: Shot, beat: str, director: Director) -> str:
    """A dense prompt for a new beat, in the target generator's style, carrying the plan's subject and setting."""
    try:
        from ..planning.styles import style_for_generator, write_prompt

        style = style_for_generator(plan.generator, director.generator.model)
        prompt, _neg = write_prompt(style, subject=plan.subject or "the subject", action=beat,
                                    setting=shot.setting or plan.setting, camera=shot.camera, lighting="",
                                    mood="", style_words=plan.style, references=[], audio=director.caps.audio)
        return prompt
    except (ImportError, TypeError):
        return f"{beat}. {plan.subject}, {shot.setting or plan.setting}. Camera: {shot.camera}. {plan.style}".strip()


def _extend_plan(plan: Plan, target_seconds: Fraction, director: Director) -> None:
    """Append continuation shots so the plan reaches the target length exactly."""
    from ..planning.durations import allocate_durations

    target = seconds_to_frames(target_seconds, plan.fps)
    missing = target - plan.total_frames
    if missing <= 0:
        raise BriefError(f"the video is already {float(plan.duration):.3f} s; use 'trim to {float(target_seconds):g} seconds' to shorten it")
    allocs = allocate_durations(missing, plan.fps, director.caps.allowed_durations(), 1)
    last = plan.shots[-1]
    n = len(plan.shots)
    for i, a in enumerate(allocs):
        beat = f"{plan.subject or 'the story'} carries on" if i else f"continuing: {last.beat}"
        shot = Shot(id=f"s{n + i + 1:02d}", beat=beat, frames=a.frames, gen_duration=a.gen_duration,
                    entities=list(last.entities), roles=dict(last.roles), camera=last.camera, setting=last.setting,
                    seed=last.seed + 1 + i, continues=(i == 0), purpose="continuation")
        shot.prompt = dense_prompt(plan, shot, beat, director)
        plan.shots.append(shot)


def edit_video_file(path: Path, request: str, *, output: Path | None, bus: EventBus | None,
                    signer: Any = None) -> EditOutcome:
    """Deterministic edits on any video file (no plan, so no shot-level edits or regeneration)."""
    from ..media import VideoSpec, change_speed, crop_to_aspect, fade, overlay_text, probe, trim
    from ..media.smart_edit import smart_overlay, smart_trim

    ops = parse_edit(request)
    bus = bus or EventBus()
    if any(op.kind == "extend_to" for op in ops):
        if len(ops) > 1:
            raise BriefError("extend the video in a request of its own, then edit the result")
        from .extend import extend_video

        out = Path(output) if output else path.with_name(f"{path.stem}-extended{path.suffix}")
        delivery = extend_video(path, ops[0].duration or Fraction(60), output=out, bus=bus, signer=signer)
        return EditOutcome(request=request, ops=ops, tools=["extend"], regenerated=[s.id for s in delivery.plan.shots],
                           reused=[], output=delivery.output, duration=delivery.duration)
    from ..runs.crash import is_stale

    info = probe(path)
    notes = _damage_notes(path, bus)
    # An odd-sized input is edited at the nearest even size below (H.264 4:2:0 needs even sides).
    spec = VideoSpec(width=max(2, info.width // 2 * 2), height=max(2, info.height // 2 * 2), fps=info.fps)
    out = Path(output) if output else path.with_name(f"{path.stem}-edited{path.suffix}")
    if out.resolve() == path.resolve():
        raise InputFileError("the output would overwrite the input; give another -o")
    work = path
    tools: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in out.parent.glob(f".{out.stem}.edit-*"):  # work folders of killed edits (their pid is gone)
        if old.is_dir() and is_stale(old):
            shutil.rmtree(old, ignore_errors=True)
    # unique per writer: two edits to one output never share a work folder
    tmpdir = out.parent / f".{out.stem}.edit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmpdir.mkdir(parents=True, exist_ok=True)
    try:
        for n, op in enumerate(ops):
            dst = tmpdir / f"{n}.mp4"
            duration = probe(work).video_duration
            if op.kind == "overlay":
                d = op.duration or Fraction(3)
                start = duration - d if op.start is not None and op.start < 0 else (op.start or Fraction(0))
                if start >= duration:
                    raise BriefError(f"{float(start):g} s is past the end of the video ({float(duration):.3f} s)")
                ov = Overlay(text=op.text, start=start, duration=min(d, duration - start),
                             position=op.position)  # type: ignore[arg-type]
                tools.append(_gop_smart(lambda: smart_overlay(work, dst, [ov]), "overlay_text",
                                        lambda: overlay_text(work, dst, [ov], spec), bus))
            elif op.kind == "trim_total":
                frames = seconds_to_frames(op.duration or Fraction(0), spec.fps)
                if not 0 < frames <= probe(work).frames:
                    raise BriefError(f"cannot trim a {float(duration):.3f} s video to {float(op.duration or 0):g} s")
                tools.append(_gop_smart(lambda: smart_trim(work, dst, frames), "trim",
                                        lambda: trim(work, dst, start_frame=0, frames=frames, spec=spec), bus))
            elif op.kind == "speed" and op.shot is None:
                change_speed(work, dst, op.factor or Fraction(1), spec)
                tools.append("change_speed")
            elif op.kind == "aspect":
                from ..brief import ASPECTS

                aw, ah = ASPECTS[op.aspect or "16:9"]
                w, h = spec.width, spec.height
                if w * ah > h * aw:
                    w = int(h * aw / ah) // 2 * 2
                else:
                    h = int(w * ah / aw) // 2 * 2
                spec = VideoSpec(width=w, height=h, fps=spec.fps)
                crop_to_aspect(work, dst, spec)
                tools.append("crop_to_aspect")
            elif op.kind in ("fade_out", "fade_in"):
                frames = seconds_to_frames(op.duration or Fraction(1), spec.fps)
                fade(work, dst, spec, **({"fade_out_frames": frames} if op.kind == "fade_out" else {"fade_in_frames": frames}))
                tools.append("fade")
            else:
                raise BriefError(f"{op.kind.replace('_', ' ')} needs a reelwright run (this video has no plan); "
                                 "use `reelwright extend` to lengthen a video")
            work = dst
            bus.emit("edit", "progress", tools[-1], progress=(n + 1) / len(ops))
        if signer is not None:  # the person's own footage, edited: the manifest claims no generated pixels
            from ..provenance import facts_for_file_edit, sign_video

            signed = tmpdir / "signed.mp4"
            sign_video(work, signed, facts_for_file_edit(out.name, [f"edit: {request[:200]}"]), signer)
            work = signed
        copy_atomic(work, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    final = probe(out)
    bus.emit("edit", "done", f"tools: {', '.join(tools)}")
    return EditOutcome(request=request, ops=ops, tools=tools, regenerated=[], reused=[], output=out,
                       duration=final.video_duration, notes=notes)


def _gop_smart(smart, name: str, whole, bus: EventBus) -> str:
    """Run the GOP-smart form of an edit (only the touched GOPs re-encoded, the rest copied); a file it
    cannot join safely is re-encoded whole, as before. Returns the tool name used."""
    from ..media.smart_edit import SmartRenderUnsupported

    try:
        ka, kb = smart()
    except SmartRenderUnsupported as exc:
        bus.emit("edit", "info", f"{name}: re-encoding the whole video ({exc})")
        whole()
        return name
    bus.emit("edit", "info", f"{name}: re-encoded frames {ka}..{kb}, copied the rest",
             data={"reencoded_frames": [ka, kb]})
    return name


def _damage_notes(path: Path, bus: EventBus, *, what: str | None = None,
                  consequence: str = "the edit keeps what decodes") -> list[str]:
    """Decode the whole input once: frames that do not decode would be edited silently otherwise."""
    from ..critique.technical import decode_errors

    errors = decode_errors(path)
    if not errors:
        return []
    warning = f"{what or path.name} has frames that do not decode ({errors[0]}); {consequence}"
    bus.emit("edit", "warning", warning)
    return [warning]
