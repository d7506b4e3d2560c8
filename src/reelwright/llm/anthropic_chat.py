"""`ChatModel` over the official `anthropic` SDK's Messages API: tool_use blocks, structured output
(`output_config.format`) and base64 image blocks."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, LLMError, MissingDependencyError
from .base import ChatModel, ChatResponse, Message, ToolCall, ToolLike, Usage, image_data, parse_arguments
from .prices import PriceTable


class AnthropicChat(ChatModel):
    provider = "anthropic"

    def __init__(self, model: str, *, api_key: str, base_url: str | None = None, timeout: float = 120.0,
                 max_retries: int = 2, prices: PriceTable | None = None, local: bool = False):
        super().__init__(model, prices=prices, local=local)
        try:
            import anthropic
        except ImportError as exc:
            raise MissingDependencyError("the anthropic SDK", "pip install 'reelwright[llm]'") from exc
        self._anthropic = anthropic
        self.base_url = base_url
        self._timeout = timeout
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout,
                                           max_retries=max_retries)

    def _send(self, messages: list[Message], *, system: str | None, tools: list[ToolLike],
              schema: tuple[str, dict[str, Any]] | None, max_tokens: int,
              temperature: float | None, purpose: str = "") -> ChatResponse:
        kwargs: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens,
                                  "messages": to_anthropic_messages(messages)}
        if system:
            kwargs["system"] = system
        if tools:
            kwargs["tools"] = [self._tool(t) for t in tools]
        if schema is not None:
            # The SDK's own converter (what `messages.parse(output_format=Model)` sends): objects closed,
            # unsupported keywords moved into descriptions, property names untouched.
            try:
                converted = self._anthropic.transform_schema(schema[1])
            except (ValueError, AssertionError) as exc:  # no type; a type list (the SDK asserts on those)
                raise LLMError(f"{self.name}: the {schema[0]} schema cannot be made strict: {exc}") from exc
            kwargs["output_config"] = {"format": {"type": "json_schema", "schema": converted}}
        if temperature is not None:
            kwargs["temperature"] = temperature
        a = self._anthropic
        try:
            message = self._client.messages.create(**kwargs)
        except a.APITimeoutError as exc:
            raise LLMError(f"{self.name} timed out after {self._timeout:g} s ({self._where()})") from exc
        except a.APIConnectionError as exc:
            raise LLMError(f"cannot reach {self.name} at {self._where()}: {exc.__cause__ or exc}") from exc
        except a.AuthenticationError as exc:
            raise ConfigError(f"{self.name} rejected the API key in ANTHROPIC_API_KEY (HTTP 401)") from exc
        except a.APIStatusError as exc:
            detail = getattr(exc, "api_message", None) or str(getattr(exc, "message", exc))
            raise LLMError(f"{self.name} failed with HTTP {exc.status_code}: {str(detail)[:300]}",
                           status=exc.status_code) from exc
        except a.AnthropicError as exc:
            raise LLMError(f"{self.name} call failed: {exc}") from exc
        texts, calls = [], []
        for block in message.content:
            kind = getattr(block, "type", "")
            if kind == "text":
                texts.append(block.text)
            elif kind == "tool_use":
                args, bad = parse_arguments(block.input)
                calls.append(ToolCall(id=block.id, name=block.name, arguments=args, arguments_error=bad))
        if message.stop_reason == "refusal":
            raise LLMError(f"{self.name} refused the request")
        u = message.usage
        tokens_in = (u.input_tokens or 0) + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
        return ChatResponse(text="".join(texts), tool_calls=calls,
                            usage=Usage(tokens_in=tokens_in, tokens_out=u.output_tokens or 0),
                            model=str(message.model or ""), stop_reason=message.stop_reason or "")

    def _tool(self, tool: ToolLike) -> dict[str, Any]:
        """A strict tool (`strict: true`, Anthropic's structured tool use) with its input schema through
        the SDK's `transform_schema`; a schema that cannot be made strict goes as written, unenforced."""
        spec: dict[str, Any] = {"name": tool.name, "description": tool.description}
        try:
            return {**spec, "input_schema": self._anthropic.transform_schema(tool.parameters), "strict": True}
        except (ValueError, AssertionError):
            return {**spec, "input_schema": tool.parameters}

    def _where(self) -> str:
        return self.base_url or "api.anthropic.com"

    def close(self) -> None:
        self._client.close()


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Anthropic wants alternating user/assistant turns: tool results become tool_result blocks in a
    user turn, and neighbouring turns of one role merge."""
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for m in messages:
        if m.role == "tool":
            add("user", [{"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content,
                          "is_error": m.is_error}])
        elif m.role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in m.tool_calls]
            add("assistant", blocks or [{"type": "text", "text": "(no reply)"}])
        else:
            blocks = []
            for path in m.images:
                media, data = image_data(path)
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}})
            blocks.append({"type": "text", "text": m.content or "(see the images)"})
            add("user", blocks)
    return out
