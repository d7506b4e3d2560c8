"""Chat-model clients for the language layer: the `ChatModel` interface, the OpenAI-compatible and
Anthropic clients, and `get_llm` which turns an `--llm` spec into one (or None for builtin)."""

from .base import CallRecord, ChatModel, ChatResponse, Message, ToolCall, Usage
from .prices import PriceTable, default_prices
from .registry import get_llm

__all__ = ["CallRecord", "ChatModel", "ChatResponse", "Message", "PriceTable", "ToolCall", "Usage",
           "default_prices", "get_llm"]
