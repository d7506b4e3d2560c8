"""Turns `--llm` specs into chat models: `builtin` (no model), `openai:MODEL`, `anthropic:MODEL`,
with shortcuts `xai:MODEL` and `ollama:MODEL`, and `local[:PATH.gguf]` (an embedded llama.cpp server,
llm/local.py). Keys come from the environment and are never logged."""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlparse

from ..errors import ConfigError, MissingKeyError
from .base import ChatModel
from .prices import PriceTable

BUILTIN = ("", "builtin", "none")
XAI_BASE_URL = "https://api.x.ai/v1"
OLLAMA_BASE_URL = "http://localhost:11434/v1"
PROVIDERS = ("openai", "anthropic", "xai", "ollama", "local")


def get_llm(spec: str | None, *, base_url: str | None = None, timeout: float = 120.0, max_retries: int = 2,
            prices: PriceTable | None = None) -> ChatModel | None:
    """The chat model a spec names, or None for the built-in planner.

    `base_url` (the `--llm-base-url` flag) wins over OPENAI_BASE_URL / ANTHROPIC_BASE_URL.
    Raises `MissingKeyError` naming the variable when a key is needed and not set."""
    text = (spec or "").strip()
    if text.lower() in BUILTIN:
        return None
    provider, sep, model = text.partition(":")
    provider = provider.strip().lower()
    model = model.strip()
    if provider == "local":
        from .local import local_llm

        return local_llm(model or None, timeout=timeout)
    if not sep or provider not in PROVIDERS:
        raise ConfigError(f"unknown --llm {spec!r}: use builtin, local[:PATH.gguf], openai:MODEL, anthropic:MODEL, "
                          "xai:MODEL or ollama:MODEL")
    if not model:
        raise ConfigError(f"--llm {spec!r} names no model: write {provider}:MODEL")
    if provider == "anthropic":
        return _anthropic(model, base_url, timeout, max_retries, prices)
    if provider == "xai":
        base_url = base_url or XAI_BASE_URL
    elif provider == "ollama":
        base_url = base_url or os.environ.get("OLLAMA_BASE_URL") or OLLAMA_BASE_URL
    return _openai(model, base_url, timeout, max_retries, prices, spec=text)


def _openai(model: str, base_url: str | None, timeout: float, max_retries: int, prices: PriceTable | None,
            *, spec: str) -> ChatModel:
    from .openai_chat import OpenAIChat

    base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    host = (urlparse(base_url).hostname or "").lower() if base_url else "api.openai.com"
    if base_url and not urlparse(base_url).scheme:
        raise ConfigError(f"LLM base URL {base_url!r} needs a scheme, e.g. http://127.0.0.1:11434/v1")
    local = is_local_host(host)
    if host == "x.ai" or host.endswith(".x.ai"):
        key_env = "XAI_API_KEY"
    elif host.endswith("openrouter.ai") and os.environ.get("OPENROUTER_API_KEY"):
        key_env = "OPENROUTER_API_KEY"
    else:
        key_env = "OPENAI_API_KEY"
    key = os.environ.get(key_env, "").strip()
    if not key:
        if not local:
            raise MissingKeyError(key_env, f"--llm {spec} ({host})")
        key = "not-needed"  # Ollama, vLLM and other local servers ignore the key
    return OpenAIChat(model, api_key=key, base_url=base_url, key_env=key_env, timeout=timeout,
                      max_retries=max_retries, prices=prices, local=local)


def _anthropic(model: str, base_url: str | None, timeout: float, max_retries: int,
               prices: PriceTable | None) -> ChatModel:
    from .anthropic_chat import AnthropicChat

    base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
    key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if not key:
        raise MissingKeyError("ANTHROPIC_API_KEY", f"--llm anthropic:{model}")
    host = (urlparse(base_url).hostname or "").lower() if base_url else "api.anthropic.com"
    return AnthropicChat(model, api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries,
                         prices=prices, local=is_local_host(host))


def is_local_host(host: str) -> bool:
    """localhost, loopback and private addresses: servers on this machine or network (no key, no cost)."""
    if host in ("localhost", "") or host.endswith(".local"):
        return host != ""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private
