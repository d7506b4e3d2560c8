"""The chat-model clients over the official SDKs, against fake servers on 127.0.0.1: wire format,
tool calls, structured output, images, retries, timeouts, keys and the call ledger."""

from __future__ import annotations

import base64
import json

import pytest
from tests.fakes.anthropic_server import FakeAnthropic, json_message, message, overloaded
from tests.fakes.openai_server import FakeOpenAI, Reply, completion, json_completion, rate_limited
from pydantic import BaseModel

from reelwright.errors import ConfigError, LLMError, MissingKeyError
from reelwright.llm import Message, get_llm
from reelwright.llm.prices import PriceTable

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

TOOL = {"name": "probe", "description": "Probe a clip: duration in seconds, size, fps.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}


class Answer(BaseModel):
    colour: str
    count: int


@pytest.fixture
def openai_server():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def anthropic_server(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    with FakeAnthropic() as server:
        yield server


def test_builtin_spec_gives_no_model():
    assert get_llm("builtin") is None
    assert get_llm(None) is None


def test_unknown_provider_names_the_value():
    with pytest.raises(ConfigError, match="'gemini:flash'"):
        get_llm("gemini:flash")


def test_missing_openai_key_names_the_variable():
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        get_llm("openai:gpt-4.1-mini")


def test_xai_base_url_needs_the_xai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-xai")
    with pytest.raises(MissingKeyError, match="XAI_API_KEY"):
        get_llm("openai:grok-4", base_url="https://api.x.ai/v1")


def test_missing_anthropic_key_names_the_variable():
    with pytest.raises(MissingKeyError, match="ANTHROPIC_API_KEY"):
        get_llm("anthropic:claude-sonnet-4-6")


def test_local_server_needs_no_key(openai_server):
    openai_server.push(completion("hi"))
    llm = get_llm("openai:llama3.2", base_url=openai_server.base_url)
    assert llm.complete("hello", purpose="test").text == "hi"
    assert openai_server.requests[0].headers["authorization"] == "Bearer not-needed"


def test_openai_key_is_sent_and_never_in_the_ledger(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    openai_server.push(completion("ok"))
    llm = get_llm("openai:gpt-4.1-mini")
    llm.complete("hello", purpose="test")
    assert openai_server.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in json.dumps(llm.report())


def test_openai_text_reply_is_priced_and_recorded(openai_server):
    openai_server.push(completion("a dog", usage=(1000, 200)))
    llm = get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url)
    reply = llm.complete([Message(role="user", content="what?")], system="be brief", purpose="plan")
    sent = openai_server.bodies[0]
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    # A compatible server: max_tokens, not max_completion_tokens; on 127.0.0.1 the local plan budget (llm/limits.py).
    assert sent["max_tokens"] == 1536
    assert reply.text == "a dog"
    assert (reply.usage.tokens_in, reply.usage.tokens_out) == (1000, 200)
    assert reply.cost_usd == pytest.approx((1000 * 0.40 + 200 * 1.60) / 1e6)
    record = llm.ledger[0]
    assert (record.purpose, record.model, record.ok, record.priced) == ("plan", "gpt-4.1-mini", True, True)


def test_unknown_model_costs_nothing_and_says_so(openai_server):
    openai_server.push(completion("x", usage=(10, 10)))
    llm = get_llm("openai:my-local-model", base_url=openai_server.base_url)
    llm.complete("hi", purpose="t")
    assert llm.ledger[0].cost_usd == 0 and llm.ledger[0].priced is False


def test_price_table_overrides_from_file(openai_server, tmp_path, monkeypatch):
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"date": "2027-01", "prices": {"my-local-model": [1.0, 2.0]}}))
    monkeypatch.setenv("REELWRIGHT_LLM_PRICES", str(table))
    openai_server.push(completion("x", usage=(1_000_000, 1_000_000)))
    llm = get_llm("openai:my-local-model", base_url=openai_server.base_url)
    assert llm.complete("hi", purpose="t").cost_usd == pytest.approx(3.0)
    assert llm.totals()["price_date"] == "2027-01"


