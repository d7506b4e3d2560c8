"""The run store: an SQLite index of runs, shots, takes, clips and costs, kept up to date from a run's
events (`RunIndexer` is an event sink) and rebuildable from the run folders, which stay the source of truth.

The same code path indexes a live run and a rebuilt one: `rebuild` replays each folder's `trace.jsonl`
through the sink and then reconciles with `state.json` and `report.json`, so the two cannot disagree."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..events import Event
from .db import connect
from .store import RunDir

log = logging.getLogger(__name__)

MAX_TRACE_LINE = 1 << 20  # a trace line longer than this is not one of ours: skipped, not read into memory
TERMINAL = ("done", "failed", "interrupted")
_TAKE_STEPS = ("generate", "regenerate")
_STATUS_BY_STEP = {("plan", "start"): "planning", ("plan", "done"): "planned", ("generate", "start"): "generating",
                   ("cut", "start"): "cutting", ("verify", "failed"): "failed", ("deliver", "done"): "done",
                   ("run", "failed"): "failed"}


def day_of(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))  # UTC: the same day on every machine that reads the index


class RunRow(BaseModel):
    id: str
    folder: str
    request: str | None = None
    generator: str | None = None
    model: str | None = None
    status: str | None = None
    duration_s: float | None = None
    cost_usd: float = 0.0
    output: str | None = None
    created: float | None = None
    clips: int = 0
    takes: int = 0


class CostRow(BaseModel):
    day: str | None = None
    backend: str | None = None
    model: str | None = None
    usd: float
    clips: int
    runs: int


class RunIndex:
    """The index over every run this user made, wherever its folder is."""

    def __init__(self, path: Path | None = None):
        self.conn = connect(path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "RunIndex":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ writing
    def register(self, run: RunDir, *, generator: str | None = None, model: str | None = None) -> None:
        """Add or refresh the run's row from its brief (the folder may be new or already indexed)."""
        brief = _read_json(run.brief_path)
        gen = generator or brief.get("generator")
        created = run.brief_path.stat().st_mtime if run.brief_path.is_file() else time.time()
        self.conn.execute(
            "INSERT INTO runs (id, folder, request, generator, model, llm, status, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, 'created', ?, ?) ON CONFLICT(id) DO UPDATE SET folder=excluded.folder, "
            "request=excluded.request, generator=COALESCE(excluded.generator, generator), "
            "model=COALESCE(excluded.model, model), llm=excluded.llm",
            (run.id, str(run.root.resolve()), brief.get("request"), gen, model or _model_of(gen), brief.get("llm"),
             created, time.time()))

    def record(self, run: RunDir, event: Event, *, backend: str | None = None, model: str | None = None) -> None:
        """Index one event of `run`. Progress ticks are ignored: they change nothing that is stored."""
        if event.status == "progress":
            return
        rid = run.id
        with self.conn:
            status = _STATUS_BY_STEP.get((event.step, event.status))
            if status:
                self.conn.execute("UPDATE runs SET status=?, updated=? WHERE id=?", (status, event.ts, rid))
            if event.step == "plan" and event.status == "done":
                self._index_shots(run)
            if event.shot is None:
                return
            if event.step in _TAKE_STEPS and event.status == "start":
                self.conn.execute(
                    "INSERT OR IGNORE INTO takes (run_id, shot_id, attempt, started, status) VALUES (?, ?, ?, ?, 'started')",
                    (rid, event.shot, event.data.get("attempt"), event.ts))
                self.conn.execute("UPDATE shots SET status='generating' WHERE run_id=? AND shot_id=?", (rid, event.shot))
            elif event.step in _TAKE_STEPS and event.status in ("done", "failed", "retry"):
                take = self._open_take(rid, event.shot)
                cost = float(event.cost_usd or 0.0)
                if take is not None:
                    state = {"done": "generated", "failed": "failed", "retry": "moderated"}[event.status]
                    self.conn.execute("UPDATE takes SET status=?, cost_usd=?, elapsed_s=?, reason=? WHERE id=?",
                                      (state, cost, event.elapsed_s, event.message[:500] or None, take))
                if event.cost_usd is not None:
                    self._cost(rid, event.ts, "generation", backend, model, event.shot, cost,
                               f"{rid}:{event.shot}:{event.ts!r}")
            elif event.step == "check" and event.status in ("done", "failed"):
                take = self._last_take(rid, event.shot)
                if take is not None:
                    self.conn.execute("UPDATE takes SET status=?, reason=COALESCE(?, reason) WHERE id=?",
                                      ("accepted" if event.status == "done" else "rejected",
                                       None if event.status == "done" else event.message[:500], take))
                if event.status == "done":
                    self.conn.execute("UPDATE shots SET status='accepted' WHERE run_id=? AND shot_id=?", (rid, event.shot))
            elif event.step == "generate" and event.status == "skipped":
                self.conn.execute("UPDATE shots SET status=? WHERE run_id=? AND shot_id=?",
                                  ("cached" if event.data.get("cache") else "reused", rid, event.shot))

    def reconcile(self, run: RunDir) -> None:
        """Bring the run's row in line with its folder: status, output and length from state.json and
        report.json, accepted clips from state.json, chat-model costs from the report."""
        state, report = _read_json(run.state_path), _read_json(run.report_path)
        with self.conn:
            status = state.get("status") if isinstance(state.get("status"), str) else None
            duration = report.get("duration_s") if isinstance(report.get("duration_s"), (int, float)) else None
            # state.json names the asked output from the start (resume delivers there); the index shows it as the
            # run's output only once the run has delivered it.
            output = state.get("output") if isinstance(state.get("output"), str) and status == "done" else None
            self.conn.execute("UPDATE runs SET status=COALESCE(?, status), duration_s=COALESCE(?, duration_s), "
                              "output=COALESCE(?, output), updated=? WHERE id=?",
                              (status, duration, output, time.time(), run.id))
            accepted = state.get("accepted") if isinstance(state.get("accepted"), dict) else {}
            for fp, rec in accepted.items():
                if not isinstance(rec, dict):
                    continue
                self.conn.execute(
                    "INSERT INTO clips (run_id, fingerprint, shot_id, path, attempts, cost_usd, seconds, job_id, source) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, fingerprint) DO UPDATE SET "
                    "path=excluded.path, attempts=excluded.attempts, cost_usd=excluded.cost_usd, source=excluded.source",
                    (run.id, str(fp), rec.get("shot_id"), rec.get("path"), rec.get("attempts"), rec.get("cost_usd"),
                     rec.get("seconds_generated"), rec.get("job_id"), rec.get("source", "generated")))
            calls = report.get("llm_calls") if isinstance(report.get("llm_calls"), list) else []
            row = self.conn.execute("SELECT MAX(ts) FROM costs WHERE run_id=?", (run.id,)).fetchone()
            ts = row[0] or (run.report_path.stat().st_mtime if run.report_path.is_file() else time.time())
            for n, call in enumerate(calls):
                usd = call.get("cost_usd") if isinstance(call, dict) else None
                if isinstance(usd, (int, float)) and usd > 0:
                    provider = str(call.get("provider") or report.get("llm") or "llm").split(":")[0]
                    self._cost(run.id, ts, "llm", provider, call.get("model") or _model_of(report.get("llm")),
                               None, float(usd), f"{run.id}:llm:{n}")

    def rebuild(self, runs_dirs: Iterable[Path]) -> int:
        """Forget what the index holds for these folders' runs and index each run folder afresh."""
        count = 0
        seen: set[str] = set()
        for runs_dir in runs_dirs:
            for folder in sorted(Path(runs_dir).glob("*/brief.json")):
                run = RunDir(folder.parent)
                self.forget(run.id)
                self.index_folder(run)
                seen.add(run.id)
                count += 1
        for rid, folder in self.conn.execute("SELECT id, folder FROM runs").fetchall():
            if rid not in seen and not (Path(folder) / "brief.json").is_file():
                self.forget(rid)  # its folder was deleted: the index follows the folders
        return count

    def index_folder(self, run: RunDir) -> None:
        self.register(run)
        row = self.conn.execute("SELECT generator, model FROM runs WHERE id=?", (run.id,)).fetchone()
        for event in _trace_events(run.trace_path):
            self.record(run, event, backend=_backend_of(row[0]), model=row[1])
        self.reconcile(run)

    def forget(self, run_id: str) -> None:
        with self.conn:
            for table in ("runs", "shots", "takes", "clips", "costs"):
                self.conn.execute(f"DELETE FROM {table} WHERE {'id' if table == 'runs' else 'run_id'}=?", (run_id,))

    # ------------------------------------------------------------ reading
    def runs(self, limit: int | None = None) -> list[RunRow]:
        sql = ("SELECT r.id, r.folder, r.request, r.generator, r.model, r.status, r.duration_s, r.output, r.created, "
               "(SELECT COALESCE(SUM(usd), 0) FROM costs c WHERE c.run_id=r.id), "
               "(SELECT COUNT(*) FROM clips k WHERE k.run_id=r.id), (SELECT COUNT(*) FROM takes t WHERE t.run_id=r.id) "
               "FROM runs r ORDER BY r.created DESC")
        rows = self.conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        keys = ("id", "folder", "request", "generator", "model", "status", "duration_s", "output", "created",
                "cost_usd", "clips", "takes")
        return [RunRow(**dict(zip(keys, r))) for r in rows]

    def costs(self, by: Iterable[str] = ("day", "backend", "model")) -> list[CostRow]:
        dims = [d for d in by if d in ("day", "backend", "model")]
        cols = ", ".join(dims)
        sql = (f"SELECT {cols + ', ' if cols else ''}SUM(usd), SUM(kind='generation'), COUNT(DISTINCT run_id) "
               f"FROM costs WHERE usd > 0 {'GROUP BY ' + cols + ' ORDER BY ' + cols if cols else ''}")
        out = []
        for r in self.conn.execute(sql).fetchall():
            fields = dict(zip(dims, r[:len(dims)]))
            out.append(CostRow(**fields, usd=round(r[-3] or 0.0, 6), clips=int(r[-2] or 0), runs=int(r[-1] or 0)))
        return out

    def takes(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT shot_id, attempt, status, cost_usd, reason FROM takes WHERE run_id=? "
                                "ORDER BY started", (run_id,))
        return [dict(zip(("shot_id", "attempt", "status", "cost_usd", "reason"), r)) for r in cur.fetchall()]

    def shots(self, run_id: str) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT shot_id, idx, beat, frames, status FROM shots WHERE run_id=? ORDER BY idx",
                                (run_id,))
        return [dict(zip(("shot_id", "idx", "beat", "frames", "status"), r)) for r in cur.fetchall()]

    # ------------------------------------------------------------ helpers
    def _index_shots(self, run: RunDir) -> None:
        plan = _read_json(run.plan_path)
        shots = plan.get("shots") if isinstance(plan.get("shots"), list) else []
        for i, shot in enumerate(shots):
            if isinstance(shot, dict) and isinstance(shot.get("id"), str):
                self.conn.execute(
                    "INSERT INTO shots (run_id, shot_id, idx, beat, frames, status) VALUES (?, ?, ?, ?, ?, 'planned') "
                    "ON CONFLICT(run_id, shot_id) DO UPDATE SET idx=excluded.idx, beat=excluded.beat, "
                    "frames=excluded.frames", (run.id, shot["id"], i, shot.get("beat"), shot.get("frames")))

    def _open_take(self, rid: str, shot: str) -> int | None:
        row = self.conn.execute("SELECT id FROM takes WHERE run_id=? AND shot_id=? AND status='started' "
                                "ORDER BY started DESC LIMIT 1", (rid, shot)).fetchone()
        return row[0] if row else None

    def _last_take(self, rid: str, shot: str) -> int | None:
        row = self.conn.execute("SELECT id FROM takes WHERE run_id=? AND shot_id=? ORDER BY started DESC LIMIT 1",
                                (rid, shot)).fetchone()
        return row[0] if row else None

    def _cost(self, rid: str, ts: float, kind: str, backend: str | None, model: str | None, shot: str | None,
              usd: float, ref: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO costs (run_id, ts, day, kind, backend, model, shot_id, usd, ref) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (rid, ts, day_of(ts), kind, backend, model, shot, usd, ref))


