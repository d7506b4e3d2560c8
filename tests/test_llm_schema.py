"""`strict_schema` turns a pydantic model's schema into the strict subset without touching field names:
a property called `title` (or any other JSON-schema keyword) must survive, since the validator requires it."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from reelwright.llm.base import response_schema, strict_schema

KEYWORDS = ["title", "default", "type", "description", "items", "enum", "required", "properties",
            "anyOf", "additionalProperties", "$defs", "format"]


class Inner(BaseModel):
    title: str
    default: int = 3
    type: Literal["a", "b"] = "a"


def _model_with(field: str) -> type[BaseModel]:
    # One model per keyword: a field named like the keyword, an optional sibling and a nested model.
    ns = {"__annotations__": {"value": str, "inner": Inner, "maybe": str | None}, "maybe": None}
    ns["__annotations__"]["kw"] = str
    ns["kw"] = Field(alias=field)
    return type(f"Has_{field.strip('$')}", (BaseModel,), ns)


def _objects(node, path="$"):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for k, v in node.items():
            yield from _objects(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _objects(v, f"{path}[{i}]")


@pytest.mark.parametrize("field", KEYWORDS)
def test_a_field_named_like_a_keyword_is_kept_and_required(field):
    model = _model_with(field)
    name, schema = response_schema(model)
    assert field in schema["properties"], f"property {field!r} was dropped: {json.dumps(schema)}"
    assert field in schema["required"]
    assert set(schema["required"]) == set(schema["properties"])
    # Inner model's own keyword-named fields survive inside $defs too.
    inner = schema["$defs"]["Inner"]
    assert set(inner["properties"]) == {"title", "default", "type"}
    assert inner["required"] == ["title", "default", "type"]
    for where, obj in _objects(schema):
        assert obj["additionalProperties"] is False, where
        assert set(obj["required"]) == set(obj["properties"]), where


def test_keywords_are_still_dropped_where_they_are_keywords():
    schema = strict_schema(Inner.model_json_schema())
    assert "title" not in schema  # the model's title keyword
    assert "default" not in schema["properties"]["default"]  # the default keyword of the field named default
    assert "title" not in schema["properties"]["title"]  # the field's own title keyword
    assert schema["properties"]["type"]["enum"] == ["a", "b"]


def test_an_instance_of_the_strict_schema_validates_against_the_model():
    # What a strict provider returns: every property present, optional ones may be null.
    model = _model_with("title")
    _, schema = response_schema(model)
    instance = {"value": "v", "inner": {"title": "t", "default": 1, "type": "b"}, "maybe": None, "title": "x"}
    assert set(instance) == set(schema["required"])
    parsed = model.model_validate(instance)
    assert parsed.kw == "x" and parsed.inner.title == "t"


def test_the_plan_draft_schema_keeps_title():
    from reelwright.planning.llm_planner import LLMPlanDraft

    _, schema = response_schema(LLMPlanDraft)
    assert "title" in schema["properties"] and "title" in schema["required"]
