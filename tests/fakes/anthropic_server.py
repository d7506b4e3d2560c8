"""A fake Anthropic Messages server on 127.0.0.1 for tests: scripted replies, the protocol checks
the real API makes (headers, alternating turns, tool_result ids, image blocks), recorded requests.

`schema_driven=True` answers like the openai fake's mode: structured output (`output_config.format`)
with a JSON instance of the schema sent, tools with a tool_use whose input is generated from the
tool's own input_schema; schemas the API refuses (open objects, unsupported keywords, invalid JSON
Schema) get its HTTP 400 invalid_request_error."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import random

from .openai_server import Reply, ScriptedServer, count_tokens
from .schema_fake import WORDS, anthropic_strict_problem, check_schema, instance

_ids = itertools.count(1)


class FakeAnthropic(ScriptedServer):
    """POST /v1/messages. `base_url` is what `Anthropic(base_url=...)` takes."""

    path = "/v1/messages"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def validate(self, headers: dict[str, str], body: dict[str, Any]) -> str | None:
        if not headers.get("x-api-key") and not headers.get("authorization", "").startswith("Bearer "):
            return "x-api-key or Authorization: Bearer header is required"
        if not headers.get("anthropic-version"):
            return "anthropic-version header is required"
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        if not body.get("model"):
            return "model: Field required"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        if messages[0].get("role") != "user":
            return "messages: first message must use the user role"
        pending: set[str] = set()
        for i, m in enumerate(messages):
            role = m.get("role")
            if role not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
            if i and messages[i - 1].get("role") == role:
                return f"messages.{i}: roles must alternate between user and assistant"
            content = m.get("content")
            blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
            if role == "assistant":
                if pending:
                    return f"messages.{i}: tool_use ids {sorted(pending)} have no tool_result"
                for b in blocks:
                    if b.get("type") == "tool_use":
                        if not isinstance(b.get("input"), dict):
                            return f"messages.{i}: tool_use.input must be an object"
                        pending.add(b["id"])
                continue
            seen_other = False
            for b in blocks:
                kind = b.get("type")
                if kind == "tool_result":
                    if seen_other:
                        return f"messages.{i}: tool_result blocks must come first in the user turn"
                    if b.get("tool_use_id") not in pending:
                        return f"messages.{i}: tool_result for unknown tool_use_id {b.get('tool_use_id')!r}"
                    pending.discard(b["tool_use_id"])
                    continue
                seen_other = True
                if kind == "image":
                    src = b.get("source", {})
                    if src.get("type") != "base64" or src.get("media_type") not in (
                            "image/png", "image/jpeg", "image/gif", "image/webp"):
                        return f"messages.{i}: image source must be base64 png/jpeg/gif/webp"
                    base64.b64decode(src.get("data", ""), validate=True)
                elif kind != "text":
                    return f"messages.{i}: unknown block type {kind!r}"
            if pending:
                return f"messages.{i}: tool_use ids {sorted(pending)} were not answered"
        fmt = (body.get("output_config") or {}).get("format")
        if fmt is not None:
            if fmt.get("type") != "json_schema" or "schema" not in fmt:
                return "output_config.format must be {type: json_schema, schema}"
            why = anthropic_strict_problem(fmt["schema"])
            if why:
                return f"output_config.format.schema: {why}"
        for i, t in enumerate(body.get("tools") or []):
            if "name" not in t or "input_schema" not in t:
                return "tools: each tool needs name and input_schema"
            if t["input_schema"].get("type") != "object":
                return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
            why = anthropic_strict_problem(t["input_schema"]) if t.get("strict") else check_schema(t["input_schema"])
            if why:
                return f"tools.{i}.custom.input_schema: {why}"
        return None

    def from_schema(self, body: dict[str, Any], seed: int) -> dict[str, Any] | None:
        fmt = (body.get("output_config") or {}).get("format")
        if fmt is not None:
            return json_message(instance(fmt["schema"], seed))
        rng = random.Random(seed)
        tools = list(body.get("tools") or [])
        choice = body.get("tool_choice") or {"type": "auto"}
        if not tools or choice.get("type") == "none":
            return message(" ".join(rng.choice(WORDS) for _ in range(12)))
        if choice.get("type") == "tool":
            tools = [t for t in tools if t["name"] == choice.get("name")] or tools
        tool = rng.choice(tools)
        return message(tool_uses=[(tool["name"], instance(tool["input_schema"], seed))])

    def finish(self, body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("id", f"msg_{len(self.requests)}")
        body.setdefault("type", "message")
        body.setdefault("role", "assistant")
        body.setdefault("model", request.get("model", "fake"))
        body.setdefault("stop_sequence", None)
        if "usage" not in body:
            body["usage"] = {"input_tokens": count_tokens({k: request.get(k) for k in ("system", "messages", "tools")}),
                             "output_tokens": count_tokens(body.get("content", []))}
        return body


def message(text: str | None = None, *, tool_uses: list[tuple[str, dict[str, Any]]] | None = None,
            stop_reason: str | None = None, usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """A Messages API reply: text, and tool_use blocks given as (name, input) pairs."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for name, args in tool_uses or []:
        content.append({"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": args})
    body: dict[str, Any] = {"content": content, "stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn")}
    if usage is not None:
        body["usage"] = {"input_tokens": usage[0], "output_tokens": usage[1]}
    return body


def json_message(value: Any, **kw: Any) -> dict[str, Any]:
    return message(json.dumps(value), **kw)


def overloaded(status: int = 529) -> Reply:
    return Reply({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=status,
                 headers={"retry-after-ms": "1"})
