"""A command's values replaced by ``?``: the canonical form a query shape is named and
hashed by (operators, field names and ``"$field"`` paths kept; key order inside a filter
does not matter to ``canonical``). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbtop.engines.mongodb.shell import PLACEHOLDER


def is_operator_doc(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(k, str) and k.startswith("$") for k in value)
    )


def normalize_filter(filter_doc: object) -> Any:
    """The filter with every value replaced by ``?``; operators and field names kept."""
    if not isinstance(filter_doc, Mapping):
        return PLACEHOLDER
    out: dict[str, Any] = {}
    for key, value in filter_doc.items():
        key = str(key)
        if key in ("$and", "$or", "$nor"):
            out[key] = (
                [normalize_filter(branch) for branch in value]
                if isinstance(value, list)
                else PLACEHOLDER
            )
        elif key == "$expr":
            out[key] = normalize_expression(value)
        elif key.startswith("$"):
            out[key] = PLACEHOLDER
        else:
            out[key] = _normalize_condition(value)
    return out


def _normalize_condition(value: object) -> Any:
    if not is_operator_doc(value):
        return PLACEHOLDER
    assert isinstance(value, Mapping)
    out: dict[str, Any] = {}
    for op, arg in value.items():
        if op == "$elemMatch":
            out[op] = _normalize_condition(arg) if is_operator_doc(arg) else normalize_filter(arg)
        elif op == "$not":
            out[op] = _normalize_condition(arg)
        elif op in ("$in", "$nin", "$all"):
            out[op] = [PLACEHOLDER]
        else:
            out[op] = PLACEHOLDER
    return out


def normalize_expression(value: object) -> Any:
    """An aggregation expression with literals replaced; ``"$field"`` paths are kept."""
    if isinstance(value, Mapping):
        return {str(k): normalize_expression(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_expression(v) for v in value]
    if isinstance(value, str) and value.startswith("$"):
        return value
    return PLACEHOLDER


def normalize_stage(stage: object) -> Any:
    if not isinstance(stage, Mapping) or len(stage) != 1:
        return PLACEHOLDER
    name, spec = next(iter(stage.items()))
    if name == "$match":
        return {name: normalize_filter(spec)}
    if name == "$sort":
        return {name: spec}
    if name in ("$limit", "$skip", "$sample"):
        return {name: PLACEHOLDER}
    if name in ("$lookup", "$unionWith", "$facet", "$graphLookup"):
        return {name: _normalize_nested(spec)}
    return {name: normalize_expression(spec)}


def _normalize_nested(spec: object) -> Any:
    """$lookup / $facet: names (from, as, localField) kept, sub-pipelines normalized."""
    if isinstance(spec, Mapping):
        out: dict[str, Any] = {}
        for key, value in spec.items():
            if key == "pipeline" and isinstance(value, list):
                out[key] = [normalize_stage(s) for s in value]
            elif isinstance(value, list) and all(isinstance(s, Mapping) for s in value):
                out[key] = [normalize_stage(s) for s in value]  # a $facet's pipelines
            elif isinstance(value, str):
                out[key] = value
            else:
                out[key] = normalize_expression(value)
        return out
    return normalize_expression(spec)


def canonical(value: Any) -> str:
    """A text equal for shapes equal up to key order inside filter documents."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{canonical(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if value is PLACEHOLDER:
        return "?"
    return repr(value)
