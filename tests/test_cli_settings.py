"""Settings are resolved once for every command — flag, then REELWRIGHT_* env, then the config file in
REELWRIGHT_HOME, then the default — so `plan`, `make`, `edit` and `extend` agree; bad settings are one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import pytest

from reelwright.config import resolve_settings
from reelwright.errors import ConfigError
from reelwright.generators.registry import get_generator

from .test_cli import assert_clean_user_error

RW = [sys.executable, "-m", "reelwright.cli"]
REQUEST = "a 20 second video of a fox hunting in the snow, then sleeping"


def rw(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REELWRIGHT_") or k == "REELWRIGHT_HOME"}
    return subprocess.run([*RW, *args], capture_output=True, text=True, env={**full_env, **(env or {})}, timeout=300,
                          stdin=subprocess.DEVNULL)


def plan_json(*args, env=None) -> dict:
    proc = rw("plan", REQUEST, "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_env_generator_plans_for_that_generator_as_the_flag_does():
    by_env = plan_json(env={"REELWRIGHT_GENERATOR": "xai"})
    by_flag = plan_json("--generator", "xai")
    assert by_env["generator"] == "xai"
    allowed = set(get_generator("xai").capabilities().allowed_durations())
    fps = Fraction(by_env["fps"])
    assert all(Fraction(s["frames"]) / fps in allowed for s in by_env["shots"])
    # the same plan make would work from: xai's durations and its prompt style, shot for shot
    assert [(s["frames"], s["prompt"]) for s in by_env["shots"]] == [(s["frames"], s["prompt"]) for s in by_flag["shots"]]
    animatic = plan_json()
    assert animatic["generator"] == "animatic"
    assert [s["prompt"] for s in animatic["shots"]] != [s["prompt"] for s in by_env["shots"]]


def test_env_generator_makes_from_the_plan_that_plan_prints(tmp_path):
    proc = rw("make", REQUEST, "--runs-dir", str(tmp_path / "runs"), "-o", str(tmp_path / "v.mp4"),
              env={"REELWRIGHT_GENERATOR": "xai"})
    assert proc.returncode == 2 and "XAI_API_KEY" in proc.stderr  # it went to xai, which needs its key
    [run] = list((tmp_path / "runs").iterdir())
    made = json.loads((run / "plan.json").read_text())
    planned = plan_json(env={"REELWRIGHT_GENERATOR": "xai"})
    assert made["generator"] == "xai"
    assert [(s["frames"], s["prompt"]) for s in made["shots"]] == [(s["frames"], s["prompt"]) for s in planned["shots"]]


def test_flag_beats_env_beats_config_file_beats_default(monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("REELWRIGHT_HOME", str(home))
    for var in ("REELWRIGHT_GENERATOR", "REELWRIGHT_BUDGET", "REELWRIGHT_CONFIG", "REELWRIGHT_RUNS_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert resolve_settings({}).generator == "animatic"
    assert resolve_settings({}).runs_dir == home / "runs"
    (home / "config.toml").write_text('generator = "veo"\nbudget = 3.5\nruns_dir = "/srv/runs"\n')
    s = resolve_settings({})
    assert (s.generator, s.budget, str(s.runs_dir)) == ("veo", 3.5, "/srv/runs")
    monkeypatch.setenv("REELWRIGHT_GENERATOR", "xai")
    monkeypatch.setenv("REELWRIGHT_BUDGET", "2")
    s = resolve_settings({})
    assert (s.generator, s.budget) == ("xai", 2.0)
    s = resolve_settings({"generator": "animatic", "budget": None})
    assert (s.generator, s.budget) == ("animatic", 2.0)


def test_config_file_generator_reaches_plan(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('generator = "xai"\n')
    assert plan_json(env={"REELWRIGHT_HOME": str(home)})["generator"] == "xai"
    assert plan_json("-g", "animatic", env={"REELWRIGHT_HOME": str(home)})["generator"] == "animatic"


def test_env_runs_dir_and_llm_reach_make(tmp_path):
    runs = tmp_path / "env-runs"
    out = tmp_path / "v.mp4"
    proc = rw("make", "a 2 second video of a kite", "-o", str(out), "--resolution", "360p",
              env={"REELWRIGHT_RUNS_DIR": str(runs), "REELWRIGHT_LLM": "builtin"})
    assert proc.returncode == 0, proc.stderr
    [run] = list(runs.iterdir())
    brief = json.loads((run / "brief.json").read_text())
    assert (brief["generator"], brief["llm"]) == ("animatic", "builtin")


@pytest.mark.parametrize("env, needles", [
    ({"REELWRIGHT_GENERATOR": "nope"}, ["REELWRIGHT_GENERATOR", "unknown generator"]),
    ({"REELWRIGHT_LLM": "gpt-4o"}, ["REELWRIGHT_LLM", "openai:MODEL"]),
    ({"REELWRIGHT_LLM": "openai:"}, ["REELWRIGHT_LLM"]),
    ({"REELWRIGHT_LLM_BASE_URL": "localhost:8080"}, ["REELWRIGHT_LLM_BASE_URL", "url"]),
    ({"REELWRIGHT_FALLBACK": "gpt"}, ["REELWRIGHT_FALLBACK", "builtin"]),
])
@pytest.mark.parametrize("command", [["plan", REQUEST], ["make", REQUEST], ["edit", "some-run", "cut the last shot"],
                                     ["extend", "clip.mp4", "--to", "10"], ["resume", "some-run"]])
def test_bad_env_value_is_one_line_exit_2_for_every_command(tmp_path, command, env, needles):
    runs = [] if command[0] == "plan" else ["--runs-dir", str(tmp_path / "runs")]
    assert_clean_user_error(rw(*command, *runs, env=env), *needles)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("env, needles", [
    ({"REELWRIGHT_BUDGET": "lots"}, ["REELWRIGHT_BUDGET", "number"]),
    ({"REELWRIGHT_BUDGET": "-1"}, ["REELWRIGHT_BUDGET", "0"]),
    ({"REELWRIGHT_CONCURRENCY": "0"}, ["REELWRIGHT_CONCURRENCY", "1"]),
    ({"REELWRIGHT_CONCURRENCY": "two"}, ["REELWRIGHT_CONCURRENCY", "integer"]),
])
def test_malformed_env_number_is_one_line_exit_2(tmp_path, env, needles):
    proc = rw("make", "a dog runs", "--runs-dir", str(tmp_path / "runs"), env=env)
    assert_clean_user_error(proc, *needles)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("text, needles", [
    ('generatr = "xai"\n', ["unknown setting", "generatr", "generator"]),
    ('generator = "xai"\n[llm]\nmodel = "x"\n', ["llm"]),
    ('generator = \n', ["not valid toml"]),
    ('concurrency = "many"\n', ["concurrency", "config.toml"]),
])
def test_bad_config_file_is_one_line_exit_2(tmp_path, text, needles):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(text)
    for command in (["plan", "a dog runs"], ["make", "a dog runs", "--runs-dir", str(tmp_path / "runs")]):
        assert_clean_user_error(rw(*command, env={"REELWRIGHT_HOME": str(home)}), *needles)
    assert not (tmp_path / "runs").exists()


def test_config_file_error_names_the_file_and_key(monkeypatch, tmp_path):
    monkeypatch.setenv("REELWRIGHT_CONFIG", str(tmp_path / "rw.json"))
    (tmp_path / "rw.json").write_text(json.dumps({"budget": "free"}))
    with pytest.raises(ConfigError, match=r"budget in .*rw\.json='free'"):
        resolve_settings({})


@pytest.mark.parametrize("spec", ["local", "local:/models/qwen.gguf", "builtin", "openai:gpt-5", "ollama:llama3"])
def test_every_llm_spec_the_registry_takes_is_a_valid_setting(spec):
    # `--llm local` (the bundled model) once passed the registry and failed the settings check.
    assert resolve_settings({"llm": spec}).llm == spec


@pytest.mark.parametrize("spec", ["openai", "openai:", "gpt-5", "nope:model"])
def test_an_llm_spec_without_a_provider_or_model_is_refused(spec):
    with pytest.raises(ConfigError, match="llm"):
        resolve_settings({"llm": spec})
