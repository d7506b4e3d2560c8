"""Limits for chat models on this machine or network (llama.cpp, Ollama, vLLM; `--llm local`): token
budgets per purpose and bounded strings and arrays in structured output.

Why: a local model is slow (tens of tokens per second on a CPU) and a small one rambles. Measured with
SmolLM2-135M: one `subject` of 2,000 characters, a beat of "loca-tica-loca-..." until an 8,000-token
budget ran out, minutes per call. Local grammar engines (llama.cpp's json-schema-to-grammar, vLLM's,
Ollama's) enforce `maxLength` and `maxItems`, which OpenAI's strict mode does not accept, so only
local servers get them. Cloud models keep the caller's budget and the schema as written."""

from __future__ import annotations

from typing import Any

# A six-shot plan is ~800 tokens, a shot prompt ~150, a verdict ~200; an answer cut short is repaired or replaced.
LOCAL_MAX_TOKENS = {"plan": 1536, "rewrite": 384, "judge": 320, "edit": 320, "agent": 384}
LOCAL_DEFAULT_MAX_TOKENS = 1024
STRING_CHARS = 320  # ~50 words: a dense shot prompt fits, a ramble does not
ARRAY_ITEMS = 8
LOCAL_TEMPERATURE = 0.3  # llama.cpp samples at 0.8 by default; cooler keeps a small model on the request


def local_budget(purpose: str, max_tokens: int) -> int:
    return min(max_tokens, LOCAL_MAX_TOKENS.get(purpose, LOCAL_DEFAULT_MAX_TOKENS))


def bounded(schema: Any) -> Any:
    """`schema` with `maxLength` on every free string and `maxItems` on every array that has none."""
    if isinstance(schema, list):
        return [bounded(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: bounded(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "allOf", "oneOf"):
            out[key] = bounded(value)
        else:
            out[key] = value
    if out.get("type") == "string" and not {"enum", "const", "format", "pattern"} & set(out):
        out.setdefault("maxLength", STRING_CHARS)
    if out.get("type") == "array":
        out.setdefault("maxItems", max(ARRAY_ITEMS, int(out.get("minItems", 0))))
    return out
