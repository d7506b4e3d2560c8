"""`ChatModel` over the official `openai` SDK's chat-completions API, for any OpenAI-compatible
server: OpenAI, xAI, OpenRouter, Ollama, vLLM. Tool calls, structured output and image inputs."""

from __future__ import annotations

import json
from typing import Any

from ..errors import ConfigError, LLMError, MissingDependencyError
from .base import (ChatModel, ChatResponse, Message, ToolCall, ToolLike, Usage, image_data, parse_arguments,
                   strict_schema)
from .limits import LOCAL_TEMPERATURE, bounded, local_budget
from .prices import PriceTable

# Model families known to take no image input; everything else is assumed to (a refusal surfaces as LLMError).
_TEXT_ONLY = ("gpt-3.5", "o1-mini", "o3-mini", "grok-3", "deepseek", "llama3", "llama-3", "qwen2.5", "mistral")


class OpenAIChat(ChatModel):
    provider = "openai"
    bound_schemas = False  # True only where the server is known to be llama.cpp (LocalChat)

    def __init__(self, model: str, *, api_key: str, base_url: str | None = None, key_env: str = "OPENAI_API_KEY",
                 timeout: float = 120.0, max_retries: int = 2, prices: PriceTable | None = None,
                 local: bool = False, supports_images: bool | None = None):
        super().__init__(model, prices=prices, local=local)
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError("the openai SDK", "pip install 'reelwright[llm]'") from exc
        self._openai = openai
        self.base_url = base_url
        self.key_env = key_env
        # OpenAI's own newer models reject max_tokens; compatible servers mostly know only max_tokens.
        self._max_tokens_field = "max_completion_tokens" if _is_openai_host(base_url) else "max_tokens"
        if supports_images is None:
            supports_images = not model.lower().startswith(_TEXT_ONLY)
        self.supports_images = supports_images
        from openai.types.chat import ChatCompletion

        self._completion_type = ChatCompletion
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def _send(self, messages: list[Message], *, system: str | None, tools: list[ToolLike],
              schema: tuple[str, dict[str, Any]] | None, max_tokens: int,
              temperature: float | None, purpose: str = "") -> ChatResponse:
        kwargs = self._body(messages, system=system, tools=tools, schema=schema, max_tokens=max_tokens,
                            temperature=temperature, purpose=purpose)
        try:
            # The documented raw `client.post`: the body is already wire-format JSON, and skipping the typed
            # create() spares its per-call parameter transform (~0.15 s CPU for an 18k-token agent context).
            completion = self._client.post("/chat/completions", body=kwargs, cast_to=self._completion_type)
        except self._openai.APITimeoutError as exc:
            raise LLMError(f"{self.name} timed out after {self._timeout_text()} ({self._where()})") from exc
        except self._openai.APIConnectionError as exc:
            raise LLMError(f"cannot reach {self.name} at {self._where()}: {exc.__cause__ or exc}") from exc
        except self._openai.AuthenticationError as exc:
            raise ConfigError(f"{self.name} rejected the API key in {self.key_env} (HTTP 401)") from exc
        except self._openai.APIStatusError as exc:
            raise LLMError(f"{self.name} failed with HTTP {exc.status_code}: {_error_text(exc)}",
                           status=exc.status_code) from exc
        except self._openai.OpenAIError as exc:
            raise LLMError(f"{self.name} call failed: {exc}") from exc
        if not completion.choices:
            raise LLMError(f"{self.name} returned no choices")
        choice = completion.choices[0]
        msg = choice.message
        if getattr(msg, "refusal", None):
            raise LLMError(f"{self.name} refused: {msg.refusal}")
        calls = []
        for i, tc in enumerate(msg.tool_calls or []):
            fn = getattr(tc, "function", None)
            if fn is None:
                continue
            args, bad = parse_arguments(fn.arguments)
            calls.append(ToolCall(id=tc.id or f"call_{i}", name=fn.name, arguments=args, arguments_error=bad))
        usage = Usage()
        if completion.usage is not None:
            usage = Usage(tokens_in=completion.usage.prompt_tokens or 0,
                          tokens_out=completion.usage.completion_tokens or 0)
        return ChatResponse(text=msg.content or "", tool_calls=calls, usage=usage, model=completion.model or "",
                            stop_reason=choice.finish_reason or "")

    def _body(self, messages: list[Message], *, system: str | None, tools: list[ToolLike],
              schema: tuple[str, dict[str, Any]] | None, max_tokens: int, temperature: float | None,
              purpose: str) -> dict[str, Any]:
        """The request body. A server on this machine or network gets a budget per purpose and a cooler
        default temperature; a known grammar engine (`bound_schemas`) also bounded strings and arrays
        (llm/limits.py says why). Any other server may be strict OpenAI, which refuses `maxLength`."""
        if self.local:
            max_tokens = local_budget(purpose, max_tokens)
            temperature = LOCAL_TEMPERATURE if temperature is None else temperature
        kwargs: dict[str, Any] = {"model": self.model, "messages": to_openai_messages(messages, system),
                                  self._max_tokens_field: max_tokens}
        if tools:
            # Strict function calling, as the SDK's own `openai.pydantic_function_tool` sends it
            # (`strict: True` with a strict schema): the arguments then always match the tool's model.
            kwargs["tools"] = [{"type": "function",
                                "function": {"name": t.name, "description": t.description,
                                             "parameters": strict_schema(t.parameters), "strict": True}}
                               for t in tools]
        if schema is not None:
            sent = strict_schema(schema[1])
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": schema[0], "schema": bounded(sent) if self.bound_schemas else sent, "strict": True}}
        if temperature is not None:
            kwargs["temperature"] = temperature
        return kwargs

    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    def _timeout_text(self) -> str:
        t = self._client.timeout
        return f"{t:g} s" if isinstance(t, (int, float)) else str(t)

    def close(self) -> None:
        self._client.close()


def to_openai_messages(messages: list[Message], system: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for m in messages:
        if m.role == "tool":
            content = m.content if not m.is_error else f"ERROR: {m.content}"
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": content})
        elif m.role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                item["tool_calls"] = [{"id": c.id, "type": "function",
                                       "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                                      for c in m.tool_calls]
            out.append(item)
        elif m.images:
            parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            for path in m.images:
                media, data = image_data(path)
                parts.append({"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}})
            out.append({"role": "user", "content": parts})
        else:
            out.append({"role": "user", "content": m.content})
    return out


def _is_openai_host(base_url: str | None) -> bool:
    if not base_url:
        return True
    from urllib.parse import urlparse

    host = (urlparse(base_url).hostname or "").lower()
    return host == "openai.com" or host.endswith(".openai.com")


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]
