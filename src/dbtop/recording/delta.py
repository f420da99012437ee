"""Deltas between two snapshot documents: only the rows that changed.

A quiet server changes little from one second to the next: a few sessions' durations, a
handful of statement counters. A delta frame holds, for each row list of the document
(``sessions``, ``statements`` …), the rows that are new (whole), the fields that changed in
rows that stayed (by row key), the keys of rows that left and, only when it is not the old
order with newcomers appended, the new order; every other top-level field is kept only
when it changed. ``apply_delta(previous, make_delta(previous, current)) == current``
always; a section whose rows have no unique key is stored whole; a mapping field (the
server figures) keeps only its keys that changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]
KeyFn = Callable[[Row], str]


def _join(*parts: Any) -> str:
    return "\x1f".join("" if p is None else str(p) for p in parts)


#: the row lists of a snapshot document and the fields that identify a row in each
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "sessions": ("node", "id"),
    "statements": ("node", "id"),
    "slow_events": ("node", "id"),
    "indexes": ("node", "schema", "table", "name"),
    "tables": ("node", "schema", "table"),
    "keyspace": ("node", "database", "pattern", "type"),
    "lock_waits": ("node", "waiter", "blocker", "lock_type", "object"),
    "findings": ("kind", "object", "message"),
}


def _document_key(names: tuple[str, ...]) -> KeyFn:
    return lambda row: _join(*(row.get(name) for name in names))


def model_key(section: str) -> Callable[[Any], str]:
    """The same key, read from a model row (Session, Statement …) instead of its JSON."""
    names = KEY_FIELDS[section]
    return lambda row: _join(*(getattr(row, name, None) for name in names))


SECTIONS: dict[str, KeyFn] = {name: _document_key(f) for name, f in KEY_FIELDS.items()}


def _keyed(
    rows: Sequence[Row], key: KeyFn, keys: Sequence[str] | None = None
) -> dict[str, Row] | None:
    """Rows by key, or None when two rows share a key (the section is then stored whole).
    ``keys``, when given, are the rows' keys already computed (codec.Encoder)."""
    listed = list(keys) if keys is not None and len(keys) == len(rows) else [key(r) for r in rows]
    by_key = dict(zip(listed, rows, strict=True))
    return by_key if len(by_key) == len(rows) else None


def _row_patch(old: Row, new: Row) -> dict[str, Any] | None:
    """The fields of ``new`` that differ from ``old``; None when the shapes differ."""
    if old.keys() != new.keys():
        return None
    return {name: value for name, value in new.items() if old[name] != value}


def _section_delta(
    old_rows: Sequence[Row],
    new_rows: Sequence[Row],
    key: KeyFn,
    old_keys: Sequence[str] | None = None,
    new_keys: Sequence[str] | None = None,
) -> Any:
    old = _keyed(old_rows, key, old_keys)
    new = _keyed(new_rows, key, new_keys)
    if old is None or new is None:
        return {"all": list(new_rows)}
    added: dict[str, Row] = {}
    changed: dict[str, dict[str, Any]] = {}
    for k, row in new.items():
        before = old.get(k)
        if before is None:
            added[k] = row
            continue
        if before is row or before == row:
            continue
        patch = _row_patch(before, row)
        if patch is None:
            added[k] = row
        else:
            changed[k] = patch
    removed = [k for k in old if k not in new]
    return section(added, changed, removed, list(old), list(new))


def section(
    added: dict[str, Row],
    changed: dict[str, Any],
    removed: list[str],
    old_order: list[str],
    new_order: list[str],
) -> dict[str, Any] | None:
    """One keyed section's delta from its rows added, changed and removed (None: nothing
    changed); the order only when applying the rest would not give it (the live history
    builds these from objects, make_delta from documents: one shape for both)."""
    result: dict[str, Any] = {}
    if added:
        result["add"] = added
    if changed:
        result["set"] = changed
    if removed:
        result["del"] = removed
    expected = (
        old_order if not added and not removed else _expected_order(old_order, set(removed), added)
    )
    if new_order != expected:
        result["order"] = new_order
    return result or None


