"""Deltas between two snapshot documents: only the rows that changed.

A quiet server changes little from one second to the next: a few sessions' durations, a
handful of statement counters. A delta frame holds, for each row list of the document
(``sessions``, ``statements`` …), the rows that are new (whole), the fields that changed in
rows that stayed (by row key), the keys of rows that left and, only when it is not the old
order with newcomers appended, the new order; every other top-level field is kept only
when it changed. ``apply_delta(previous, make_delta(previous, current)) == current``
always; a section whose rows have no unique key is stored whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]
KeyFn = Callable[[Row], str]


def _join(*parts: Any) -> str:
    return "\x1f".join("" if p is None else str(p) for p in parts)


#: the row lists of a snapshot document and what identifies a row in each
SECTIONS: dict[str, KeyFn] = {
    "sessions": lambda r: _join(r.get("node"), r.get("id")),
    "statements": lambda r: _join(r.get("node"), r.get("id")),
    "slow_events": lambda r: _join(r.get("node"), r.get("id")),
    "indexes": lambda r: _join(r.get("node"), r.get("schema"), r.get("table"), r.get("name")),
    "tables": lambda r: _join(r.get("node"), r.get("schema"), r.get("table")),
    "keyspace": lambda r: _join(r.get("node"), r.get("database"), r.get("pattern"), r.get("type")),
    "lock_waits": lambda r: _join(
        r.get("node"), r.get("waiter"), r.get("blocker"), r.get("lock_type"), r.get("object")
    ),
    "findings": lambda r: _join(r.get("kind"), r.get("object"), r.get("message")),
}


def _keyed(rows: Sequence[Row], key: KeyFn) -> dict[str, Row] | None:
    """Rows by key, or None when two rows share a key (the section is then stored whole)."""
    by_key: dict[str, Row] = {}
    for row in rows:
        k = key(row)
        if k in by_key:
            return None
        by_key[k] = row
    return by_key


def _row_patch(old: Row, new: Row) -> dict[str, Any] | None:
    """The fields of ``new`` that differ from ``old``; None when the shapes differ."""
    if old.keys() != new.keys():
        return None
    return {name: value for name, value in new.items() if old[name] != value}


def _section_delta(old_rows: Sequence[Row], new_rows: Sequence[Row], key: KeyFn) -> Any:
    old = _keyed(old_rows, key)
    new = _keyed(new_rows, key)
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
    section: dict[str, Any] = {}
    if added:
        section["add"] = added
    if changed:
        section["set"] = changed
    if removed:
        section["del"] = removed
    order = list(new)
    if order != _expected_order(list(old), set(removed), added):
        section["order"] = order
    return section or None


def _expected_order(old_order: list[str], removed: set[str], added: Mapping[str, Row]) -> list[str]:
    kept = [k for k in old_order if k not in removed and k not in added]
    return kept + [k for k in added if k not in kept]


def make_delta(previous: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """What turns ``previous`` into ``current`` (both snapshot documents)."""
    delta: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for name, value in current.items():
        key = SECTIONS.get(name)
        before = previous.get(name)
        if key is not None and isinstance(value, list) and isinstance(before, list):
            section = _section_delta(before, value, key)
            if section is not None:
                sections[name] = section
        elif name not in previous or before != value:
            fields[name] = value
    gone = [name for name in previous if name not in current]
    if fields:
        delta["fields"] = fields
    if sections:
        delta["sections"] = sections
    if gone:
        delta["gone"] = gone
    return delta


def _apply_section(old_rows: Sequence[Row], section: Mapping[str, Any], key: KeyFn) -> list[Row]:
    if "all" in section:
        return list(section["all"])
    rows: dict[str, Row] = {key(row): row for row in old_rows}
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
        order = _expected_order([key(r) for r in old_rows], removed, added)
    rows.update(added)
    return [rows[k] for k in order]


def apply_delta(previous: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """The document ``delta`` was made for; ``previous`` is left unchanged."""
    current = dict(previous)
    for name in delta.get("gone", ()):
        current.pop(name, None)
    current.update(delta.get("fields", {}))
    for name, section in delta.get("sections", {}).items():
        current[name] = _apply_section(previous.get(name) or [], section, SECTIONS[name])
    return current
