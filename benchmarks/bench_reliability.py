"""Reliability under faults, and fuzzing: how a user's money and runs fare when the provider misbehaves.

Runs N small videos against a paid fake generator that fails 30% of its calls (provider 500s, finished
jobs whose download fails, moderation refusals, clips of the wrong length), each with a budget. A run that
stops is resumed (same fault rate) up to three times. Reports: runs completed or cleanly stopped (a stop
must leave a run that `resume` finishes), duplicate submissions (a shot submitted again while a finished
job of it was never fetched), overspend (spend over the budget) and spend mismatches (reported spend not
equal to what the fake billed); then fuzz cases through the CLI with their outcomes.

    .venv/bin/python benchmarks/bench_reliability.py [--runs 10] [--fault-rate 0.3] [--fuzz 150] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import string
import tempfile
import threading
import traceback
from collections import Counter
from pathlib import Path

from reelwright.api import make_brief, resume_run
from reelwright.director import Director
from reelwright.director.limits import Limits
from reelwright.errors import ExpiredResultError, GeneratorError, ModerationError, ReelwrightError
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.generators.base import ClipResult
from reelwright.media.ffmpeg import run_ffmpeg
from reelwright.runs.store import RunDir

FAULTS = ["server_error", "billed_lost", "moderated", "short_clip"]


class FaultyProvider(AnimaticGenerator):
    """Renders the asked clip (cached by shape) and bills price x seconds; `rate` of calls fail."""

    def __init__(self, rate: float, rng: random.Random, price: float, cache: dict):
        super().__init__()
        self.rate, self.rng, self.price, self.cache = rate, rng, price, cache
        self.billed = 0.0
        self.submissions = self.duplicates = self.faults = 0
        self.unfetched: dict[str, str] = {}
        self.lock = threading.Lock()

    def capabilities(self):
        return super().capabilities().model_copy(update={"price_per_second": self.price, "concurrency": 2})

    def generate(self, request, progress=None):
        fault = None
        with self.lock:
            if request.resume_job is not None:
                job = request.resume_job
                self.unfetched.pop(request.shot_id, None)
            else:
                fault = self.rng.choice(FAULTS) if self.rng.random() < self.rate else None
                if fault:
                    self.faults += 1
                if fault == "moderated":
                    raise ModerationError("the provider refused the prompt")
                if request.shot_id in self.unfetched:
                    self.duplicates += 1
                self.submissions += 1
                job = f"job{self.submissions}"
                if request.on_submitted:
                    request.on_submitted(job)
                if fault == "server_error":
                    raise GeneratorError("HTTP 500: the model crashed")
                cost = float(request.duration) * self.price
                self.billed += cost
                if fault == "billed_lost":
                    self.unfetched[request.shot_id] = job
                    err = ExpiredResultError("download was truncated")
                    err.job_id, err.billed_usd = job, cost
                    raise err
        short = fault == "short_clip"
        key = (request.duration, request.width, request.height, request.fps, short)
        if key not in self.cache:
            out = request.out_path.with_name(f"cache-{len(self.cache)}.mp4")
            if short:
                run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={request.width}x{request.height}:rate={request.fps}",
                            "-f", "lavfi", "-i", "sine", "-t", str(float(request.duration) / 2), "-c:v", "libx264",
                            "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)])
                self.cache[key] = ClipResult(path=out, duration=request.duration / 2)
            else:
                self.cache[key] = super().generate(request.model_copy(update={"out_path": out}))
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.cache[key].path, request.out_path)
        return ClipResult(path=request.out_path, duration=self.cache[key].duration,
                          cost_usd=0.0 if request.resume_job else float(request.duration) * self.price, job_id=job)


def reliability(runs: int, rate: float, seed: int, work: Path) -> dict:
    rng = random.Random(seed)
    cache: dict = {}
    tally = Counter()
    for n in range(runs):
        price = rng.choice([0.02, 0.05, 0.1])
        seconds = rng.randint(3, 6)
        budget = round(rng.uniform(0.5, 2.0) * seconds * price * 2, 2)
        brief = make_brief(f"a dog walks in a park, take {n}", duration=seconds, resolution="360p", budget_usd=budget)
        gen = FaultyProvider(rate, rng, price, cache)
        run = RunDir.create(work / "runs", brief)
        out = work / f"out{n}.mp4"
        run.record_output(out)
        outcome = "failed"
        for attempt in range(4):
            try:
                if attempt == 0:
                    Director(brief, run=run, generator=gen, limits=Limits(max_spend_usd=budget)).run_all(out)
                else:  # resume, against the same faulty provider
                    d = Director(run.load_brief(), run=run, generator=gen, limits=Limits(max_spend_usd=budget))
                    d.run_all(out)
                outcome = "completed" if attempt == 0 else "completed after resume"
                break
            except ReelwrightError as exc:
                tally[f"stop: {type(exc).__name__}"] += 1
                if "budget" in str(exc).lower():
                    outcome = "stopped by the budget"
                    break
            except Exception:  # noqa: BLE001 - a crash is what this benchmark looks for
                traceback.print_exc()
                outcome = "crashed"
                break
        state = run.load_state()
        tally[outcome] += 1
        tally["faults injected"] += gen.faults
        tally["submissions"] += gen.submissions
        tally["duplicate submissions"] += gen.duplicates
        tally["overspend"] += int(state.spent_usd > budget + 1e-9)
        tally["spend mismatch"] += int(abs(state.spent_usd - gen.billed) > 1e-9)
        if outcome.startswith("completed") and not out.is_file():
            tally["completed without output"] += 1
    return dict(tally)


def fuzz(cases: int, seed: int, work: Path) -> dict:
    from typer.testing import CliRunner

    from reelwright.cli import app

    rng = random.Random(seed)
    runner = CliRunner()
    outcomes = Counter()
    numbers = ["1e400", "nan", "inf", "-1", "0", "1/0", "30000/1001", "9" * 300, "²", "1:30", "", "2 minutes"]

    def text(k: int) -> str:
        pool = string.printable + "éß漢字🙂²\u202e\x00"
        return "".join(rng.choice(pool) for _ in range(rng.randint(0, k)))

    plan = json.loads(runner.invoke(app, ["plan", "a dog walks", "-d", "3", "--resolution", "360p", "--json"]).stdout)
    for i in range(cases):
        kind = rng.choice(["request", "plan-json"])
        if kind == "request":
            args = ["plan", text(80), "--json", "-d", rng.choice(numbers + [text(6)]),
                    "--fps", rng.choice(numbers + [text(4)])]
        else:
            p = json.loads(json.dumps(plan))
            target = rng.choice([p, p["shots"][0], p["brief"]])
            key = rng.choice(list(target))
            target[key] = rng.choice([None, -1, 0, 1e308, "x", [], {}, text(10), "../../x", float("nan")])
            path = work / f"fuzz{i}.json"
            path.write_text(json.dumps(p))
            args = ["plan-check", str(path)]
        if args[0] == "plan-check":
            from reelwright.plan import Plan

            try:
                Plan.load(Path(args[1]))
                outcomes[f"{kind}: accepted"] += 1
            except ReelwrightError:
                outcomes[f"{kind}: one-line user error"] += 1
            except Exception as exc:  # noqa: BLE001
                outcomes[f"{kind}: TRACEBACK {type(exc).__name__}"] += 1
            continue
        result = runner.invoke(app, args, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            outcomes[f"{kind}: TRACEBACK {type(result.exception).__name__}"] += 1
        else:
            outcomes[f"{kind}: exit {result.exit_code}"] += 1
    return dict(outcomes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--fault-rate", type=float, default=0.3)
    ap.add_argument("--fuzz", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rw-bench-rel-"))
    try:
        rel = reliability(args.runs, args.fault_rate, args.seed, work)
        done = sum(v for k, v in rel.items() if k.startswith("completed") and k != "completed without output")
        clean = done + rel.get("stopped by the budget", 0)
        print(f"reliability at {args.fault_rate:.0%} faults, {args.runs} runs:")
        print(f"  runs completed or cleanly stopped: {clean}/{args.runs} ({100 * clean / args.runs:.0f}%; target 100%)")
        for key in ("completed", "completed after resume", "stopped by the budget", "crashed", "failed"):
            print(f"    {key}: {rel.get(key, 0)}")
        print(f"  faults injected: {rel.get('faults injected', 0)} over {rel.get('submissions', 0)} submissions")
        print(f"  duplicate submissions: {rel.get('duplicate submissions', 0)} (target 0)")
        print(f"  overspend: {rel.get('overspend', 0)} runs (target 0); spend mismatch: {rel.get('spend mismatch', 0)} runs")
        stops = {k: v for k, v in rel.items() if k.startswith("stop: ")}
        print(f"  stops along the way: {stops}")
        fz = fuzz(args.fuzz, args.seed, work)
        print(f"fuzz: {args.fuzz} cases")
        for key, value in sorted(fz.items()):
            print(f"  {key}: {value}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
