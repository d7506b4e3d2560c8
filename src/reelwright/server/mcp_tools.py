"""The studio as MCP tools (mcp SDK 2.x `MCPServer`): stdio for desktop agents (`reelwright mcp`), streamable HTTP
at /mcp on `reelwright serve`. Long jobs are submit-then-poll: `make` returns an id, `wait` reports progress.

A tool that can spend money says so in its description, and `make` returns the estimate instead of submitting
until the caller accepts that cost with `max_cost_usd`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ..errors import BriefError, ReelwrightError
from .db import TERMINAL
from .studio import MakeRequest, Studio

COST_WARNING = ("COST WARNING: with a paid generator (xai, veo, runway, luma, replicate, fal) this spends money "
                "on the provider account configured on the server. ")


def build_mcp(studio: Studio, *, allow_paths: bool = False, allowed_hosts: list[str] | None = None):
    from .. import __version__

    server = MCPServer("reelwright", version=__version__,
                       instructions="Plan and make duration-exact videos. Call plan first to see the storyboard and "
                                    "its cost, make to queue it (returns an id), wait or status to follow it.")

    async def run(fn, *args, **kwargs):
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ReelwrightError as exc:  # the caller (often a model) reads the one-line reason and can fix it
            raise ToolError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    @server.tool()
    async def plan(prompt: str, duration: str | None = None, aspect: str | None = None, mode: str | None = None,
                   generator: str | None = None) -> dict[str, Any]:
        """Plan a video without making it (free): every shot with its start, length and prompt, the exact total
        and the estimated cost in USD. duration: seconds or '1:30'; aspect: 16:9, 9:16, 1:1...; mode: create-video,
        short-film, ugc-product, brand-identity; generator: animatic (free, offline), xai, veo, ..."""
        p = await run(studio.plan, MakeRequest(prompt=prompt, duration=duration, aspect=aspect, mode=mode,
                                               generator=generator))
        return _plan_summary(p)

    @server.tool(description=COST_WARNING + "Queue a video and return its id at once (follow it with wait or "
                 "status). With a paid generator nothing is queued until max_cost_usd covers the estimated cost, "
                 "which is returned first. duration in seconds or '1:30'; resolution 360p..1080p.")
    async def make(prompt: str, duration: str | None = None, aspect: str | None = None, mode: str | None = None,
                   generator: str | None = None, resolution: str | None = None, budget_usd: float | None = None,
                   max_cost_usd: float | None = None) -> dict[str, Any]:
        req = MakeRequest(prompt=prompt, duration=duration, aspect=aspect, mode=mode, generator=generator,
                          resolution=resolution, budget_usd=budget_usd)
        p = await run(studio.plan, req)
        estimate = round(p.estimated_cost_usd, 4)
        if estimate > 0 and (max_cost_usd is None or max_cost_usd + 1e-9 < estimate):
            return {"submitted": False, "estimated_cost_usd": estimate,
                    "message": f"this video is estimated at ${estimate:.2f}; call make again with "
                               f"max_cost_usd >= {estimate} to spend it"}
        made = req.model_copy(update={"plan": json.loads(p.to_json())})
        job = await run(studio.submit_make, made)
        return {"submitted": True, "id": job.id, "status": job.status, "estimated_cost_usd": estimate,
                "seconds": float(p.duration)}

    @server.tool()
    async def status(id: str) -> dict[str, Any]:
        """A job's status (queued, in_progress, completed, failed, cancelled), progress 0..1, and when completed
        the path of its video on the server."""
        return await run(_status, studio, id)

    @server.tool()
    async def wait(id: str, ctx: Context, timeout_s: float = 600) -> dict[str, Any]:
        """Wait for a job to finish (or timeout_s to pass), reporting progress as it goes; returns its status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, min(timeout_s, 3600))
        last = -1.0
        while True:
            info = await run(_status, studio, id)
            if info["progress"] != last:
                last = info["progress"]
                await ctx.report_progress(round(last * 100, 1), 100, f"{info['status']}")
            if info["status"] in TERMINAL or loop.time() >= deadline:
                return info
            await asyncio.sleep(0.5)

    @server.tool()
    async def cancel(id: str) -> dict[str, Any]:
        """Stop a job now: nothing more is spent; accepted clips stay and the run can be resumed."""
        job = await run(studio.cancel, id)
        return {"id": job.id, "status": job.status}

    @server.tool(description=COST_WARNING + "Continue a completed video by `seconds` (generates new clips); "
                 "returns the new job's id.")
    async def extend(id: str, seconds: float, prompt: str = "") -> dict[str, Any]:
        job = await run(studio.submit_extend, id, seconds, prompt)
        return {"id": job.id, "status": job.status, "seconds": job.seconds}

    @server.tool(description=COST_WARNING + "Edit a completed video by request, e.g. \"add 'SALE 50%' at 0:05 for "
                 "3 seconds\" (free: a tool) or \"make shot 2 at night\" (regenerates that shot: may spend). "
                 "Returns the new job's id.")
    async def edit(id: str, request: str) -> dict[str, Any]:
        job = await run(studio.submit_edit, id, request)
        return {"id": job.id, "status": job.status}

    @server.tool()
    async def inspect(id: str | None = None, path: str | None = None) -> dict[str, Any]:
        """Probe a finished video (by job id; a local file path only over stdio): duration, frames, size, fps,
        codecs, and whether it decodes cleanly."""
        return await run(_inspect, studio, id, path, allow_paths)

    @server.tool()
    async def generators() -> list[dict[str, Any]]:
        """Video backends: name, model, allowed durations, whether they are paid and their price per second."""
        from .routes_api import generators as list_generators

        return await run(list_generators)

    return server


def _plan_summary(p) -> dict[str, Any]:
    return {"title": p.title, "seconds": float(p.duration), "frames": p.total_frames, "fps": str(p.fps),
            "size": f"{p.width}x{p.height}", "generator": p.generator, "estimated_cost_usd": p.estimated_cost_usd,
            "shots": [{"id": s.id, "start_s": round(float(p.shot_start(s)), 3),
                       "duration_s": round(float(p.shot_duration(s)), 3), "beat": s.beat, "prompt": s.prompt}
                      for s in p.shots]}


def _status(studio: Studio, job_id: str) -> dict[str, Any]:
    job = studio.job(job_id)
    facts = studio.facts(job)
    out: dict[str, Any] = {"id": job.id, "status": job.status, "progress": round(studio.progress(job), 4),
                           "seconds": facts["seconds"], "size": facts["size"], "error": job.error}
    if job.status == "completed":
        out["video"] = str(studio.output_path(job))
    return out


def _inspect(studio: Studio, job_id: str | None, path: str | None, allow_paths: bool) -> dict[str, Any]:
    from fractions import Fraction

    from ..critique.technical import check_final
    from ..media import probe

    if job_id:
        target = studio.output_path(studio.job(job_id))
    elif path and allow_paths:
        target = Path(path).expanduser()
    elif path:
        raise BriefError("inspect takes a job id here; file paths are accepted only over stdio")
    else:
        raise BriefError("give the id of a job (or, over stdio, a file path)")
    info = probe(target)
    verdict = check_final(target, info.frames, info.fps)
    return {"duration_s": float(Fraction(info.frames) / info.fps), "frames": info.frames, "fps": str(info.fps),
            "size": f"{info.width}x{info.height}", "video_codec": info.vcodec, "audio_codec": info.acodec,
            "passed": verdict.passed,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in verdict.checks]}
