"""A Snapshot to its JSON document and back.

The document is exactly ``dbtop.model.to_jsonable(snapshot)``, the serialisation that
``dbtop snapshot --json`` is built on, so a recording holds what the JSON output would
have said and nothing parallel to it. Going back is driven by the model's own type hints:
every dataclass, enum, datetime, tuple, frozenset and mapping field is rebuilt from its
annotation. What ``extra`` mappings hold is free-form (``Any``): it comes back as the
plain JSON it was written as, which is what the JSON output shows of it anyway. Rates are
not stored: the reader recomputes them from the previous sample (analysis.rates).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import operator
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from dbtop import model
from dbtop.model import Snapshot, frozen, to_jsonable
from dbtop.recording import delta

Decoder = Callable[[Any], Any]
_DECODERS: dict[Any, Decoder] = {}
_SNAPSHOT_FIELDS = tuple(f.name for f in dataclasses.fields(Snapshot))
_MODEL_KEYS = {name: delta.model_key(name) for name in delta.KEY_FIELDS}
_MODEL_IDENTITY = {name: operator.attrgetter(*f) for name, f in delta.KEY_FIELDS.items()}


def snapshot_to_document(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON document of ``snapshot`` without its rates (recomputed when read)."""
    document: dict[str, Any] = to_jsonable(dataclasses.replace(snapshot, rates=None))
    return document


_PLAIN = (str, int, bool, type(None))
_MAPPINGS = (types.MappingProxyType, dict)
_ROW_FIELDS: dict[type, tuple[str, ...]] = {}


def _is_plain(value: Any) -> bool:
    """JSON as it is (a NaN is not: to_jsonable makes it null)."""
    kind = type(value)
    return kind in _PLAIN or (kind is float and value == value)


def _field_json(value: Any) -> Any:
    """``to_jsonable(value)`` with the common cases done here, without recursion."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return None if value != value else value  # NaN is not JSON
    if kind is datetime:
        return value.isoformat()
    if kind is tuple and all(_is_plain(v) for v in value):
        return list(value)
    if kind in _MAPPINGS and all(type(k) is str and _is_plain(v) for k, v in value.items()):
        return dict(value)
    return to_jsonable(value)


def _names(row: Any) -> tuple[str, ...] | None:
    names = _ROW_FIELDS.get(type(row))
    if names is None and dataclasses.is_dataclass(row):
        names = _ROW_FIELDS[type(row)] = tuple(f.name for f in dataclasses.fields(row))
    return names


def row_to_jsonable(row: Any) -> Any:
    """``to_jsonable(row)`` for a model row, without recursing into plain fields (most of
    a Session's are str, None, bool or float): the same dict, several times faster."""
    names = _names(row)
    if names is None:
        return to_jsonable(row)
    return {name: _field_json(getattr(row, name)) for name in names}


def _row_update(before: Any, shown: dict[str, Any], row: Any) -> dict[str, Any]:
    """The JSON of ``row`` from that of ``before`` (same type): only the fields that
    differ are converted (an active session: its durations)."""
    names = _names(row)
    if names is None or type(before) is not type(row):
        return row_to_jsonable(row)
    updated = dict(shown)
    for name in names:
        old, new = getattr(before, name), getattr(row, name)
        if old is not new and old != new:
            updated[name] = _field_json(new)
    return updated


class Encoder:
    """``snapshot_to_document`` for a stream of snapshots of one server, fast.

    A poll of 2,000 sessions makes 2,000 new Session objects, most equal to the ones
    before: a row equal to the previous poll's row of the same key reuses its JSON form
    (the same dict object, which the delta then skips by identity) instead of serialising
    it again. The document is exactly ``snapshot_to_document``'s; :attr:`keys` holds each
    section's row keys (``delta.SECTIONS``' strings) for ``delta.make_delta``.
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict[Any, tuple[Any, Any, str]]] = {}
        #: the row keys of the last document, by section
        self.keys: dict[str, list[str]] = {}

    def document(self, snapshot: Snapshot) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for name in _SNAPSHOT_FIELDS:
            value = getattr(snapshot, name)
            if name == "rates":
                document[name] = None
            elif name in delta.KEY_FIELDS and isinstance(value, tuple):
                document[name] = self._section(name, value)
            else:
                document[name] = to_jsonable(value)
        return document

    def _section(self, name: str, rows: tuple[Any, ...]) -> list[Any]:
        before = self._rows.get(name, {})
        identity = _MODEL_IDENTITY[name]
        key_of = _MODEL_KEYS[name]
        now: dict[Any, tuple[Any, Any, str]] = {}
        out: list[Any] = []
        keys: list[str] = []
        for row in rows:
            ident = identity(row)
            seen = before.get(ident)
            if seen is None:
                entry = (row, row_to_jsonable(row), key_of(row))
            elif seen[0] is row or seen[0] == row:
                entry = (row, seen[1], seen[2])
            else:
                entry = (row, _row_update(seen[0], seen[1], row), seen[2])
            now[ident] = entry
            out.append(entry[1])
            keys.append(entry[2])
        self._rows[name] = now
        self.keys[name] = keys
        return out


def document_to_snapshot(document: Mapping[str, Any]) -> Snapshot:
    snapshot: Snapshot = _decoder(Snapshot)(document)
    return snapshot


def dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def loads(data: bytes) -> Any:
    return json.loads(data)


def _identity(value: Any) -> Any:
    return value


def _plain(value: Any) -> Any:
    """JSON as read, frozen where it is a mapping (``extra`` values are shared, uncopied)."""
    if isinstance(value, dict):
        return frozen({k: _plain(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _optional(inner: Decoder) -> Decoder:
    return lambda value: None if value is None else inner(value)


def _decoder(hint: Any) -> Decoder:
    cached = _DECODERS.get(hint)
    if cached is None:
        cached = _DECODERS[hint] = _build(hint)
    return cached


def _build(hint: Any) -> Decoder:
    if hint is Any:
        return _plain
    if hint in (str, int, float, bool, type(None)):
        # as written: an int in a float field (uptime 1234) stays 1234, as JSON said it
        return _identity
    if hint is datetime:
        return lambda value: None if value is None else datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass_decoder(hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        inner = _decoder(rest[0]) if len(rest) == 1 else _plain
        return _optional(inner) if type(None) in args else inner
    if origin is tuple and args and args[-1] is not Ellipsis:
        # a fixed-shape tuple (a wait profile's row): each position its own type
        parts = tuple(_decoder(a) for a in args)
        return lambda value: tuple(p(v) for p, v in zip(parts, value, strict=True))
    if origin is tuple:
        item = _decoder(args[0]) if args else _plain
        return lambda value: tuple(item(v) for v in value)
    if origin is frozenset:
        member = _decoder(args[0])
        return lambda value: frozenset(member(v) for v in value)
    if origin in (Mapping, dict, typing.Mapping):
        item = _decoder(args[1]) if len(args) == 2 else _plain
        if item is _plain:
            return _plain
        return lambda value: frozen({k: item(v) for k, v in value.items()})
    raise TypeError(f"the recording codec cannot rebuild {hint!r}")


def _dataclass_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls, vars(model))
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls) if f.init]

    def decode(value: Mapping[str, Any]) -> Any:
        return cls(**{name: convert(value[name]) for name, convert in fields if name in value})

    return decode
