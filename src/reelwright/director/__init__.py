"""The Director package: one job's flow as named steps (see `core.Director` for the map).

Where things are:
    core.py        Director: run_all (the flow), the operations the tools call
    production.py  Production: the state and services the steps share
    job.py         ShotJob: a shot's index, previous shot, generation length, fingerprint (computed once)
    request.py     the ClipRequest for one take (references, history, extension)
    takes.py       THE TAKE LOOP: reuse → request → reserve → generate → check → accept or revise
    limits.py      Limits and its named checks: spend, steps, takes, length
    budget.py      spend and take accounting (reserve before a take, settle after)
    schedule.py    chains of continuing shots, first appearances, the worker pool
    assembly.py    THE STITCH: shot parts, seams, concat
    verify.py      final checks and delivery
    report.py      report.json: one write, sections other steps add
"""

from .core import AfterCut, Director
from .limits import Limits
from .production import Production
from .report import Report
from .takes import ShotOutcome
from .verify import Delivery, deliver_copy

__all__ = ["AfterCut", "Delivery", "Director", "Limits", "Production", "Report", "ShotOutcome", "deliver_copy"]
