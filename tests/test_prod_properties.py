"""Properties over random inputs (hypothesis, bounded so CI stays fast):
- the budget: over random plans, prices and failure sequences, spend never exceeds the budget, the reported
  spend equals what the fake billed, and no shot is submitted again while a finished job of it is unfetched;
- fuzzing: requests, durations, numbers, plan JSON, run-folder JSON and overlay text through the CLI give no
  traceback, exit code 2 for a user error, nothing written outside the run folder and the asked output, and no
  hang or runaway read (each call's time and Python memory peak are bounded)."""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
import tracemalloc
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reelwright.api import make_brief
from reelwright.director import Director
from reelwright.director.limits import Limits
from reelwright.errors import ExpiredResultError, GeneratorError, ModerationError, ReelwrightError
from reelwright.generators.animatic import AnimaticGenerator
from reelwright.generators.base import ClipResult
from reelwright.runs.store import RunDir

from .conftest import make_test_clip

FAST = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

OUTCOMES = ["ok", "ok", "ok", "transient", "billed_lost", "moderated", "bad_clip"]


class BillingFake(AnimaticGenerator):
    """A paid generator: each request is rendered (a clip of the asked length and size, cached by that
    request shape) and billed at its price per second — or fails as the scripted outcome says. It keeps
    its own ledger: what it billed, what it submitted, and submissions made while a finished job of
    the same shot was never fetched (duplicate spend)."""

    def __init__(self, price: float, outcomes: list[str], clips: dict):
        super().__init__()
        self.price, self.outcomes, self.clips = price, list(outcomes), clips
        self.billed = 0.0
        self.submissions = 0
        self.duplicates = 0
        self.unfetched: dict[str, str] = {}  # shot -> job id finished and billed but not delivered
        self.lock = threading.Lock()
        self.n = 0

    def capabilities(self):
        return super().capabilities().model_copy(update={"price_per_second": self.price, "concurrency": 1})

    def generate(self, request, progress=None):
        with self.lock:
            if request.resume_job is not None:  # fetch a job we already ran: no new charge
                job, outcome = request.resume_job, "ok"
                self.unfetched.pop(request.shot_id, None)
            else:
                outcome = self.outcomes.pop(0) if self.outcomes else "ok"
                if outcome == "moderated":
                    raise ModerationError("refused")
                if request.shot_id in self.unfetched:
                    self.duplicates += 1
                self.n += 1
                job = f"job{self.n}"
                self.submissions += 1
                if request.on_submitted:
                    request.on_submitted(job)
                if outcome == "transient":
                    raise GeneratorError("HTTP 500: the model crashed")  # failed at the provider: not billed
                cost = float(request.duration) * self.price
                self.billed += cost
                if outcome == "billed_lost":
                    self.unfetched[request.shot_id] = job
                    err = ExpiredResultError("download was truncated")
                    err.job_id, err.billed_usd = job, cost
                    raise err
        key = (request.duration, request.width, request.height, request.fps, outcome == "bad_clip")
        if key not in self.clips:
            if outcome == "bad_clip":  # half the asked length: the duration check rejects it
                src = make_test_clip(request.out_path.with_suffix(".short.mp4"), seconds=float(request.duration) / 2,
                                     width=request.width, height=request.height, fps=str(request.fps))
                self.clips[key] = ClipResult(path=src, duration=request.duration / 2)
            else:
                self.clips[key] = super().generate(request.model_copy(update={
                    "out_path": request.out_path.with_name(f"cache-{len(self.clips)}.mp4")}))
        cached = self.clips[key]
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached.path, request.out_path)
        cost = 0.0 if request.resume_job else float(request.duration) * self.price
        return ClipResult(path=request.out_path, duration=cached.duration, cost_usd=cost, job_id=job)


@pytest.fixture(scope="module")
def clip_cache():
    return {}


@FAST
@given(seconds=st.integers(min_value=2, max_value=5),
       price=st.sampled_from([0.01, 0.05, 0.1, 0.37]),
       budget=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.5)),
       outcomes=st.lists(st.sampled_from(OUTCOMES), max_size=10))
def test_spend_never_exceeds_the_budget_and_equals_what_was_billed(tmp_path_factory, clip_cache, seconds, price,
                                                                  budget, outcomes):
    tmp = tmp_path_factory.mktemp("budget")
    brief = make_brief("a dog walks in a park", duration=seconds, resolution="360p", budget_usd=budget)
    gen = BillingFake(price, outcomes, clip_cache)
    run = RunDir.create(tmp / "runs", brief)
    director = Director(brief, run=run, generator=gen, limits=Limits(max_spend_usd=budget))
    try:
        director.run_all(tmp / "out.mp4")
    except ReelwrightError:
        pass  # a stop is fine; what it spent is what is checked
    state = run.load_state()
    if budget is not None:
        assert state.spent_usd <= budget + 1e-9
    assert state.spent_usd == pytest.approx(gen.billed, abs=1e-9)
    assert gen.duplicates == 0


# ---------------------------------------------------------------------------------------- fuzzing

runner = CliRunner()


# A fuzzed call must end and must not grow without bound (the /dev/zero plan once read 5 GB in 10 s). These are
# bounds on a hang or a runaway read, far above what any case needs (well under 10 s and 50 MB here), not timings.
CALL_SECONDS = 120.0
CALL_PYTHON_MB = 300.0


