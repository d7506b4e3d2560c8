"""Check a JSON request body against an official SDK's own typed parameters (the `TypedDict`s that
Stainless-generated SDKs such as `runwayml` and `lumaai` ship), so a fake refuses what the real API's
schema refuses — unknown fields, missing required fields, wrong types, values outside a `Literal` —
instead of trusting whatever the adapter happens to send.

JSON keys are the wire names: a field annotated `PropertyInfo(alias="promptText")` is `promptText` on the
wire. A `Union` of `TypedDict`s with a `Literal` `model` field is chosen by the body's `model`."""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from typing_extensions import NotRequired, Required, is_typeddict


def _unwrap(tp: Any) -> tuple[Any, str | None, bool]:
    """(the bare type, its wire alias, whether marked Required) with Annotated / Required / NotRequired
    peeled off. The SDKs' modules use `from __future__ import annotations`, so a TypedDict's own
    `__required_keys__` cannot see `Required[...]`: it is read from the resolved hints here."""
    alias, required = None, False
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            base, *meta = get_args(tp)
            for m in meta:
                alias = getattr(m, "alias", None) or alias
            tp = base
        elif origin in (Required, NotRequired, typing.Required, typing.NotRequired):
            required = required or origin in (Required, typing.Required)
            tp = get_args(tp)[0]
        else:
            return tp, alias, required


def _fields(td: Any) -> dict[str, tuple[str, Any, bool]]:
    """wire name -> (python name, type, required) for a TypedDict."""
    hints = typing.get_type_hints(td, include_extras=True)
    out = {}
    for name, hint in hints.items():
        tp, alias, required = _unwrap(hint)
        out[alias or name] = (name, tp, required or (td.__total__ and name in td.__required_keys__))
    return out


def _model_literal(td: Any) -> tuple[str, ...]:
    spec = _fields(td).get("model")
    return get_args(spec[1]) if spec and get_origin(spec[1]) is Literal else ()


def problems(value: Any, tp: Any, path: str = "body") -> list[str]:
    """What is wrong with `value` as a `tp` (empty when it fits)."""
    tp = _unwrap(tp)[0]
    origin = get_origin(tp)
    if tp is Any or tp is object:
        return []
    if is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        fields = _fields(tp)
        issues = [f"{path}.{key}: unknown field" for key in value if key not in fields]
        for key, (_, ftp, required) in fields.items():
            if key not in value:
                if required:
                    issues.append(f"{path}.{key}: required")
                continue
            issues += problems(value[key], ftp, f"{path}.{key}")
        return issues
    if origin in (Union, types.UnionType):
        options = get_args(tp)
        dicts = [o for o in options if is_typeddict(_unwrap(o)[0])]
        if isinstance(value, dict) and dicts and all(_model_literal(_unwrap(o)[0]) for o in dicts):
            chosen = [o for o in dicts if value.get("model") in _model_literal(_unwrap(o)[0])]
            if not chosen:
                names = sorted({m for o in dicts for m in _model_literal(_unwrap(o)[0])})
                return [f"{path}.model: {value.get('model')!r} is not one of {', '.join(names)}"]
            return problems(value, chosen[0], path)
        results = [problems(value, option, path) for option in options]
        return [] if any(not r for r in results) else min(results, key=len)
    if origin is Literal:
        allowed = get_args(tp)
        return [] if value in allowed and type(value) in {type(a) for a in allowed} else \
            [f"{path}: {value!r} is not one of {', '.join(map(repr, allowed))}"]
    if origin in (list, collections.abc.Iterable, collections.abc.Sequence, typing.List):
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        (item,) = get_args(tp) or (Any,)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{path}[{i}]")]
    if origin in (dict, collections.abc.Mapping):
        return [] if isinstance(value, dict) else [f"{path}: expected an object"]
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if tp is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an integer"]
    if tp is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: expected a number"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string"]
    return []  # a type this checker does not model: accepted rather than guessed at
