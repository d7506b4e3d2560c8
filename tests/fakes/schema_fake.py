"""What a schema-enforcing chat API does with the schema a client sends, for the fake servers:

- `instance(schema, seed)`: a JSON value valid against the schema (what strict structured output
  guarantees and nothing more), deterministic per seed. Honours type (and type lists), enum, const,
  anyOf/oneOf/allOf, $ref/$defs, properties/required, minItems/maxItems, minimum/maximum and their
  exclusive forms, minLength/maxLength and the common string formats.
- `openai_strict_problem` / `anthropic_strict_problem`: the reason the real API refuses a schema
  (None when it accepts it), so a fake refuses what the provider refuses.

The answers derive only from the request: a client that drops or renames a field its validator
needs is caught here, unlike a scripted reply written to match the client."""

from __future__ import annotations

import random
from typing import Any

from jsonschema import Draft202012Validator, SchemaError

WORDS = ("dog", "walk", "park", "golden", "light", "street", "friend", "cup", "close", "wide", "slow", "morning",
         "bottle", "gym", "hands", "water", "smile", "city", "rain", "coffee", "shot", "frame", "warm", "soft")

# OpenAI strict mode ("Supported schemas" in its Structured Outputs guide): these keywords only.
OPENAI_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "$ref", "$defs",
    "definitions", "description", "title", "pattern", "format", "multipleOf", "maximum", "exclusiveMaximum",
    "minimum", "exclusiveMinimum", "minItems", "maxItems"})
OPENAI_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
# Anthropic structured outputs (what the anthropic SDK's transform_schema keeps; the rest it moves into the
# description because the API refuses it): no numeric bounds, string lengths, or minItems above 1.
ANTHROPIC_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "allOf", "enum", "const", "$ref",
    "$defs", "definitions", "description", "title", "format", "minItems"})
ANTHROPIC_FORMATS = OPENAI_FORMATS | {"uri"}


class SchemaRefused(ValueError):
    """The schema is not one the API accepts; the message is the API's reason."""


# ------------------------------------------------------------------------------------------- instances
def instance(schema: dict[str, Any], seed: int = 0) -> Any:
    """A value valid against `schema`, the same for the same (schema, seed)."""
    return _Gen(schema, random.Random(seed)).value(schema, depth=0)