def test_price_lookup_takes_the_longest_prefix():
    table = PriceTable()
    assert table.lookup("gpt-4o-mini-2024-07-18") == table.prices["gpt-4o-mini"]
    assert table.lookup("claude-sonnet-4-6") == table.prices["claude-sonnet-4"]
    assert table.lookup("gpt-5.4-mini") is None  # another family, not gpt-5


def test_openai_structured_output_sends_a_strict_schema(openai_server):
    openai_server.push(json_completion({"colour": "red", "count": 3}))
    llm = get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url)
    reply = llm.complete("answer", response_format=Answer, purpose="t")
    fmt = openai_server.bodies[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and schema["required"] == ["colour", "count"]
    assert Answer.model_validate_json(reply.text) == Answer(colour="red", count=3)


def test_openai_tool_calls_round_trip(openai_server):
    openai_server.push(completion(tool_calls=[("probe", {"path": "a.mp4"})]), completion("done"))
    llm = get_llm("openai:gpt-4.1", base_url=openai_server.base_url)
    first = llm.complete("probe a.mp4", tools=[TOOL], purpose="agent")
    assert [(c.name, c.arguments) for c in first.tool_calls] == [("probe", {"path": "a.mp4"})]
    history = [Message(role="user", content="probe a.mp4"),
               Message(role="assistant", tool_calls=first.tool_calls),
               Message(role="tool", tool_call_id=first.tool_calls[0].id, name="probe", content="2.000 s")]
    assert llm.complete(history, tools=[TOOL], purpose="agent").text == "done"
    sent = openai_server.bodies[1]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "probe", "arguments": '{"path": "a.mp4"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "2.000 s"}
    assert openai_server.bodies[0]["tools"][0]["function"]["name"] == "probe"


def test_openai_tool_call_with_broken_arguments_keeps_the_raw_text(openai_server):
    body = completion(tool_calls=[("probe", {})])
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"path": '
    openai_server.push(body)
    llm = get_llm("openai:gpt-4.1", base_url=openai_server.base_url)
    call = llm.complete("x", tools=[TOOL], purpose="agent").tool_calls[0]
    assert call.arguments == {} and call.arguments_error == '{"path": '


def test_openai_images_go_as_data_urls(openai_server, tmp_path):
    img = tmp_path / "frame.png"
    img.write_bytes(PNG_1PX)
    openai_server.push(completion("a frame"))
    llm = get_llm("openai:gpt-4.1", base_url=openai_server.base_url)
    llm.complete("describe", images=[img], purpose="judge")
    parts = openai_server.bodies[0]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "describe"}
    assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()


def test_openai_429_then_success(openai_server):
    openai_server.push(rate_limited(), completion("finally"))
    llm = get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url, max_retries=2)
    assert llm.complete("hi", purpose="t").text == "finally"
    assert len(openai_server.requests) == 2
    assert llm.ledger[-1].ok


def test_openai_400_is_not_retried(openai_server):
    openai_server.push(Reply({"error": {"message": "bad schema"}}, status=400), completion("never"))
    llm = get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url, max_retries=2)
    with pytest.raises(LLMError, match="HTTP 400: bad schema"):
        llm.complete("hi", purpose="t")
    assert len(openai_server.requests) == 1
    assert llm.ledger[-1].ok is False


def test_openai_timeout_is_a_clear_error_after_a_retry(openai_server):
    openai_server.push(Reply(hang=True), Reply(hang=True))
    llm = get_llm("openai:gpt-4.1-mini", base_url=openai_server.base_url, timeout=0.3, max_retries=1)
    with pytest.raises(LLMError, match=r"openai:gpt-4.1-mini timed out after 0.3 s"):
        llm.complete("hi", purpose="plan")
    assert len(openai_server.requests) == 2
    assert llm.ledger[-1].ok is False and "timed out" in llm.ledger[-1].error


