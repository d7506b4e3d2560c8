"""Cost of an edit: regenerating one shot of a 12-shot run vs making the whole run, in generated seconds
(what a paid generator bills) and wall time, on the offline animatic.

    .venv/bin/python benchmarks/bench_edit.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from reelwright.api import make_video, plan_video
from reelwright.editing.apply import edit_run
from reelwright.runs.store import RunDir


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plan = plan_video("a 60 second video of a dog going on a walk, sniffing around, getting a pup cup, "
                          "meeting a friend", generator="veo", resolution="360p")  # Veo's 4/6/8 s grid
        plan.generator = "animatic"
        plan.brief = plan.brief.model_copy(update={"generator": "animatic"})
        shots = len(plan.shots)
        t0 = time.perf_counter()
        d = make_video(plan=plan, output=tmp / "full.mp4", runs_dir=tmp / "runs")
        full_wall = time.perf_counter() - t0
        full_seconds = sum(r.seconds_generated for r in RunDir(d.run.root).load_state().accepted.values())
        t0 = time.perf_counter()
        e = edit_run(d.run.root, "make the dog in shot 3 a golden retriever", output=tmp / "edit.mp4")
        edit_wall = time.perf_counter() - t0
    print(f"{'':<16}{'clips':>6}{'generated s':>13}{'wall s':>9}")
    print(f"{'full run':<16}{shots:>6}{full_seconds:>13.2f}{full_wall:>9.2f}")
    print(f"{'edit (shot 3)':<16}{len(e.regenerated):>6}{e.generated_seconds:>13.2f}{edit_wall:>9.2f}")
    print(f"edit/full generated seconds: {e.generated_seconds / full_seconds:.3f}; regenerated {e.regenerated}; "
          f"output {float(e.duration):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
