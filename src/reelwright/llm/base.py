"""The chat-model interface every language-layer part talks to (`ChatModel.complete`), its
provider-neutral messages, and the ledger of calls with tokens, latency and cost."""

from __future__ import annotations

import abc
import base64
import json
import mimetypes
import re
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputFileError, LLMError
from .prices import PriceTable, default_prices

Role = Literal["user", "assistant", "tool"]


class ToolCall(BaseModel):
    """One function call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_error: str | None = None  # the raw text, when the model's arguments were not a JSON object


class Message(BaseModel):
    """A provider-neutral chat message. Each client converts it to its own wire format."""

    model_config = ConfigDict(extra="forbid")
    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)  # assistant turns that called tools
    tool_call_id: str | None = None  # tool results: the call answered
    name: str | None = None  # tool results: the tool's name
    is_error: bool = False  # tool results: the call failed
    images: list[Path] = Field(default_factory=list)  # user turns: images shown to the model


class Usage(BaseModel):
    tokens_in: int = 0
    tokens_out: int = 0
    estimated: bool = False  # the server sent no usage; counted as characters / 4


class ChatResponse(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    cost_usd: float = 0.0
    model: str = ""
    stop_reason: str = ""

    def json_text(self) -> str:
        """The reply with any Markdown code fence around a JSON document removed."""
        return strip_json_fence(self.text)


class CallRecord(BaseModel):
    """One model call, as written to report.json."""

    purpose: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    priced: bool = True  # False: the model is not in the price table, cost_usd is 0
    ok: bool = True
    error: str = ""


class ToolLike(BaseModel):
    """The shape of a tool the model may call (the Toolbox's ToolSpec has the same fields)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


MessageLike = Message | dict[str, Any]


class ChatModel(abc.ABC):
    """A chat model behind one provider SDK.

    Subclasses implement `_send`; `complete` normalises messages, times the call, prices it and
    appends a `CallRecord` to `ledger` whether it succeeded or not."""

    provider: ClassVar[str] = ""
    supports_tools: bool = True
    supports_images: bool = True

    def __init__(self, model: str, *, prices: PriceTable | None = None, local: bool = False):
        if not model:
            raise ValueError("a chat model needs a model name")
        self.model = model
        self.prices = prices or default_prices()
        self.local = local  # a server on this machine or network: no key needed
        self.ledger: list[CallRecord] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{self.provider}:{self.model}"

    def complete(
        self,
        messages: Sequence[MessageLike] | str,
        *,
        system: str | None = None,
        tools: Iterable[Any] | None = None,
        response_format: type[BaseModel] | dict[str, Any] | None = None,
        images: Sequence[Path] = (),
        purpose: str,
        max_tokens: int = 4096,
        temperature: float | None = None,
    ) -> ChatResponse:
        """Send a conversation and return the reply.

        `response_format` (a pydantic model or a JSON schema) asks for structured output; the
        reply's `text` is then the JSON document. `images` are attached to the last user turn.
        Raises `LLMError` once the SDK's own retries (408/409/429/5xx, timeouts) are spent."""
        msgs = normalise_messages(messages, images)
        if any(m.images for m in msgs) and not self.supports_images:
            raise LLMError(f"{self.name} does not accept images (purpose {purpose})")
        specs = [as_tool(t) for t in tools] if tools else []
        # Each client turns the plain schema into its provider's strict subset (see `_send`).
        schema = plain_schema(response_format) if response_format is not None else None
        started = time.perf_counter()
        try:
            response = self._send(msgs, system=system, tools=specs, schema=schema, max_tokens=max_tokens,
                                  temperature=temperature, purpose=purpose)
        except LLMError as exc:
            self._record(CallRecord(purpose=purpose, model=self.model, latency_s=time.perf_counter() - started,
                                    ok=False, error=str(exc)[:300]))
            raise
        response.latency_s = time.perf_counter() - started
        if response.usage.tokens_in == 0 and response.usage.tokens_out == 0:
            response.usage = Usage(tokens_in=estimate_tokens(msgs, system, specs, schema),
                                   tokens_out=max(1, len(response.text) // 4), estimated=True)
        priced = self.prices.knows(self.model)
        response.cost_usd = self.prices.cost(self.model, response.usage.tokens_in, response.usage.tokens_out)
        response.model = response.model or self.model
        self._record(CallRecord(purpose=purpose, model=self.model, tokens_in=response.usage.tokens_in,
                                tokens_out=response.usage.tokens_out, latency_s=round(response.latency_s, 4),
                                cost_usd=response.cost_usd, priced=priced))
        return response

    @abc.abstractmethod
    def _send(self, messages: list[Message], *, system: str | None, tools: list[ToolLike],
              schema: tuple[str, dict[str, Any]] | None, max_tokens: int,
              temperature: float | None, purpose: str = "") -> ChatResponse:
        """Call the provider once (the SDK retries transient failures) and translate the reply.

        `schema` and each tool's `parameters` are plain JSON schemas (as pydantic writes them); the
        client converts them to what its provider enforces (`strict_schema` for OpenAI-compatible
        servers, the anthropic SDK's `transform_schema` for Anthropic)."""

    def _record(self, record: CallRecord) -> None:
        with self._lock:
            self.ledger.append(record)

    def totals(self) -> dict[str, Any]:
        """Calls, tokens and cost so far, for report.json."""
        with self._lock:
            records = list(self.ledger)
        return {
            "calls": len(records),
            "failed": sum(not r.ok for r in records),
            "tokens_in": sum(r.tokens_in for r in records),
            "tokens_out": sum(r.tokens_out for r in records),
            "cost_usd": round(sum(r.cost_usd for r in records), 6),
            "latency_s": round(sum(r.latency_s for r in records), 4),
            "price_date": self.prices.date,
        }

    def report(self) -> dict[str, Any]:
        return {"model": self.name, "totals": self.totals(), "calls": [r.model_dump() for r in self.ledger]}

    def close(self) -> None:
        pass


def normalise_messages(messages: Sequence[MessageLike] | str, images: Sequence[Path] = ()) -> list[Message]:
    if isinstance(messages, str):
        messages = [Message(role="user", content=messages)]
    out = [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]
    if not out:
        raise ValueError("a chat call needs at least one message")
    if images:
        last_user = max((i for i, m in enumerate(out) if m.role == "user"), default=None)
        if last_user is None:
            out.append(Message(role="user", images=list(images)))
        else:
            out[last_user] = out[last_user].model_copy(update={"images": [*out[last_user].images, *images]})
    return out


def as_tool(tool: Any) -> ToolLike:
    if isinstance(tool, ToolLike):
        return tool
    if isinstance(tool, dict):
        return ToolLike.model_validate(tool)
    return ToolLike(name=tool.name, description=getattr(tool, "description", ""),
                    parameters=getattr(tool, "parameters", None) or {"type": "object", "properties": {}})


def plain_schema(fmt: type[BaseModel] | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, JSON schema as written) for structured output from a pydantic model or a raw schema."""
    if isinstance(fmt, dict):
        return _safe_name(str(fmt.get("title") or "response")), fmt
    return _safe_name(fmt.__name__), fmt.model_json_schema()


def response_schema(fmt: type[BaseModel] | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, strict JSON schema) for OpenAI-style strict structured output."""
    name, schema = plain_schema(fmt)
    return name, strict_schema(schema)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "response"


# Where a JSON schema holds sub-schemas. Everything else is a keyword's value (a property *name* such as
# `title` is a key of `properties`, not a keyword), so the walk below only strips keywords at schema level.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames")
_DROPPED = ("default", "title")
# The keywords OpenAI's strict mode accepts (its Structured Outputs guide, "Supported schemas"); anything
# else is refused with HTTP 400, so it is moved into the description where the model can still read it.
STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "$ref", "$defs",
    "definitions", "description", "title", "pattern", "format", "multipleOf", "maximum", "exclusiveMaximum",
    "minimum", "exclusiveMinimum", "minItems", "maxItems"})
STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the subset OpenAI's strict structured output (and strict function calling)
    accepts: every object closed (`additionalProperties: false`) with all its properties required,
    no `default` or `title` keywords, no `$ref` with siblings (inlined), and keywords or string
    formats outside the subset moved into the description. Optional fields stay optional by
    allowing null.

    Why not the SDK's own `openai.lib._pydantic.to_strict_json_schema`: it is private, takes only
    pydantic models, and keeps non-null defaults, which the API refuses ("'default' is not
    permitted", openai/openai-agents-python#4390).

    The walk follows the schema's structure: keywords are dropped only where they are keywords, so
    a model whose *fields* are named `title`, `default`, `type`, `items`... keeps them."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}

    def resolve(ref: str) -> dict[str, Any]:
        name = ref.rsplit("/", 1)[-1]
        if not ref.startswith("#/") or name not in defs:
            raise ValueError(f"cannot resolve $ref {ref!r}")
        return defs[name]

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if "$ref" in node and len([k for k in node if k not in _DROPPED]) > 1:
            # `{"$ref": ..., "description": ...}` (pydantic's nested model with a description): inline it.
            node = {**resolve(node["$ref"]), **{k: v for k, v in node.items() if k != "$ref"}}
        if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = {**{k: v for k, v in node.items() if k != "allOf"}, **node["allOf"][0]}
        out: dict[str, Any] = {}
        notes: list[str] = []
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key == "format" and value not in STRICT_FORMATS:
                notes.append(f"format: {value}")
            elif key not in STRICT_KEYWORDS and key not in ("oneOf", "allOf"):
                notes.append(f"{key}: {json.dumps(value)}")
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS and isinstance(value, list):
                out["anyOf" if key == "oneOf" else key] = [walk(sub) for sub in value]
            elif key in _SCHEMA_ONE and isinstance(value, dict):
                out[key] = walk(value)
            else:
                out[key] = value
        if notes:
            out["description"] = (out.get("description", "") + "\n\n" if out.get("description") else "") + \
                "{" + ", ".join(notes) + "}"
        if out.get("type") == "object" or isinstance(out.get("properties"), dict):
            props = out.get("properties", {})
            out["type"] = "object"
            out["properties"] = props
            out["additionalProperties"] = False
            out["required"] = list(props)
        return out

    return walk(schema)


def image_data(path: Path) -> tuple[str, str]:
    """(media type, base64 data) of an image file, for inline image inputs."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputFileError(f"cannot read image {p}: {exc.strerror or exc}") from exc
    media = mimetypes.guess_type(p.name)[0] or "image/png"
    if media not in ("image/png", "image/jpeg", "image/gif", "image/webp"):
        raise InputFileError(f"image {p} is {media}; models accept PNG, JPEG, GIF or WebP")
    return media, base64.b64encode(raw).decode("ascii")


def estimate_tokens(messages: Sequence[Message], system: str | None = None, tools: Sequence[ToolLike] = (),
                    schema: tuple[str, dict[str, Any]] | None = None) -> int:
    """A provider-independent size estimate: about four characters per token, images ~800 each."""
    chars = len(system or "")
    for m in messages:
        chars += len(m.content) + 16
        for call in m.tool_calls:
            chars += len(call.name) + len(json.dumps(call.arguments)) + 16
        chars += 3200 * len(m.images)
    for t in tools:
        chars += len(t.name) + len(t.description) + len(json.dumps(t.parameters))
    if schema is not None:
        chars += len(json.dumps(schema[1]))
    return max(1, chars // 4)


_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*\n(.*?)\n?```\s*$", re.S)


def strip_json_fence(text: str) -> str:
    m = _FENCE.match(text or "")
    return m.group(1).strip() if m else (text or "").strip()


def parse_arguments(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments as a dict, or ({}, raw text) when the model sent something else."""
    if isinstance(raw, dict):
        return raw, None
    if not raw:
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}, raw
    return (value, None) if isinstance(value, dict) else ({}, raw)