def test_openai_rejected_key_is_a_config_error(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    openai_server.push(Reply({"error": {"message": "Incorrect API key"}}, status=401))
    llm = get_llm("openai:gpt-4.1", base_url=openai_server.base_url)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY") as info:
        llm.complete("hi", purpose="t")
    assert "sk-wrong" not in str(info.value)


def test_anthropic_text_and_system(anthropic_server):
    anthropic_server.push(message("hello", usage=(100, 20)))
    llm = get_llm("anthropic:claude-sonnet-4-6", base_url=anthropic_server.base_url)
    reply = llm.complete("hi", system="be kind", purpose="plan", max_tokens=500)
    sent = anthropic_server.requests[0]
    assert "sk-ant-test" in (sent.headers.get("x-api-key", ""), sent.headers.get("authorization", "").removeprefix("Bearer "))
    assert sent.body["system"] == "be kind" and sent.body["max_tokens"] == 500
    assert reply.text == "hello" and reply.cost_usd == pytest.approx((100 * 3 + 20 * 15) / 1e6)


def test_anthropic_structured_output_uses_output_config(anthropic_server):
    anthropic_server.push(json_message({"colour": "blue", "count": 1}))
    llm = get_llm("anthropic:claude-sonnet-4-6", base_url=anthropic_server.base_url)
    reply = llm.complete("answer", response_format=Answer, purpose="t")
    fmt = anthropic_server.bodies[0]["output_config"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"]["additionalProperties"] is False
    assert Answer.model_validate_json(reply.text).colour == "blue"


def test_anthropic_tool_use_round_trip_merges_results_into_one_user_turn(anthropic_server):
    anthropic_server.push(message("probing both", tool_uses=[("probe", {"path": "a.mp4"}), ("probe", {"path": "b.mp4"})]),
                          message("done"))
    llm = get_llm("anthropic:claude-sonnet-4-6", base_url=anthropic_server.base_url)
    first = llm.complete("probe both", tools=[TOOL], purpose="agent")
    assert [c.arguments["path"] for c in first.tool_calls] == ["a.mp4", "b.mp4"]
    history = [Message(role="user", content="probe both"),
               Message(role="assistant", content=first.text, tool_calls=first.tool_calls),
               *[Message(role="tool", tool_call_id=c.id, name=c.name, content="ok", is_error=i == 1)
                 for i, c in enumerate(first.tool_calls)]]
    assert llm.complete(history, tools=[TOOL], purpose="agent").text == "done"
    sent = anthropic_server.bodies[1]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    results = sent["messages"][2]["content"]
    assert [(b["type"], b["is_error"]) for b in results] == [("tool_result", False), ("tool_result", True)]
    # Strict tool use: the SDK's transform closes the object, the tool's own fields are untouched.
    assert sent["tools"][0]["input_schema"] == {**TOOL["parameters"], "additionalProperties": False}
    assert sent["tools"][0]["strict"] is True


def test_anthropic_images_go_as_base64_blocks(anthropic_server, tmp_path):
    img = tmp_path / "frame.png"
    img.write_bytes(PNG_1PX)
    anthropic_server.push(message("seen"))
    llm = get_llm("anthropic:claude-sonnet-4-6", base_url=anthropic_server.base_url)
    llm.complete("describe", images=[img], purpose="judge")
    block = anthropic_server.bodies[0]["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": base64.b64encode(PNG_1PX).decode()}}


def test_anthropic_overloaded_then_success(anthropic_server):
    anthropic_server.push(overloaded(), message("ok"))
    llm = get_llm("anthropic:claude-haiku-4-5", base_url=anthropic_server.base_url, max_retries=2)
    assert llm.complete("hi", purpose="t").text == "ok"
    assert len(anthropic_server.requests) == 2


def test_anthropic_timeout_is_a_clear_error(anthropic_server):
    anthropic_server.push(Reply(hang=True))
    llm = get_llm("anthropic:claude-haiku-4-5", base_url=anthropic_server.base_url, timeout=0.3, max_retries=0)
    with pytest.raises(LLMError, match="anthropic:claude-haiku-4-5 timed out after 0.3 s"):
        llm.complete("hi", purpose="t")


def test_text_only_model_refuses_images_before_sending(openai_server, tmp_path):
    img = tmp_path / "f.png"
    img.write_bytes(PNG_1PX)
    llm = get_llm("openai:gpt-3.5-turbo", base_url=openai_server.base_url)
    with pytest.raises(LLMError, match="does not accept images"):
        llm.complete("x", images=[img], purpose="judge")
    assert openai_server.requests == []

