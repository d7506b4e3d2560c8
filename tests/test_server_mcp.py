"""The MCP tools, driven by the official mcp client over stdio (`reelwright mcp`) and over streamable HTTP
(`/mcp` on `reelwright serve`): listed, called, with progress reported while a job runs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from reelwright.media import probe

from .studio_server import ServerProcess

TOOLS = {"plan", "make", "status", "wait", "cancel", "extend", "edit", "inspect", "generators"}


def _data(result) -> dict | list:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


async def _exercise(session: ClientSession) -> dict:
    """List the tools, plan, make, wait with progress, inspect the result."""
    await session.initialize()
    listed = {t.name: t for t in (await session.list_tools()).tools}
    assert TOOLS <= set(listed)
    for paid in ("make", "extend", "edit"):
        assert "COST WARNING" in listed[paid].description and "spend" in listed[paid].description
    for free in ("plan", "status", "inspect", "generators"):
        assert "COST WARNING" not in (listed[free].description or "")

    gens = _data(await session.call_tool("generators", {}))
    animatic = next(g for g in gens if g["name"] == "animatic")
    assert animatic["paid"] is False

    planned = _data(await session.call_tool("plan", {"prompt": "a dog going on a walk", "duration": "4"}))
    assert planned["seconds"] == 4 and planned["shots"] and planned["estimated_cost_usd"] == 0

    made = _data(await session.call_tool("make", {"prompt": "a dog going on a walk", "duration": "3",
                                                 "resolution": "360p"}))
    assert made["submitted"] is True and made["id"].startswith("video_")

    progress: list[tuple[float, float | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    done = _data(await session.call_tool("wait", {"id": made["id"], "timeout_s": 300}, progress_callback=on_progress))
    assert done["status"] == "completed", done
    assert progress and progress[-1] == (100, 100)
    assert [p for p, _ in progress] == sorted(p for p, _ in progress)

    facts = _data(await session.call_tool("inspect", {"id": made["id"]}))
    assert facts["frames"] == 72 and facts["passed"] is True
    status = _data(await session.call_tool("status", {"id": made["id"]}))
    assert status["status"] == "completed" and probe(Path(status["video"])).frames == 72

    missing = await session.call_tool("status", {"id": "video_nope"})
    assert missing.is_error and "no video or run" in missing.content[0].text
    return done


def test_stdio_lists_and_calls_the_tools_with_progress(tmp_path):
    env = {**os.environ, "REELWRIGHT_HOME": str(tmp_path / "home")}
    params = StdioServerParameters(command=sys.executable, args=["-m", "reelwright", "mcp"], env=env)

    async def go():
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write):
                async with ClientSession(read, write) as session:
                    await _exercise(session)
                    over_stdio = _data(await session.call_tool("inspect", {"path": str(_first_video(tmp_path))}))
                    assert over_stdio["frames"] == 72

    asyncio.run(go())


def _first_video(tmp_path: Path) -> Path:
    return next((tmp_path / "home" / "runs").glob("*/final.mp4"))


def test_streamable_http_on_serve_lists_and_calls_the_tools_with_progress(tmp_path):
    srv = ServerProcess(tmp_path / "home").start()

    async def go():
        async with streamable_http_client(srv.url + "/mcp") as (read, write):
            async with ClientSession(read, write) as session:
                await _exercise(session)
                refused = await session.call_tool("inspect", {"path": "/etc/passwd"})
                assert refused.is_error and "only over stdio" in refused.content[0].text

    try:
        asyncio.run(go())
    finally:
        srv.stop()


def test_make_with_a_paid_generator_returns_the_estimate_before_spending(tmp_path, monkeypatch):
    """A paid plan is not queued until the caller accepts its cost (xai with a key set; nothing is called)."""
    from reelwright.server.mcp_tools import build_mcp
    from reelwright.server.studio import Studio

    pytest.importorskip("xai_sdk")
    monkeypatch.setenv("XAI_API_KEY", "test-key-not-used")
    studio = Studio(tmp_path / "home")
    server = build_mcp(studio)

    async def go():
        result = await server.call_tool("make", {"prompt": "a dog going on a walk", "duration": "6",
                                                 "generator": "xai"})
        return result

    payload = _data(asyncio.run(go()))
    assert payload["submitted"] is False and payload["estimated_cost_usd"] > 0
    assert studio.db.list_jobs() == []
