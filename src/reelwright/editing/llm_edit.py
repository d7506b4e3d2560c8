"""Open-ended edit requests through a chat model: the model maps words to the same typed edit operations
the built-in parser makes, so routing and dependency tracking stay in the harness."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import BriefError
from .parse import EditOp

SYSTEM = (
    "You turn a video edit request into a list of edit operations. Kinds: overlay (text, start seconds, "
    "duration seconds, position), cut_shot (shot number, -1 = last), speed (shot number or null for all, "
    "factor: 0.5 = half speed), aspect (e.g. '9:16'), trim_total (duration seconds), fade_out / fade_in "
    "(duration seconds), restyle_shot (shot, text = the instruction; route 'regenerate'), replace_shot (shot, "
    "text = the new beat; route 'regenerate'), extend_to (duration seconds). Prefer deterministic kinds; use "
    "regenerate only when pixels must change. Answer with JSON only."
)


class EditOps(BaseModel):
    ops: list[EditOp]


def edit_ops_with_llm(request: str, llm: Any, *, max_repairs: int = 1) -> list[EditOp]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": request}]
    last_error = ""
    for _ in range(max_repairs + 1):
        resp = llm.complete(messages, system=SYSTEM, response_format=EditOps, purpose="edit")
        try:
            ops = EditOps.model_validate_json(resp.text).ops
        except ValidationError as exc:
            last_error = str(exc.errors()[0]["msg"])
            messages += [{"role": "assistant", "content": resp.text},
                         {"role": "user", "content": f"That was invalid: {last_error}. Answer again with valid JSON."}]
            continue
        if ops:
            return ops
        last_error = "no operations"
    raise BriefError(f"could not turn {request!r} into edits ({last_error})")
