"""Renders events for a person: a line per step, a live bar while clips generate, plain lines when
the output is not a terminal (CI, pipes)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .events import Event

_LABELS = {
    "plan": ("Drafting prompts and structuring clips", "Planned"),
    "generate": ("Generating", "Generated"),
    "regenerate": ("Regenerating", "Regenerated"),
    "check": ("Evaluating", "Evaluated"),
    "cut": ("Stitching", "Stitched"),
    "overlay": ("Overlaying text", "Overlaid text"),
    "sound": ("Mixing sound", "Mixed sound"),
    "verify": ("Verifying", "Verified"),
    "deliver": ("Delivering", "Delivered"),
    "llm": ("Model", "Model"),
    "tool": ("Tool", "Tool"),
    "edit": ("Editing", "Edited"),
    "extend": ("Extending", "Extended"),
    "run": ("Run", "Run"),
}
_BAR_STEPS = ("cut", "sound", "verify")  # steps that report their own fraction done


class ConsoleRenderer:
    def __init__(self, console: Console | None = None, verbose: bool = False):
        self.console = console or Console(stderr=True, highlight=False)
        self.verbose = verbose
        self._progress: Progress | None = None
        self._task = None
        self._live = self.console.is_terminal

    def __call__(self, event: Event) -> None:
        present, past = _LABELS.get(event.step, (event.step.capitalize(), event.step.capitalize()))
        label = past if event.status == "done" else present
        shot = f"\\[{event.shot}] " if event.shot else ""
        if event.step == "generate" and event.shot is None and event.total:
            self._generation(event)
            return
        if event.status == "progress" and event.step in _BAR_STEPS and event.progress is not None and not event.shot:
            self._step_bar(present, event.progress)
            return
        if event.status != "progress" and event.step in _BAR_STEPS:
            self._end_step_bar()
        if event.status == "progress":
            if self.verbose and event.message and event.shot:
                self._print(f"  [dim]{present} {shot}{escape(event.message)}[/]")
            return
        if event.status == "start" and event.shot and event.step == "generate" and not self.verbose:
            return
        icon = {"start": "[cyan]•[/]", "done": "[green]✓[/]", "failed": "[red]✗[/]", "retry": "[yellow]↻[/]",
                "skipped": "[dim]=[/]", "warning": "[yellow]![/]", "info": "[blue]i[/]"}.get(event.status, "•")
        extra = ""
        if event.elapsed_s is not None and event.status == "done":
            extra += f" [dim]({event.elapsed_s:.1f} s)[/]"
        if event.cost_usd:
            extra += f" [dim]${event.cost_usd:.2f}[/]"
        message = "" if event.message.lower() == present.lower() else escape(event.message)
        if event.status == "start" and not event.shot:
            message = "" if event.step in ("plan", "cut", "verify") else message
        self._print(f"{icon} {label} {shot}{message}{extra}".rstrip())

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            self.console.print(text)

    def _generation(self, event: Event) -> None:
        if event.status == "start":
            self._print(f"[cyan]•[/] Generating {event.total} clips")
            if self._live:
                self._progress = Progress(SpinnerColumn(), TextColumn("Generating clips"), BarColumn(),
                                          MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                                          transient=True)
                self._progress.start()
                self._task = self._progress.add_task("clips", total=event.total)
        elif event.status == "progress":
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, completed=event.completed or 0)
            else:
                self.console.print(f"  clips {event.completed}/{event.total}")
        elif event.status in ("done", "failed"):
            self.close()
            extra = f" [dim]({event.elapsed_s:.1f} s)[/]" if event.elapsed_s else ""
            self._print(f"[green]✓[/] {event.message}{extra}")

    def _step_bar(self, label: str, fraction: float) -> None:
        if not self._live:
            return
        if self._progress is None:
            self._progress = Progress(SpinnerColumn(), TextColumn(label), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                      TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(label, total=1.0)
        self._progress.update(self._task, completed=min(1.0, fraction))

    def _end_step_bar(self) -> None:
        if self._progress is not None and self._task is not None and self._progress.tasks and \
                self._progress.tasks[0].total == 1.0:
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