def cli(args: list[str]):
    from reelwright.cli import app

    tracemalloc.start()
    t0 = time.monotonic()
    try:
        result = runner.invoke(app, args, catch_exceptions=True)
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    elapsed = time.monotonic() - t0
    assert elapsed < CALL_SECONDS, f"{args[:2]} took {elapsed:.0f} s: a hang"
    assert peak < CALL_PYTHON_MB, f"{args[:2]} allocated {peak:.0f} MB at its peak: an unbounded read"
    return result


def assert_no_traceback(result, allowed=(0, 2)):
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}") from result.exception
    assert result.exit_code in allowed, (result.exit_code, result.output)


numbers = st.one_of(st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["1e400", "-0", "0", "1/0", "nan", "30000/1001", "1:30", "2 minutes", "", " ",
                                     "9" * 400, "0x10", "1_000"]),
                    st.text(max_size=12))


@settings(FAST, max_examples=25)
@given(request=st.text(max_size=200), duration=numbers, fps=numbers,
       aspect=st.one_of(st.none(), st.sampled_from(["16:9", "9:16", "0:0", "1:0", "abc", "vertical"])))
def test_fuzzed_requests_and_numbers_never_trace_back(request, duration, fps, aspect):
    args = ["plan", request, "--json", "--duration", duration, "--fps", fps] + (["--aspect", aspect] if aspect else [])
    assert_no_traceback(cli(args))


@pytest.fixture(scope="module")
def plan_dict():
    result = cli(["plan", "a dog walks in a park", "-d", "3", "--resolution", "360p", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                                     st.floats(allow_nan=False), st.text(max_size=20)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@settings(FAST, max_examples=25)
@given(data=st.data())
def test_fuzzed_plan_json_is_refused_in_one_line_before_anything_is_made(tmp_path_factory, plan_dict, monkeypatch,
                                                                         data):
    from reelwright.media import ffmpeg

    tmp = tmp_path_factory.mktemp("planfuzz")
    plan = json.loads(json.dumps(plan_dict))
    paths = list(_paths(plan))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        node = plan
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = data.draw(json_values)
    plan_path = tmp / "plan.json"
    plan_path.write_text(json.dumps(plan, allow_nan=True))
    # No encoder: a plan that validates stops at "ffmpeg is not installed" (exit 2), so the test can
    # show that validation happens before anything is made or paid for.
    monkeypatch.setenv("REELWRIGHT_FFMPEG", str(tmp / "no-ffmpeg"))
    ffmpeg.ffmpeg_exe.cache_clear()
    try:
        before = set(tmp.rglob("*"))
        result = cli(["make", "--plan", str(plan_path), "-o", str(tmp / "o.mp4"), "--runs-dir", str(tmp / "runs")])
    finally:
        monkeypatch.undo()
        ffmpeg.ffmpeg_exe.cache_clear()
    assert_no_traceback(result, allowed=(2,))
    made = set(tmp.rglob("*")) - before
    assert not [p for p in made if p.suffix in (".mp4", ".png")]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz-run")
    result = cli(["make", "a dog walks", "-d", "2", "--resolution", "360p", "-o", str(base / "v.mp4"),
                  "--runs-dir", str(base / "runs")])
    assert result.exit_code == 0, result.output
    return next((base / "runs").iterdir())


@FAST
@given(name=st.sampled_from(["state.json", "brief.json", "plan.json"]),
       cut=st.floats(min_value=0.0, max_value=0.99), junk=st.binary(max_size=40))
def test_fuzzed_run_folder_json_never_traces_back(tmp_path_factory, finished_run, name, cut, junk):
    tmp = tmp_path_factory.mktemp("runfuzz")
    run = tmp / "runs" / finished_run.name
    shutil.copytree(finished_run, run)
    raw = (run / name).read_bytes()
    (run / name).write_bytes(raw[: int(len(raw) * cut)] + junk)
    before = {p for p in tmp.rglob("*")}
    result = cli(["edit", str(run), "add 'HI' at 0:00 for 1 seconds", "--runs-dir", str(tmp / "runs")])
    assert_no_traceback(result, allowed=(2,))
    outside = {p for p in tmp.rglob("*") if run not in p.parents and p != run} - before
    assert outside == set()


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    return make_test_clip(tmp_path_factory.mktemp("tiny") / "in.mp4", seconds=1, width=160, height=90)


@settings(FAST, max_examples=10)
@given(text=st.text(min_size=1, max_size=60).filter(lambda t: "'" not in t and t.strip()))
def test_fuzzed_overlay_text_is_drawn_or_refused_never_a_traceback(tmp_path_factory, tiny_video, text):
    tmp = tmp_path_factory.mktemp("overlay")
    out = tmp / "out.mp4"
    result = cli(["edit", str(tiny_video), f"add '{text}' at 0:00 for 0.5 seconds", "-o", str(out)])
    assert_no_traceback(result)
    assert sorted(p.name for p in tmp.iterdir()) == (["out.mp4"] if result.exit_code == 0 else [])


def test_the_fuzz_bounds_catch_a_runaway_read(tmp_path, monkeypatch):
    # The bound is real: a plan reader that reads without a limit (as before finding 4 was fixed) trips it.
    from reelwright.runs import files

    def unbounded(path, what, max_bytes=None):
        with open(path, "rb") as fh:
            return fh.read(400 * 2**20).decode("utf-8", "replace")

    monkeypatch.setattr(files, "read_bounded", unbounded)
    with pytest.raises(AssertionError, match="unbounded read"):
        cli(["make", "--plan", "/dev/zero", "--runs-dir", str(tmp_path / "runs")])
