"""The Python API: `plan_video`, `make_video`, `resume_run` — what the CLI calls, usable from code."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

from .brief import Brief, Reference, check_reference_files
from .director import Delivery, Director, Limits
from .errors import BriefError, InputFileError, LimitExceeded
from .events import EventBus
from .executors import check_executor, released as _released, wrap_generator
from .generators.registry import get_generator
from .media.ffmpeg import ffmpeg_exe
from .plan import Plan
from .runs.lock import run_lock
from .runs.store import RunDir
from .sound.after_cut import deliver_with_sound, load_options, plan_with_sound, save_options, sound_step
from .sound.options import SoundOptions


def make_brief(request: str, *, duration: Any = None, aspect: str | None = None, mode: str | None = None,
               resolution: str | None = None, fps: Any = None, references: list[Reference | str] | None = None,
               generator: str = "animatic", llm: str = "builtin", budget_usd: float | None = None, seed: int = 0,
               allow_long: bool = False) -> Brief:
    """Build and validate a Brief from loose values (duration may be 60, "90s", "1:30", "a minute")."""
    from .brief import MODES

    if mode is not None and mode not in MODES:
        raise BriefError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    refs = [r if isinstance(r, Reference) else parse_ref(r) for r in (references or [])]
    fields: dict[str, Any] = dict(request=request, aspect=aspect, mode=mode, references=refs, generator=generator,
                                  llm=llm, budget_usd=budget_usd, seed=seed, allow_long=allow_long)
    if resolution:
        fields["resolution"] = resolution
    if fps is not None:
        fields["fps"] = fps
    if duration is not None:
        fields["duration"] = parse_duration_value(duration)
    from pydantic import ValidationError

    try:
        brief = Brief(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        ctx_err = (err.get("ctx") or {}).get("error")
        field = ".".join(map(str, err["loc"]))
        text = str(ctx_err) if ctx_err else err["msg"]
        raise BriefError(text if field and field in text else f"{field}: {text}") from None
    if brief.budget_usd is not None and brief.budget_usd < 0:
        raise BriefError(f"budget must not be negative, got {brief.budget_usd}")
    if brief.duration is not None:
        Limits.check_length(brief.duration, allow_long)
    if brief.references:
        check_reference_files(brief.references)
    return brief


def parse_ref(text: str) -> Reference:
    """'Biscuit=dog.jpg' -> named reference; 'dog.jpg' -> unnamed."""
    name, sep, path = text.partition("=")
    if sep and name and not Path(text).exists():
        return Reference(name=name.strip(), path=Path(path.strip()).expanduser())
    return Reference(path=Path(text).expanduser())


def parse_duration_value(value: Any) -> Fraction:
    from .timing import bounded, show, to_fraction

    if isinstance(value, (int, float, Fraction)) and not isinstance(value, bool):
        try:
            d = to_fraction(value)
        except ValueError as exc:
            raise BriefError(f"cannot read duration {value!r}: {exc}") from None
    else:
        text = str(value).strip()
        try:
            d = Fraction(text)
        except (ValueError, ZeroDivisionError):
            from .planning.parse import parse_request

            parsed = parse_request(text).duration
            if parsed is None:
                raise BriefError(f"cannot read duration {text!r}: use seconds (60), 1:30, 90s or '2 minutes'") from None
            d = parsed
    try:
        bounded(d)
    except ValueError:
        raise BriefError(f"duration {show(d)} s is out of range") from None
    if d <= 0:
        raise BriefError(f"duration must be positive, got {show(d)} s")
    return d


def check_output_path(output: Path) -> Path:
    """Fail before any work if the output cannot be written."""
    output = Path(output).expanduser()
    if output.is_dir():
        raise InputFileError(f"output {output} is a folder; give a file name such as {output / 'video.mp4'}")
    if output.suffix.lower() not in (".mp4", ".mov", ".m4v"):
        raise InputFileError(f"output {output} must end in .mp4 (or .mov/.m4v)")
    parent = output.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise InputFileError(f"cannot write output {output}: {probe} is not a writable folder")
    if output.exists() and not os.access(output, os.W_OK):
        raise InputFileError(f"cannot write output {output}: file is read-only")
    return output


def plan_video(request: str | Brief, **kwargs: Any) -> Plan:
    """Plan without generating anything: the storyboard, its exact duration and its estimated cost."""
    brief = request if isinstance(request, Brief) else make_brief(request, **_brief_kwargs(kwargs))
    llm = _make_llm(brief, kwargs)
    generator = get_generator(brief.generator, **kwargs.get("generator_options", {}))
    caps = generator.capabilities()
    if llm is not None:
        from .planning.llm_planner import plan_with_llm

        plan = plan_with_llm(brief, caps, llm, fallback=kwargs.get("fallback"), bus=kwargs.get("bus"),
                             no_fallback=bool(kwargs.get("no_fallback")))
    else:
        from .planning.builtin import build_plan

        plan = build_plan(brief, caps)
    if kwargs.get("sound") is not None:  # the voice-over lines, effect cues and music belong to the plan
        from .sound import prepare

        plan = prepare(plan, kwargs["sound"], capabilities=caps, llm=llm)
    return plan


def make_video(request: str | Brief | None = None, *, output: Path | str | None = None, plan: Plan | Path | str | None = None,
               runs_dir: Path | str | None = None, bus: EventBus | None = None, agent: bool = False,
               limits: Limits | None = None, concurrency: int | None = None, **kwargs: Any) -> Delivery:
    """Make a finished, duration-exact video from a request (or from an edited plan)."""
    from .config import default_runs_dir

    loaded_plan: Plan | None = None
    if plan is not None:
        loaded_plan = plan if isinstance(plan, Plan) else Plan.load(plan)
        brief = loaded_plan.brief
        if request is not None and not isinstance(request, Brief) and request.strip():
            brief = brief.model_copy(update={"request": request})
    elif isinstance(request, Brief):
        brief = request
    elif request is None:
        raise BriefError("the request is empty: say what the video should show")
    else:
        brief = make_brief(request, **_brief_kwargs(kwargs))
    out = check_output_path(Path(output)) if output is not None else None
    if concurrency is not None and concurrency < 1:
        raise BriefError(f"concurrency must be at least 1, got {concurrency}")
    mark = _watermark(kwargs.get("watermark"))
    signer = _signer(kwargs)  # a bad certificate or key stops here, before anything is spent
    ffmpeg_exe()  # fail before planning when ffmpeg is missing
    bus = bus or EventBus()
    llm = _make_llm(brief, kwargs)
    judge = _make_judge(llm, kwargs)
    check_executor(kwargs.get("executor"))
    generator = _make_generator(brief, kwargs)
    run = RunDir.create(Path(runs_dir) if runs_dir else default_runs_dir(), brief)
    with run_lock(run.root):  # one writer per run folder, for the whole make
        sound = kwargs.get("sound") or SoundOptions()
        if out is not None:
            run.record_output(out)  # so `resume` delivers where this command would have
        director = Director(brief, run=run, generator=generator, llm=llm, bus=bus, limits=limits, judge=judge,
                            concurrency=concurrency,
                            fallback="none" if kwargs.get("no_fallback") else kwargs.get("fallback"),
                            after_cut=[sound_step(sound)], signer=signer, watermark=mark)
        save_options(run.root, sound)
        with _released(generator):
            if agent:  # the driver plans through the tools; the sound step still mixes, levels and captions the cut
                if loaded_plan is not None:
                    director.set_plan(loaded_plan)
                return deliver_with_sound(_drive_with_agent(director, llm, brief, out))
            try:  # the sound's half of planning (narration, cues, checks) comes before any clip is paid for
                plan_with_sound(director, sound, loaded_plan)
            except BaseException as exc:
                director.fail(exc)
                raise
            return deliver_with_sound(director.run_all(out))


def _drive_with_agent(director: Director, llm: Any, brief: Brief, out: Path | None) -> Delivery:
    """Let a driver make the video through the tools: the chat model, or the built-in policy without
    one. A model that gives up (no tool calls, a loop, no finish) hands over to the built-in policy
    with a warning; a harness limit or failed shots stop the run with their reason."""
    from .agent import builtin_policy, run_agent
    from .tools import Toolbox

    bus = director.bus
    toolbox = Toolbox(director, output=out)
    try:
        if llm is None:
            agent_report = builtin_policy(toolbox, brief, bus=bus)
        else:
            agent_report = run_agent(toolbox, llm, brief, limits=director.limits, bus=bus)
            if toolbox.delivery is None and agent_report.stopped_by == "model":
                warning = (f"the agent model gave up ({agent_report.stop_reason}); "
                           "the fixed policy finishes the video")
                bus.emit("agent", "warning", warning)
                director.report.warn(warning)
                toolbox.steps = 0  # a new driver gets its own steps; takes and spend carry over
                fallback = builtin_policy(toolbox, brief, bus=bus)
                director.report.add_section("agent_fallback", fallback.model_dump(mode="json"))
    except LimitExceeded as exc:
        director.fail(exc)
        raise
    summary = agent_report.model_dump(mode="json")
    director.report.add_section("agent", summary)
    if toolbox.delivery is None:
        reason = director.report.sections.get("agent_fallback", summary).get("stop_reason") or "no reason given"
        director.write_report(status="failed", error=reason)
        raise BriefError(f"the agent stopped without delivering a video: {reason}")
    toolbox.delivery.report = director.report.amend(director.production)
    return toolbox.delivery


def resume_run(ref: str | Path, *, runs_dir: Path | str | None = None, output: Path | str | None = None,
               bus: EventBus | None = None, **kwargs: Any) -> Delivery:
    """Finish an interrupted run, reusing every accepted clip."""
    from .config import default_runs_dir

    run = RunDir.open(ref, Path(runs_dir) if runs_dir else default_runs_dir())
    with run_lock(run.root):  # another resume, edit or studio worker on this run is refused, not raced
        return _resume_locked(run, output=output, bus=bus, kwargs=kwargs)


def _resume_locked(run: RunDir, *, output: Path | str | None, bus: EventBus | None, kwargs: dict[str, Any]) -> Delivery:
    from .runs import transaction
    from .runs.crash import clean_stale

    brief = run.load_brief()
    state = run.load_state()
    out = Path(output) if output else (Path(state.output) if state.output else None)
    if out is not None:
        check_output_path(out)
    signer = _signer(kwargs)  # a bad certificate or key stops here, before anything is spent
    bus = bus or EventBus()
    removed = clean_stale(run.root)  # temp files and work folders of the killed process
    if removed:
        bus.emit("run", "info", f"removed {len(removed)} stale temp file(s) left by the interrupted run")
    finished = transaction.recover(run)  # an edit a killed process committed: roll it forward, it is the run's last word
    if finished is not None:
        bus.emit("edit", "info", f"finished the edit {finished.request!r} an interrupted process had committed")
        return _delivered_edit(run, out)
    llm = _make_llm(brief, kwargs)
    if state.extend is not None:
        from .editing.extend import resume_extension

        bus.emit("plan", "info", f"resuming extension run {run.id}: {len(state.accepted)} clips already accepted")
        return resume_extension(run, output=out, bus=bus, llm=llm, generator_options=kwargs.get("generator_options"),
                                executor=kwargs.get("executor"), signer=signer)
    director = Director(brief, run=run, llm=llm, bus=bus, judge=_make_judge(llm, kwargs),
                        generator=_make_generator(brief, kwargs), after_cut=[sound_step(load_options(run.root))],
                        signer=signer)
    director.bus.emit("plan", "info", f"resuming run {run.id}: {len(state.accepted)} clips already accepted")
    with _released(director.generator):
        return deliver_with_sound(director.run_all(out))


def _delivered_edit(run: RunDir, out: Path | None) -> Delivery:
    """The run as a rolled-forward edit left it (its final is the edit's verified, signed cut), at `out`."""
    from .director.verify import deliver_copy

    plan = run.load_plan()
    assert plan is not None
    state = run.load_state()
    delivered = Path(state.output) if state.output else run.final_path
    if out is not None and Path(out).absolute() != delivered.absolute():
        delivered = deliver_copy(run.final_path, Path(out))
    return Delivery(delivered, run, plan, plan.duration, run.load_report())


def _make_generator(brief: Brief, kwargs: dict[str, Any]):
    """The brief's backend; with `executor="ray"`, a stand-in whose clips are made on the Ray cluster
    (`ray_workers`, `ray_address` or RAY_ADDRESS)."""
    generator = get_generator(brief.generator, **(kwargs.get("generator_options") or {}))
    return wrap_generator(generator, kwargs.get("executor"), workers=kwargs.get("ray_workers"),
                          address=kwargs.get("ray_address"))


def _brief_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    names = ("duration", "aspect", "mode", "resolution", "fps", "references", "generator", "llm", "budget_usd",
             "seed", "allow_long")
    return {k: kwargs[k] for k in names if k in kwargs and kwargs[k] is not None}


def _make_llm(brief: Brief, kwargs: dict[str, Any]):
    if not brief.llm or brief.llm == "builtin":
        return None
    from .llm.registry import get_llm

    return get_llm(brief.llm, base_url=kwargs.get("llm_base_url"))


def _make_judge(llm: Any, kwargs: dict[str, Any]):
    if llm is None or kwargs.get("judge") is False:
        return None
    if not getattr(llm, "supports_images", False):
        return None
    from .critique.judge import VisionJudge

    return VisionJudge(llm, threshold=kwargs.get("judge_threshold", 0.6))


def _watermark(value: Any):
    """A `Watermark`, or the `--watermark TEXT|IMAGE` string with optional position and opacity kwargs."""
    from .media.watermark import Watermark, parse_watermark

    if value is None or isinstance(value, Watermark):
        return value
    if isinstance(value, dict):
        return parse_watermark(str(value.get("text") or value.get("image")), position=value.get("position", "bottom-right"),
                               opacity=value.get("opacity", 0.6))
    return parse_watermark(str(value))


def _signer(kwargs: dict[str, Any]):
    """The C2PA signing identity from `sign_cert`/`sign_key` (paths), checked now; None when not configured."""
    from .provenance.c2pa_io import signing_identity

    return signing_identity(kwargs.get("sign_cert"), kwargs.get("sign_key"))
