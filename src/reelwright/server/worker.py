"""One job, run in its own process: `python -m reelwright.server.worker DB JOB_ID`.

A process per job keeps rendering off the server's interpreter (the API stays responsive) and makes cancel
immediate (the queue signals the process group). Every job works in a run folder, so a job that was interrupted
is finished by running it again: accepted clips are reused, never regenerated."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path

from ..errors import ReelwrightError, UserError
from ..executors import check_executor
from .db import Database, Job
from .ray_jobs import placement


def run_job(db: Database, job: Job) -> Path:
    """Run `job` to its end; return the finished video's path."""
    from .. import api
    from ..config import default_runs_dir
    from ..runs.lock import run_lock

    spec = job.spec
    options = spec.get("generator_options") or {}
    # The server's executor (it set REELWRIGHT_EXECUTOR, and RAY_ADDRESS for ray); recorded as the one that ran it.
    executor = check_executor(os.environ.get("REELWRIGHT_EXECUTOR"))
    spec = {k: v for k, v in spec.items() if k != "ran_on"}  # a resumed job says where its last attempt ran
    db.update_job(job.id, spec={**spec, "executor": executor, **placement()})
    if job.kind == "make" or job.kind == "regenerate":
        run_dir = Path(job.run_dir or "")
        with run_lock(run_dir):  # the plan change and the resume are one writer's (the lock is re-entrant)
            if job.kind == "regenerate":
                _apply_regeneration(run_dir, spec)
            delivery = api.resume_run(run_dir, generator_options=options, llm_base_url=spec.get("llm_base_url"),
                                      executor=executor)
        return delivery.output
    if job.kind == "edit":
        from ..editing.apply import edit_run
        from ..llm.registry import get_llm

        run_dir = Path(job.run_dir or "")
        if spec.get("source_file"):
            return _edit_file(Path(spec["source_file"]), run_dir, spec["request"])
        run_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(run_dir):  # copying the run in and editing it are one writer's
            copy_run(Path(spec["source_run"]), run_dir)
            brief = json.loads((run_dir / "brief.json").read_text(encoding="utf-8"))
            llm = get_llm(brief.get("llm") or "builtin", base_url=spec.get("llm_base_url"))
            outcome = edit_run(run_dir, spec["request"], llm=llm, generator_options=options, executor=executor)
        return Path(outcome.output)
    if job.kind == "extend":
        from ..editing.extend import extend_video

        runs_dir = Path(spec["runs_dir"]) if spec.get("runs_dir") else default_runs_dir()
        before = set(runs_dir.iterdir()) if runs_dir.is_dir() else set()
        # The extension makes its own run folder; the bus records it as soon as it exists so events can be followed.
        delivery = extend_video(Path(spec["source"]), Fraction(spec["to_seconds"]), request=spec.get("request", ""),
                                generator=spec.get("generator", "animatic"), runs_dir=runs_dir,
                                generator_options=options, executor=executor,
                                bus=_recording_bus(db, job.id, runs_dir, before))
        db.update_job(job.id, run_dir=str(delivery.run.root))
        return delivery.output
    raise UserError(f"unknown job kind {job.kind!r}")


def _edit_file(source: Path, folder: Path, request: str) -> Path:
    """Deterministic edits of an uploaded video (it has no plan to regenerate from)."""
    from ..editing.apply import edit_run
    from ..events import EventBus, TraceWriter

    folder.mkdir(parents=True, exist_ok=True)
    outcome = edit_run(source, request, output=folder / "final.mp4", bus=EventBus([TraceWriter(folder / "trace.jsonl")]))
    return Path(outcome.output)


def _recording_bus(db: Database, job_id: str, runs_dir: Path, before: set[Path]):
    """A bus that notes the new run folder in the job once the extension has made it."""
    from ..events import EventBus

    noted = {"done": False}

    def sink(_event) -> None:
        if noted["done"] or not runs_dir.is_dir():
            return
        new = [p for p in runs_dir.iterdir() if p not in before and (p / "brief.json").is_file()]
        if new:
            noted["done"] = True
            db.update_job(job_id, run_dir=str(max(new, key=lambda p: p.stat().st_mtime)))

    return EventBus([sink])


def _apply_regeneration(run_dir: Path, spec: dict) -> None:
    """Set the shot's prompt and seed as the job asked. Absolute values, so running it again changes nothing."""
    from ..plan import Plan
    from ..runs.store import RunDir

    run = RunDir(run_dir)
    plan = run.load_plan()
    if plan is None:
        raise UserError(f"run {run.id} has no plan to regenerate a shot of")
    shot = plan.shot(spec["shot_id"])
    if spec.get("prompt"):
        shot.prompt = spec["prompt"]
    shot.seed = int(spec["seed"])
    version = spec.get("version")
    if version and run.final_path.is_file() and not (run.root / f"final.v{version}.mp4").exists():
        shutil.copyfile(run.final_path, run.root / f"final.v{version}.mp4")
    run.save_plan(Plan.model_validate(plan.model_dump()))


def copy_run(source: Path, dst: Path) -> None:
    """Make `dst` a copy of the finished run `source` to edit, keeping what an earlier attempt at the same edit
    already accepted. Clips are hard links where the filesystem allows (they never change once accepted)."""
    from ..runs.store import RunDir

    partial = RunDir(dst).load_state() if (dst / "state.json").is_file() else None
    (dst / "clips").mkdir(parents=True, exist_ok=True)
    for clip in (source / "clips").glob("*"):
        target = dst / "clips" / clip.name
        if not target.exists():
            try:
                os.link(clip, target)
            except OSError:
                shutil.copy2(clip, target)
    for name in ("brief.json", "plan.json", "final.mp4", "report.json", "memory.json"):
        if (source / name).is_file():
            shutil.copyfile(source / name, dst / name)
    state = RunDir(source).load_state()
    if partial is not None:
        state.accepted.update(partial.accepted)
    RunDir(dst).save_state(state)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m reelwright.server.worker DB JOB_ID", file=sys.stderr)
        return 2

    def interrupted(signum, frame):  # cancel or shutdown: stop at once; accepted clips stay in the run
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    db = Database(Path(args[0]))
    job = db.get_job(args[1])
    if job is None:
        print(f"no job {args[1]}", file=sys.stderr)
        return 2
    try:
        output = run_job(db, job)
    except KeyboardInterrupt:
        return 130
    except UserError as exc:
        db.update_job(job.id, status="failed", error=_first_line(exc), error_code="invalid_request",
                      completed_at=time.time())
        return 2
    except ReelwrightError as exc:
        db.update_job(job.id, status="failed", error=_first_line(exc), error_code="generation_failed",
                      completed_at=time.time())
        return 1
    except Exception as exc:  # an internal error still ends the job with one line, never a traceback
        db.update_job(job.id, status="failed", error=f"internal error: {type(exc).__name__}: {_first_line(exc)}",
                      error_code="internal_error", completed_at=time.time())
        raise
    db.update_job(job.id, status="completed", progress=1.0, completed_at=time.time(),
                  spec={**db.get_job(job.id).spec, "output": str(output)})  # type: ignore[union-attr]
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
