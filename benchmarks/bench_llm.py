"""The language layer's cost on a scripted fake model: LLM calls, tokens and wall time for the dog-walk
request (LLM planner + vision judge, then the tool-using agent), and the most tokens the agent's context
reaches on an 80-shot job at several budgets. Run: .venv/bin/python benchmarks/bench_llm.py [--quick]

`--local [PATH.gguf]`: the real local model instead (the bundled SmolLM2-135M unless a path is given,
llama.cpp embedded, REELWRIGHT_LLM_THREADS threads, default 1): ready time, then per plan the seconds,
tokens out, tokens per second while generating, and whether the draft validated, side by side with the
built-in planner's seconds per plan on the same requests."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fakes live in tests/

from reelwright.agent import run_agent  # noqa: E402
from reelwright.api import make_video  # noqa: E402
from reelwright.brief import Brief  # noqa: E402
from reelwright.director import Limits  # noqa: E402
from reelwright.events import EventBus  # noqa: E402
from reelwright.llm import get_llm  # noqa: E402
from reelwright.media.probe import probe  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI, completion, json_completion  # noqa: E402
from tests.test_agent import SimulatedJob, long_job_director, next_move  # noqa: E402

DOG = "a 1 min video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend"
BEATS = ["going on a walk", "sniffing around", "getting a pup cup", "meeting a friend"]
MODEL = "gpt-4.1-mini"


def dog_plan() -> dict:
    shots = [{"beat": b, "prompt": (f"A scruffy terrier {b} on a leafy neighbourhood street, golden hour, warm tones. "
                                    "Medium tracking shot at dog height; the camera keeps pace. Leaves sway, "
                                    "passers-by drift behind. Sound: footsteps, birdsong."),
              "camera": "medium tracking shot", "setting": "a leafy neighbourhood street", "entities": ["dog"],
              "seconds": s} for b, s in zip(BEATS, (14, 16, 16, 14))]
    return {"title": "Walkies", "subject": "a scruffy terrier", "setting": "a leafy neighbourhood street",
            "style": "cinematic", "cast": [{"id": "dog", "name": "Biscuit", "kind": "character",
                                            "description": "a scruffy grey terrier with a red collar"}],
            "shots": shots, "overlays": []}


JUDGE_OK = {k: {"score": 0.85, "reason": "matches the beat", "fix": ""}
            for k in ("prompt_adherence", "logical_sense", "visual_artifacts", "continuity")}


def scripted(body: dict) -> dict:
    """One fake model that plans, judges and drives tools, dispatching on what it is asked for."""
    fmt = (body.get("response_format") or {}).get("json_schema", {}).get("name")
    if fmt == "LLMPlanDraft":
        return json_completion(dog_plan())
    if fmt == "JudgeScores":
        return json_completion(JUDGE_OK)
    if body.get("tools"):
        return completion(tool_calls=next_move(body))
    raise ValueError(f"unscripted request: {fmt}")


def dog_walk(agent: bool, runs_dir: Path) -> dict:
    with FakeOpenAI(responder=scripted) as server:
        bus = EventBus()
        t0 = time.perf_counter()
        delivery = make_video(DOG, output=runs_dir / f"dog-{'agent' if agent else 'director'}.mp4", runs_dir=runs_dir,
                              bus=bus, agent=agent, llm=f"openai:{MODEL}", llm_base_url=server.base_url,
                              resolution="360p")
        wall = time.perf_counter() - t0
        sizes = [len(json.dumps(r.body)) for r in server.requests]
    calls = delivery.report.get("llm_calls", [])
    by_purpose = Counter(c["purpose"] for c in calls)
    info = probe(delivery.output)
    return {"mode": "agent" if agent else "director", "calls": len(calls), "by_purpose": dict(by_purpose),
            "tokens_in": sum(c["tokens_in"] for c in calls), "tokens_out": sum(c["tokens_out"] for c in calls),
            "llm_latency_s": round(sum(c["latency_s"] for c in calls), 3), "wall_s": round(wall, 2),
            "largest_request_kb": round(max(sizes) / 1024, 1), "video_s": float(info.video_duration),
            "frames": info.frames}


def long_job(budget: int) -> dict:
    job = SimulatedJob(80, reject={"s07", "s33", "s61"})
    with FakeOpenAI(responder=long_job_director) as server:
        report = run_agent(job, get_llm(f"openai:{MODEL}", base_url=server.base_url),
                           Brief(request="a 10 minute video of a dog exploring a town", duration=600),
                           limits=Limits(max_steps=400), context_budget_tokens=budget)
    return {"budget": budget, "finished": report.finished, "steps": report.steps,
            "max_context_tokens": report.max_context_tokens, "compactions": report.compactions,
            "tokens_in": report.tokens_in, "tokens_out": report.tokens_out, "cost_usd": report.cost_usd,
            "wall_s": report.wall_s}


def main(quick: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="rw-bench-llm-") as tmp:
        rows = [dog_walk(False, Path(tmp))]
        if not quick:
            rows.append(dog_walk(True, Path(tmp)))
    print(f"dog-walk request on the scripted fake ({MODEL} prices), animatic 360p:")
    print(f"{'mode':<9} {'calls':>5} {'by purpose':<28} {'tok in':>8} {'tok out':>8} {'llm s':>6} {'wall s':>7} "
          f"{'video':>7}")
    for r in rows:
        purposes = ", ".join(f"{k} {v}" for k, v in r["by_purpose"].items())
        print(f"{r['mode']:<9} {r['calls']:>5} {purposes:<28} {r['tokens_in']:>8} {r['tokens_out']:>8} "
              f"{r['llm_latency_s']:>6} {r['wall_s']:>7} {r['video_s']:>6.3f}s")
    print("\n80-shot job (simulated tools, model rewrites each prompt), agent context vs budget:")
    print(f"{'budget':>10} {'max ctx':>8} {'compact':>7} {'steps':>5} {'tok in':>9} {'tok out':>8} {'$':>7} {'wall s':>6}")
    for budget in ((24_000,) if quick else (16_000, 24_000, 32_000, 10_000_000)):
        r = long_job(budget)
        label = "none" if budget >= 10_000_000 else str(budget)
        print(f"{label:>10} {r['max_context_tokens']:>8} {r['compactions']:>7} {r['steps']:>5} {r['tokens_in']:>9} "
              f"{r['tokens_out']:>8} {r['cost_usd']:>7.3f} {r['wall_s']:>6}")


LOCAL_REQUESTS = [
    "a 12 second video of a dog going on a walk, sniffing around, getting a pup cup, meeting a friend",
    "a 15 second ad for a steel water bottle: filling it at the gym, the logo end card",
    "an 8 second video of rain on a city street at night, a cyclist passing",
]


def bench_local(path: str | None, rounds: int) -> None:
    from reelwright.generators.animatic import AnimaticGenerator
    from reelwright.planning.builtin import build_plan
    from reelwright.planning.llm_planner import LLMPlanDraft, plan_with_llm

    started = time.perf_counter()
    llm = get_llm(f"local:{path}" if path else "local")
    ready = time.perf_counter() - started
    caps = AnimaticGenerator().capabilities()
    print(f"{llm.name}: ready in {ready:.1f} s, {os.environ.get('REELWRIGHT_LLM_THREADS', '1')} thread(s)")
    print(f"{'request':<44} {'plan s':>7} {'calls':>5} {'tok out':>7} {'tok/s':>6} {'valid':>5} {'by':>8} "
          f"{'builtin s':>9} {'ratio':>7}")
    for request in LOCAL_REQUESTS[:rounds]:
        brief = Brief(request=request, resolution="360p")
        before = len(llm.ledger)
        t0 = time.perf_counter()
        plan = plan_with_llm(brief, caps, llm, fallback="builtin")
        plan_s = time.perf_counter() - t0
        calls = llm.ledger[before:]
        out = sum(c.tokens_out for c in calls)
        gen_s = sum(c.latency_s for c in calls if c.ok) or 1e-9
        valid = any("planned by" in n and "built-in" not in n for n in plan.notes)
        t1 = time.perf_counter()
        build_plan(brief, caps)
        builtin_s = time.perf_counter() - t1
        by = "model" if valid else "builtin"
        print(f"{request[:44]:<44} {plan_s:>7.1f} {len(calls):>5} {out:>7} {out / gen_s:>6.1f} "
              f"{str(valid):>5} {by:>8} {builtin_s:>9.3f} {plan_s / max(builtin_s, 1e-6):>6.0f}x")
    # one raw call, for the generation rate alone (no repair loop)
    t0 = time.perf_counter()
    reply = llm.complete("Write one sentence about a dog.", response_format=LLMPlanDraft, purpose="plan",
                         max_tokens=256)
    s = time.perf_counter() - t0
    print(f"raw structured call: {reply.usage.tokens_out} tokens in {s:.1f} s = {reply.usage.tokens_out / s:.1f} tok/s "
          "(prompt included)")
    llm.close()


if __name__ == "__main__":
    if "--local" in sys.argv:
        rest = sys.argv[sys.argv.index("--local") + 1:]
        bench_local(next((a for a in rest if a.endswith(".gguf")), None), 1 if "--quick" in sys.argv else 3)
    else:
        main(quick="--quick" in sys.argv)