class RunIndexer:
    """An event sink that keeps the index in step with one run. The index is never worth a failed run:
    a database error is logged once and the sink goes quiet (`reelwright runs --rebuild` catches up)."""

    def __init__(self, run: RunDir, *, generator: str | None = None, model: str | None = None,
                 index: RunIndex | None = None):
        self.run = run
        self.backend = _backend_of(generator)
        self.model = model or _model_of(generator)
        self.error: str | None = None
        try:
            self.index = index or RunIndex()
            self.index.register(run, generator=generator, model=self.model)
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            self._disable(exc)

    def __call__(self, event: Event) -> None:
        if self.error is not None or event.status == "progress":
            return
        try:
            self.index.record(self.run, event, backend=self.backend, model=self.model)
            if event.step == "deliver" or event.status == "failed" and event.step in ("run", "verify"):
                self.index.reconcile(self.run)
        except Exception as exc:  # noqa: BLE001
            self._disable(exc)

    def finish(self) -> None:
        """Reconcile with the folder at the end of a run, whatever way it ended."""
        if self.error is None:
            try:
                self.index.reconcile(self.run)
            except Exception as exc:  # noqa: BLE001
                self._disable(exc)

    def _disable(self, exc: BaseException) -> None:
        self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("run index not updated (%s); `reelwright runs --rebuild` will catch up", self.error)


def _trace_events(path: Path) -> Iterator[Event]:
    """The events of a trace file; a torn last line (a killed run) or a foreign line is skipped."""
    if not path.is_file():
        return
    with path.open("rb") as fh:
        while line := fh.readline(MAX_TRACE_LINE):
            if not line.endswith(b"\n") and len(line) >= MAX_TRACE_LINE:
                while (rest := fh.readline(MAX_TRACE_LINE)) and not rest.endswith(b"\n"):
                    pass
                continue
            try:
                yield Event.model_validate_json(line)
            except ValueError:
                continue


def _read_json(path: Path, limit: int = 64 << 20) -> dict[str, Any]:
    """A run file as a dict; a missing, oversized, torn or wrong-typed file reads as empty."""
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _backend_of(spec: str | None) -> str | None:
    if not spec:
        return None
    return spec.split(":", 1)[0].strip() or None


def _model_of(spec: str | None) -> str | None:
    if not spec or ":" not in spec:
        return None
    return spec.split(":", 1)[1].strip() or None