class _Gen:
    def __init__(self, root: dict[str, Any], rng: random.Random):
        self.root = root
        self.rng = rng

    def resolve(self, ref: str) -> dict[str, Any]:
        if not ref.startswith("#/"):
            raise SchemaRefused(f"$ref {ref!r} must point inside the schema (#/...)")
        node: Any = self.root
        for part in ref[2:].split("/"):
            if not isinstance(node, dict) or part not in node:
                raise SchemaRefused(f"$ref {ref!r} does not resolve")
            node = node[part]
        return node

    def value(self, s: dict[str, Any] | bool, depth: int) -> Any:
        if s is True or s == {}:
            return self.rng.choice(WORDS)
        if depth > 12:
            raise SchemaRefused("schema nests deeper than 12 levels")
        if "$ref" in s:
            merged = {**self.resolve(s["$ref"]), **{k: v for k, v in s.items() if k != "$ref"}}
            return self.value(merged, depth + 1)
        if "allOf" in s:
            merged = {k: v for k, v in s.items() if k != "allOf"}
            for part in s["allOf"]:
                part = self.resolve(part["$ref"]) if "$ref" in part else part
                for k, v in part.items():
                    if k == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **v}
                    elif k == "required":
                        merged["required"] = [*merged.get("required", []), *v]
                    else:
                        merged.setdefault(k, v)
            return self.value(merged, depth + 1)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return self.rng.choice(list(s["enum"]))
        for key in ("anyOf", "oneOf"):
            if key in s:
                # Prefer non-null branches (a model fills optional fields about half the time).
                options = list(s[key])
                non_null = [o for o in options if o.get("type") != "null"]
                pick = self.rng.choice(non_null) if non_null and self.rng.random() < 0.6 else self.rng.choice(options)
                rest = {k: v for k, v in s.items() if k not in (key, "description", "title", "default")}
                return self.value({**rest, **pick}, depth + 1)
        kind = s.get("type")
        if isinstance(kind, list):
            kind = self.rng.choice(kind)
        if kind is None:
            kind = "object" if "properties" in s else "array" if "items" in s else "string"
        return getattr(self, f"_{kind}")(s, depth)

    def _null(self, s: dict[str, Any], depth: int) -> None:
        return None

    def _boolean(self, s: dict[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5

    def _bounds(self, s: dict[str, Any]) -> tuple[float, float]:
        lo = s.get("minimum", s.get("exclusiveMinimum", 0))
        hi = s.get("maximum", s.get("exclusiveMaximum", max(lo, 0) + 10))
        return float(lo), float(hi)

    def _number(self, s: dict[str, Any], depth: int) -> float:
        lo, hi = self._bounds(s)
        for _ in range(100):
            v = round(self.rng.uniform(lo, hi), 3)
            if ("exclusiveMinimum" in s and v <= s["exclusiveMinimum"]) or (
                    "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]):
                continue
            if "multipleOf" in s:
                v = round(v / s["multipleOf"]) * s["multipleOf"]
            return v
        raise SchemaRefused(f"no number fits {s}")

    def _integer(self, s: dict[str, Any], depth: int) -> int:
        lo, hi = self._bounds(s)
        lo_i = int(lo) + (1 if "exclusiveMinimum" in s and int(lo) == lo else 0)
        hi_i = int(hi) - (1 if "exclusiveMaximum" in s and int(hi) == hi else 0)
        if lo_i > hi_i:
            raise SchemaRefused(f"no integer fits {s}")
        return self.rng.randint(lo_i, hi_i)

    def _string(self, s: dict[str, Any], depth: int) -> str:
        fmt = s.get("format")
        fixed = {"date-time": "2026-05-01T12:00:00Z", "date": "2026-05-01", "time": "12:00:00", "duration": "PT5S",
                 "email": "a@example.com", "hostname": "example.com", "ipv4": "127.0.0.1", "ipv6": "::1",
                 "uuid": "123e4567-e89b-12d3-a456-426614174000", "uri": "https://example.com/a"}.get(fmt)
        if fixed is not None:
            return fixed
        lo, hi = int(s.get("minLength", 1)), int(s.get("maxLength", 80))
        text = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(1, 6)))
        while len(text) < lo:
            text += " " + self.rng.choice(WORDS)
        return text[:hi]

    def _array(self, s: dict[str, Any], depth: int) -> list[Any]:
        lo = int(s.get("minItems", 0))
        hi = int(s.get("maxItems", max(lo, 4)))
        n = self.rng.randint(max(lo, min(1, hi)), max(lo, min(hi, lo + 4)))
        return [self.value(s.get("items", {}), depth + 1) for _ in range(n)]

    def _object(self, s: dict[str, Any], depth: int) -> dict[str, Any]:
        props = s.get("properties", {})
        required = set(s.get("required", []))
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in required or self.rng.random() < 0.5:
                out[name] = self.value(sub, depth + 1)
        return out


# ------------------------------------------------------------------------------------------- refusals
def check_schema(schema: Any) -> str | None:
    """Why `schema` is not valid JSON Schema (the 2020-12 metaschema), or None."""
    if not isinstance(schema, dict):
        return "schema must be a JSON object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"invalid JSON schema: {exc.message}"
    return None


def _walk(node: Any, path: tuple[str, ...] = ()):
    """Every sub-schema with its path (property names are keys of `properties`, never keywords)."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas") \
                and isinstance(value, dict):
            for name, sub in value.items():
                yield from _walk(sub, (*path, key, name))
        elif key in ("anyOf", "allOf", "oneOf", "prefixItems") and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _walk(sub, (*path, key, str(i)))
        elif key in ("items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames") \
                and isinstance(value, dict):
            yield from _walk(value, (*path, key))


def _context(path: tuple[str, ...]) -> str:
    return f"In context={path!r}"


def openai_strict_problem(schema: Any) -> str | None:
    """OpenAI's reason to refuse a strict schema (its wording: "Invalid schema ...: In context=(...), ...")."""
    bad = check_schema(schema)
    if bad:
        return bad
    if schema.get("type") != "object" or "anyOf" in schema:
        return "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"%s\"'." % schema.get("type")
    for path, node in _walk(schema):
        extra = sorted(k for k in node if k not in OPENAI_KEYWORDS)
        if extra:
            return f"{_context(path)}, '{extra[0]}' is not permitted."
        if "$ref" in node and len(node) > 1:
            return f"{_context(path)}, $ref cannot have keywords {sorted(k for k in node if k != '$ref')}."
        if node.get("format") is not None and node["format"] not in OPENAI_FORMATS:
            return f"{_context(path)}, '{node['format']}' is not a valid format."
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                return f"{_context(path)}, 'additionalProperties' is required to be supplied and to be false."
            props = list(node.get("properties", {}))
            missing = [p for p in props if p not in node.get("required", [])]
            if missing:
                return (f"{_context(path)}, 'required' is required to be supplied and to be an array including "
                        f"every key in properties. Missing '{missing[0]}'.")
    return None


def anthropic_strict_problem(schema: Any) -> str | None:
    """Anthropic's reason to refuse a structured-output or strict-tool schema."""
    bad = check_schema(schema)
    if bad:
        return bad
    for path, node in _walk(schema):
        where = ".".join(path) or "(root)"
        extra = sorted(k for k in node if k not in ANTHROPIC_KEYWORDS)
        if extra:
            return f"output schema: {where}: keyword '{extra[0]}' is not supported"
        if node.get("format") is not None and node["format"] not in ANTHROPIC_FORMATS:
            return f"output schema: {where}: format '{node['format']}' is not supported"
        if node.get("minItems", 0) not in (0, 1):
            return f"output schema: {where}: minItems values other than 0 or 1 are not supported"
        if (node.get("type") == "object" or "properties" in node) and node.get("additionalProperties") is not False:
            return f"output schema: {where}: objects must set additionalProperties to false"
    return None
