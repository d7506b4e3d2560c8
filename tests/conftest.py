"""Shared fixtures: an isolated REELWRIGHT_HOME, and clips made with ffmpeg's lavfi sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelwright.media.ffmpeg import run_ffmpeg


_SECRET_VARS = ("XAI_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
                "REPLICATE_API_TOKEN", "FAL_KEY", "RUNWAYML_API_SECRET", "LUMAAI_API_KEY", "OPENAI_BASE_URL",
                "GOOGLE_CLOUD_PROJECT", "GOOGLE_GENAI_USE_VERTEXAI", "REELWRIGHT_PRICES", "REELWRIGHT_GENERATOR",
                "REELWRIGHT_LLM", "OPENROUTER_API_KEY", "OPENAI_VIDEOS_API_KEY", "REELWRIGHT_OPENAI_VIDEOS_BASE_URL",
                "REELWRIGHT_OPENROUTER_BASE_URL")


@pytest.fixture(autouse=True, scope="session")
def _isolated_session_home(tmp_path_factory):
    """Module- and session-scoped fixtures run before the per-test isolation below: without this they used the
    person's own home and its clip cache (a module fixture once got every clip from a cache an earlier fixture
    had filled, and its generator saw no request at all)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("REELWRIGHT_HOME", str(tmp_path_factory.mktemp("rw-session-home")))
    mp.setenv("REELWRIGHT_CLIP_CACHE", "off")
    for var in _SECRET_VARS:
        mp.delenv(var, raising=False)
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("rw-home")
    monkeypatch.setenv("REELWRIGHT_HOME", str(home))
    # Tests that make the same request twice mean to generate twice; the clip cache's own tests turn it on.
    monkeypatch.setenv("REELWRIGHT_CLIP_CACHE", "off")
    for var in _SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


def make_test_clip(path: Path, *, seconds: float = 2.0, width: int = 320, height: int = 180, fps: str = "24",
                   audio: bool = True, source: str = "testsrc2", vcodec: str = "libx264") -> Path:
    """An H.264/AAC clip from lavfi (moving test pattern, sine tone)."""
    args = ["-f", "lavfi", "-i", f"{source}=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", vcodec, "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-ac", "2", "-shortest"]
    args += [str(path)]
    run_ffmpeg(args)
    return path


@pytest.fixture
def make_clip(tmp_path):
    counter = {"n": 0}

    def _make(**kw) -> Path:
        counter["n"] += 1
        return make_test_clip(tmp_path / f"clip{counter['n']}.mp4", **kw)

    return _make