def _expected_order(old_order: list[str], removed: set[str], added: Mapping[str, Row]) -> list[str]:
    kept = [k for k in old_order if k not in removed and k not in added]
    return kept + [k for k in added if k not in kept]


def make_delta(
    previous: Mapping[str, Any],
    current: Mapping[str, Any],
    previous_keys: Mapping[str, Sequence[str]] | None = None,
    current_keys: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """What turns ``previous`` into ``current`` (both snapshot documents); the ``keys``
    are each section's row keys when the caller has them already (codec.Encoder)."""
    delta: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    patches: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for name, value in current.items():
        key = SECTIONS.get(name)
        before = previous.get(name)
        if key is not None and isinstance(value, list) and isinstance(before, list):
            section = _section_delta(
                before,
                value,
                key,
                (previous_keys or {}).get(name),
                (current_keys or {}).get(name),
            )
            if section is not None:
                sections[name] = section
        elif isinstance(value, dict) and isinstance(before, dict):
            # a mapping (server, capabilities, extra): only its keys that changed
            if before is not value and before != value:
                changed = {k: v for k, v in value.items() if k not in before or before[k] != v}
                removed = [k for k in before if k not in value]
                patches[name] = {"set": changed, "del": removed} if removed else {"set": changed}
        elif name not in previous or before != value:
            fields[name] = value
    gone = [name for name in previous if name not in current]
    if fields:
        delta["fields"] = fields
    if patches:
        delta["patch"] = patches
    if sections:
        delta["sections"] = sections
    if gone:
        delta["gone"] = gone
    return delta


def _apply_section(
    old_rows: Sequence[Row],
    section: Mapping[str, Any],
    key: KeyFn,
    old_keys: Sequence[str] | None = None,
) -> tuple[list[Row], list[str]]:
    """The section's new rows, and their keys."""
    if "all" in section:
        rows_all = list(section["all"])
        return rows_all, [key(row) for row in rows_all]
    if old_keys is None or len(old_keys) != len(old_rows):
        old_keys = [key(row) for row in old_rows]
    rows: dict[str, Row] = dict(zip(old_keys, old_rows, strict=True))
    removed = set(section.get("del", ()))
    for k in removed:
        rows.pop(k, None)
    for k, patch in section.get("set", {}).items():
        merged = dict(rows[k])  # a new row: the previous document's stays as it was
        merged.update(patch)
        rows[k] = merged
    added: Mapping[str, Row] = section.get("add", {})
    order = section.get("order")
    if order is None:
        order = _expected_order(list(old_keys), removed, added)
    rows.update(added)
    return [rows[k] for k in order], list(order)


def apply_delta(previous: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """The document ``delta`` was made for; ``previous`` is left unchanged."""
    return apply_delta_keyed(previous, delta, {})[0]


def apply_delta_keyed(
    previous: Mapping[str, Any],
    delta: Mapping[str, Any],
    previous_keys: Mapping[str, Sequence[str]],
) -> tuple[dict[str, Any], dict[str, Sequence[str]]]:
    """:func:`apply_delta`, given and giving the sections' row keys (a reader rolling a
    chain forward computes each row's key once, not once per delta)."""
    current = dict(previous)
    keys = dict(previous_keys)
    for name in delta.get("gone", ()):
        current.pop(name, None)
        keys.pop(name, None)
    for name in delta.get("fields", {}):
        keys.pop(name, None)
    current.update(delta.get("fields", {}))
    for name, patch in delta.get("patch", {}).items():
        merged = dict(previous.get(name) or {})
        merged.update(patch.get("set", {}))
        for key in patch.get("del", ()):
            merged.pop(key, None)
        current[name] = merged
    for name, section in delta.get("sections", {}).items():
        current[name], keys[name] = _apply_section(
            previous.get(name) or [], section, SECTIONS[name], previous_keys.get(name)
        )
    return current, keys
