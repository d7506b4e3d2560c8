"""A fake OpenAI chat-completions server on 127.0.0.1 for tests: scripted replies (a queue, or a
function of the request), protocol checks a real server makes, and a record of every request.

With `schema_driven=True` (and nothing scripted left) it answers like a schema-enforcing model: a
structured-output request gets a JSON instance generated from the schema the client sent, a request
with tools gets a call to one of them with arguments generated from that tool's own parameter schema.
Either way it refuses, with OpenAI's status and error shape, a schema the real API refuses (strict mode:
closed objects with every property required, only the supported keywords; any schema: valid JSON Schema).

Also the scripted HTTP server plumbing the Anthropic fake reuses."""

from __future__ import annotations

import base64
import itertools
import random
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .schema_fake import WORDS, check_schema, instance, openai_strict_problem


@dataclass
class Reply:
    """One scripted answer: a JSON body with a status and headers, or `hang` (never answer in time)."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


_ids = itertools.count(1)

Responder = Callable[[dict[str, Any]], "Reply | dict[str, Any]"]


class ScriptedServer:
    """A threaded HTTP server answering POSTs from a queue of replies, then from `responder`.

    Subclasses say which path they serve and check request bodies (`validate` returns an error
    message, answered as HTTP 400 the way the real API does)."""

    path = "/"

    def __init__(self, replies: list[Reply | dict[str, Any]] | None = None, responder: Responder | None = None,
                 *, schema_driven: bool = False, seed: int = 0):
        self.queue: deque[Reply | dict[str, Any]] = deque(replies or [])
        self.responder = responder
        self.schema_driven = schema_driven
        self.seed = seed
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def push(self, *replies: Reply | dict[str, Any]) -> None:
        with self._lock:
            self.queue.extend(replies)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    def start(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def validate(self, headers: dict[str, str], body: Any) -> "str | Reply | None":
        """Why the real API refuses this request (a message for HTTP 400, or a whole Reply), or None."""
        return None

    def from_schema(self, body: dict[str, Any], seed: int) -> dict[str, Any] | None:
        """The schema-driven answer to a request, deterministic per seed."""
        return None

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error", "code": status}}

    def finish(self, body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """Fill in what a scripted body left out (ids, usage) from the request."""
        return body

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            item = self.queue.popleft() if self.queue else None
        if item is None and self.responder is None and self.schema_driven:
            try:
                item = self.from_schema(body, self.seed * 100_003 + len(self.requests))
            except Exception as exc:  # a schema no instance fits: the test sees it as an HTTP 500 naming it
                return Reply(self.error_body(500, f"fake server: no instance: {exc!r}"), status=500,
                             headers={"x-should-retry": "false"})
        if item is None and self.responder is not None:
            try:
                item = self.responder(body)
            except Exception as exc:  # a broken script shows up in the test as an HTTP 500 naming the error
                return Reply(self.error_body(500, f"fake server: responder failed: {exc!r}"), status=500,
                             headers={"x-should-retry": "false"})
        if item is None:
            return Reply(self.error_body(500, "fake server: script exhausted"), status=500,
                         headers={"x-should-retry": "false"})
        return item if isinstance(item, Reply) else Reply(item)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    body = json.loads(raw or b"null")
                except json.JSONDecodeError:
                    body = None
                with server._lock:
                    server.requests.append(Recorded("POST", self.path, headers, body))
                if self.path.split("?")[0] != server.path:
                    return self._send(Reply(server.error_body(404, f"no route {self.path}"), status=404))
                problem = server.validate(headers, body) if isinstance(body, dict) else "body is not a JSON object"
                if isinstance(problem, Reply):
                    return self._send(problem)
                if problem:
                    return self._send(Reply(server.error_body(400, problem), status=400))
                reply = server._next_reply(body)
                if reply.hang:
                    server._release.wait(30)
                    return
                if reply.status == 200 and isinstance(reply.body, dict):
                    reply = Reply(server.finish(dict(reply.body), body), reply.status, reply.headers)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                data = reply.body if isinstance(reply.body, (bytes, str)) else json.dumps(reply.body)
                payload = data.encode() if isinstance(data, str) else data
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


IMAGE_TOKENS = 256  # what providers bill a ~512 px image, roughly (width * height / 750)


def count_tokens(value: Any) -> int:
    """The fake's token count: about four characters per token of the request's JSON, and a flat
    IMAGE_TOKENS per inline image (base64 is not billed by its length)."""
    images = 0

    def strip(node: Any) -> Any:
        nonlocal images
        if isinstance(node, dict):
            if node.get("type") == "image_url" or (node.get("type") == "image" and "source" in node):
                images += 1
                return {}
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(x) for x in node]
        return node

    text = json.dumps(strip(value))
    return max(1, len(text) // 4 + images * IMAGE_TOKENS)


class FakeOpenAI(ScriptedServer):
    """POST /v1/chat/completions. `base_url` is what `OpenAI(base_url=...)` takes."""

    path = "/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def validate(self, headers: dict[str, str], body: dict[str, Any]) -> str | None:
        if not headers.get("authorization", "").startswith("Bearer "):
            return "missing bearer token"
        if not body.get("model"):
            return "you must provide a model parameter"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages must be a non-empty array"
        open_calls: set[str] = set()
        for i, m in enumerate(messages):
            role = m.get("role")
            if role not in ("system", "developer", "user", "assistant", "tool"):
                return f"messages[{i}].role {role!r} is invalid"
            if role == "assistant":
                for tc in m.get("tool_calls") or []:
                    if tc.get("type") != "function" or not isinstance(tc["function"].get("arguments"), str):
                        return f"messages[{i}].tool_calls: arguments must be a JSON string"
                    open_calls.add(tc["id"])
            elif role == "tool":
                if m.get("tool_call_id") not in open_calls:
                    return f"messages[{i}]: tool message answers unknown tool_call_id {m.get('tool_call_id')!r}"
                open_calls.discard(m["tool_call_id"])
            elif open_calls:
                return f"messages[{i}]: tool calls {sorted(open_calls)} have no tool message"
            if role == "user" and isinstance(m.get("content"), list):
                for part in m["content"]:
                    if part.get("type") == "image_url":
                        url = part["image_url"]["url"]
                        if not url.startswith("data:image/") or ";base64," not in url:
                            return f"messages[{i}]: image_url must be a data URL"
                        base64.b64decode(url.split(",", 1)[1], validate=True)
                    elif part.get("type") != "text":
                        return f"messages[{i}]: unknown content part {part.get('type')!r}"
        fmt = body.get("response_format")
        if fmt is not None:
            if fmt.get("type") != "json_schema" or "schema" not in fmt.get("json_schema", {}):
                return "response_format must be {type: json_schema, json_schema: {name, schema}}"
            spec = fmt["json_schema"]
            why = openai_strict_problem(spec["schema"]) if spec.get("strict") else check_schema(spec["schema"])
            if why:
                return self.schema_refusal(f"Invalid schema for response_format '{spec.get('name')}': {why}",
                                           "response_format", None)
        for i, t in enumerate(body.get("tools") or []):
            if t.get("type") != "function" or "name" not in t.get("function", {}):
                return "tools[] must be {type: function, function: {name, parameters}}"
            fn = t["function"]
            params = fn.get("parameters", {"type": "object", "properties": {}})
            why = openai_strict_problem(params) if fn.get("strict") else check_schema(params)
            if why:
                return self.schema_refusal(f"Invalid schema for function '{fn['name']}': {why}",
                                           f"tools[{i}].function.parameters", "invalid_function_parameters")
        return None

    def schema_refusal(self, message: str, param: str, code: str | None) -> Reply:
        """OpenAI's answer to a schema it will not enforce: HTTP 400 naming the parameter."""
        return Reply({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}},
                     status=400)

    def from_schema(self, body: dict[str, Any], seed: int) -> dict[str, Any] | None:
        fmt = body.get("response_format")
        if fmt is not None:
            return completion(json.dumps(instance(fmt["json_schema"]["schema"], seed)))
        tools = [t["function"] for t in body.get("tools") or []]
        choice = body.get("tool_choice", "auto")
        rng = random.Random(seed)
        if not tools or choice == "none":
            return completion(" ".join(rng.choice(WORDS) for _ in range(12)))
        if isinstance(choice, dict):
            tools = [t for t in tools if t["name"] == choice.get("function", {}).get("name")] or tools
        tool = rng.choice(tools)
        args = instance(tool.get("parameters", {"type": "object", "properties": {}}), seed)
        return completion(tool_calls=[(tool["name"], args)])

    def finish(self, body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("id", f"chatcmpl-{len(self.requests)}")
        body.setdefault("object", "chat.completion")
        body.setdefault("created", int(time.time()))
        body.setdefault("model", request.get("model", "fake"))
        if "usage" not in body:
            out = sum(count_tokens(c["message"]) for c in body.get("choices", []))
            prompt = count_tokens({k: request.get(k) for k in ("messages", "tools", "response_format")})
            body["usage"] = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
        return body


def completion(content: str | None = None, *, tool_calls: list[tuple[str, dict[str, Any]]] | None = None,
               finish_reason: str | None = None, usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """A chat.completion body: text, or tool calls given as (name, arguments) pairs."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"id": f"call_{next(_ids)}", "type": "function",
                                  "function": {"name": name, "arguments": json.dumps(args)}}
                                 for name, args in tool_calls]
    body: dict[str, Any] = {"choices": [{"index": 0, "message": message,
                                         "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop")}]}
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return body


def json_completion(value: Any, **kw: Any) -> dict[str, Any]:
    return completion(json.dumps(value), **kw)


def rate_limited(retry_after_ms: int = 1) -> Reply:
    return Reply({"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": "rate_limit_exceeded"}},
                 status=429, headers={"retry-after-ms": str(retry_after_ms)})
