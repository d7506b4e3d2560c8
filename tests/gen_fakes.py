"""In-process test generators (registered with `reelwright.generators.register`): lavfi clips with
scripted faults, to exercise the Director's checks, retries, budget and resume."""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest

from reelwright.errors import GeneratorError, ModerationError
from reelwright.generators.base import Capabilities, ClipRequest, ClipResult, Generator
from reelwright.media.ffmpeg import run_ffmpeg


class ScriptedGenerator(Generator):
    """Makes testsrc2 clips of the requested duration. `faults` maps shot id -> list of faults to apply on
    successive attempts: 'black', 'short', 'error', 'moderation', 'interrupt'."""

    name = "scripted"
    calls: list[tuple[str, int, str]] = []
    durations_asked: list[tuple[str, Fraction]] = []
    faults: dict[str, list[str]] = {}
    durations = [Fraction(2), Fraction(3), Fraction(4)]
    price = 0.1
    lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return Capabilities(name="scripted", durations=self.durations, aspects=["16:9", "9:16", "1:1"],
                            resolutions=["360p", "480p", "720p"], price_per_second=self.price, concurrency=2,
                            audio=True, image_to_video=True, local=True)

    def generate(self, request: ClipRequest, progress=None) -> ClipResult:
        with self.lock:
            type(self).calls.append((request.shot_id, request.seed, request.prompt))
            type(self).durations_asked.append((request.shot_id, Fraction(request.duration)))
            queue = type(self).faults.get(request.shot_id, [])
            fault = queue.pop(0) if queue else None
        if fault == "error":
            raise GeneratorError("scripted failure")
        if fault == "moderation":
            raise ModerationError("scripted moderation block")
        if fault == "interrupt":
            raise KeyboardInterrupt
        seconds = Fraction(request.duration) - (1 if fault == "short" else 0)
        src = "color=c=black:" if fault == "black" else "testsrc2="
        run_ffmpeg(["-f", "lavfi", "-i", f"{src}size={request.width}x{request.height}:rate={request.fps}:duration={float(seconds)}",
                    "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={float(seconds)}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    str(request.out_path)])
        return ClipResult(path=request.out_path, duration=seconds, cost_usd=float(seconds) * self.price,
                          seconds_generated=seconds, model="scripted")

    @classmethod
    def reset(cls, faults: dict[str, list[str]] | None = None) -> None:
        cls.calls = []
        cls.durations_asked = []
        cls.faults = {k: list(v) for k, v in (faults or {}).items()}


@pytest.fixture(autouse=True)
def scripted():
    """Imported by a test module, this autouse fixture registers `scripted` and resets its script per test."""
    from reelwright.generators import register

    register("scripted", ScriptedGenerator)
    ScriptedGenerator.reset()
    yield ScriptedGenerator
