"""The live TUI's history: the last minutes of snapshots, kept as compact frames.

Keeping every PollResult would hold thousands of Session objects per poll for 15 minutes
(hundreds of MB on a server with 2,000 connections). The frames hold the recording's
documents and deltas (``codec``, ``delta``; marshal and zstd, as they never leave the
process): a keyframe every ``keyframe_every`` samples, deltas between, so a quiet server's
15 minutes cost a few hundred kB (2,000 sessions whose idle ages move: about 6 MB), and a
moment is decoded only when the user scrubs to it.

Keeping must cost next to nothing per poll, so the deltas are made from the snapshots'
objects, not from two whole JSON documents: the engines hand the same row object on for a
row they did not read again (PostgreSQL's idle sessions between two full reads), and such
a row is known unchanged by its identity alone, without a look at its fields. A row that is
a new object is compared field by field with the previous row of its key, and only the
fields that are new objects are converted and compared as JSON. The frames are exactly
what ``delta.make_delta`` of the two documents would rebuild (``delta.apply_delta`` reads
them), so what is decoded is ``codec.snapshot_to_document`` of the snapshot appended.
"""

from __future__ import annotations

import dataclasses
import itertools
import marshal
import operator
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import zstandard

from dbtop.analysis.rates import with_rates
from dbtop.model import Snapshot, to_jsonable
from dbtop.recording import codec, delta, store

#: the live history's default span
HISTORY_S = 15 * 60.0
KEYFRAME_EVERY = 30

_SNAPSHOT_FIELDS = tuple(f.name for f in dataclasses.fields(Snapshot))

_compressor = zstandard.ZstdCompressor(level=store.ZSTD_LEVEL, write_checksum=False)
_decompressor = zstandard.ZstdDecompressor()


def _pack(payload: dict[str, Any]) -> bytes:
    # marshal, not JSON: these frames never leave the process, and marshal writes the same
    # plain data (str, numbers, None, lists, dicts) back as it was, twice as fast
    return bytes(memoryview(_compressor.compress(marshal.dumps(payload))))


def _unpack(data: bytes) -> Any:
    return marshal.loads(_decompressor.decompress(data))


@dataclass(frozen=True, slots=True)
class _Frame:
    at: float
    keyframe: bool
    data: bytes


# what the ring knows of a row of the previous sample: the row itself (held, so that no
# other object can have its id while it is known), its key, its JSON and, once read, its
# fields (compared with those of the next object of its key)
_Entry = tuple[Any, str, dict[str, Any], tuple[Any, ...] | None]


def _document_key(names: tuple[str, ...]) -> Any:
    """``delta.SECTIONS``' key of a row, read from the row object: the key fields as JSON
    (what the reader computes from the document, so both always agree)."""
    getter = operator.attrgetter(*names)
    single = len(names) == 1

    def exact(row: Any) -> str:
        return delta._join(*(codec._field_json(getattr(row, name, None)) for name in names))

    def key(row: Any) -> str:
        try:
            parts = (getter(row),) if single else getter(row)
            # key fields are text (or None): as JSON they are themselves
            return "\x1f".join([part if part is not None else "" for part in parts])
        except (TypeError, AttributeError):
            return exact(row)

    return key


_KEYS = {name: _document_key(names) for name, names in delta.KEY_FIELDS.items()}
#: each row type's fields, read all at once (operator.attrgetter), and their positions
_FIELDS: dict[type, tuple[tuple[str, ...], Any, range]] = {}


def _fields_of(row: Any) -> tuple[tuple[str, ...], Any, range] | None:
    known = _FIELDS.get(type(row))
    if known is None:
        names = codec._names(row)
        if names is None:
            return None
        read = operator.attrgetter(*names) if len(names) > 1 else lambda r: (getattr(r, names[0]),)
        known = _FIELDS[type(row)] = (names, read, range(len(names)))
    return known


_key_of = operator.itemgetter(1)
_json_of = operator.itemgetter(2)


class _Rows:
    """One row list (sessions, statements …) of a sample, for the next sample's delta.

    ``entries`` are the rows' entries (``_Entry``) in order; holding the rows keeps their
    ids theirs, so an id found in ``by_id`` is that very row."""

    __slots__ = ("by_id", "by_key", "entries", "keys", "rows", "unique")

    def __init__(self, rows: tuple[Any, ...], ids: list[int], entries: list[_Entry]) -> None:
        self.rows = rows
        self.entries = entries
        self.by_id = dict(zip(ids, entries, strict=True))
        self.keys: list[str] = list(map(_key_of, entries))
        self.by_key = dict(zip(self.keys, entries, strict=True))
        self.unique = len(self.by_key) == len(entries)

    def documents(self) -> list[dict[str, Any]]:
        return list(map(_json_of, self.entries))


def _rows(name: str, rows: tuple[Any, ...], old: _Rows | None) -> tuple[Any, _Rows]:
    """The section delta from ``old`` to ``rows`` (None when nothing changed, or when there
    is no ``old``) and the rows' state for the next one."""
    if old is not None and rows is old.rows:
        return None, old  # the very tuple of the previous sample
    before_by_key = old.by_key if old is not None else {}
    ids = list(map(id, rows))
    # the rows that are the previous sample's objects: unchanged, whatever their fields
    # say; found in one pass of C, so that an unchanged row costs next to nothing
    entries: list[Any] = list(map((old.by_id if old is not None else {}).get, ids))
    stayed = len(rows)
    added: dict[str, Any] = {}
    changed: dict[str, dict[str, Any]] = {}
    key_of = _KEYS[name]
    is_not, field_json = operator.is_not, codec._field_json
    for i in itertools.compress(range(len(rows)), map(operator.not_, entries)):
        row = rows[i]
        key = key_of(row)
        seen = before_by_key.get(key)
        known = _fields_of(row) if seen is not None and type(seen[0]) is type(row) else None
        if known is None or seen is None:
            if seen is None:
                stayed -= 1
            entries[i] = entry = (row, key, codec.row_to_jsonable(row), None)
            added[key] = entry[2]
            continue
        # the same row, re-made: only its fields that are new objects are looked at (a
        # re-read idle session: its extra), inline, as a full read has thousands
        names, read, positions = known
        new_values, shown, old_values = read(row), seen[2], seen[3]
        if old_values is None:
            old_values = read(seen[0])
        patch = None
        for n in itertools.compress(positions, map(is_not, old_values, new_values)):
            before = shown[names[n]]
            value = field_json(new_values[n])
            if value != before or type(value) is not type(before):
                if patch is None:
                    patch = {}
                patch[names[n]] = value
        if patch is None:
            entries[i] = (row, key, shown, new_values)
        else:
            changed[key] = patch
            merged = shown.copy()
            merged.update(patch)
            entries[i] = (row, key, merged, new_values)
    state = _Rows(rows, ids, entries)
    if old is None:
        return None, state
    if not (old.unique and state.unique):
        # two rows of one key: stored whole, as make_delta does
        return {"all": state.documents()}, state
    removed = [] if stayed == len(old.keys) else [k for k in old.keys if k not in state.by_key]
    return delta.section(added, changed, removed, old.keys, state.keys), state


class MemoryRing:
    """Snapshots of the last ``span_s`` seconds, oldest dropped first (a chain at a time)."""

    def __init__(self, span_s: float = HISTORY_S, keyframe_every: int = KEYFRAME_EVERY) -> None:
        self.span_s = span_s
        self.keyframe_every = max(keyframe_every, 1)
        self._frames: deque[_Frame] = deque()
        #: the previous sample: its fields but the row lists (as objects and as JSON) …
        self._fields: dict[str, tuple[Any, Any]] = {}
        #: … and its row lists
        self._sections: dict[str, _Rows] = {}
        self._chain = 0
        #: how many frames were dropped from the front since the start
        self.dropped = 0
        self._cache: tuple[int, dict[str, Any], dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self._frames)

    def append(self, snapshot: Snapshot) -> None:
        keyframe = not self._frames or self._chain >= self.keyframe_every
        fields: dict[str, tuple[Any, Any]] = {}
        sections: dict[str, Any] = {}
        rows_now: dict[str, _Rows] = {}
        for name in _SNAPSHOT_FIELDS:
            value = None if name == "rates" else getattr(snapshot, name)
            if name in delta.KEY_FIELDS and isinstance(value, tuple | list):
                # a keyframe too reuses the JSON of the rows it knows
                section, rows_now[name] = _rows(name, tuple(value), self._sections.get(name))
                if section is not None and not keyframe:
                    sections[name] = section
                continue
            seen = self._fields.get(name)
            # the same object as the previous sample's (a capabilities, an unchanged
            # summary): the same JSON
            shown = seen[1] if seen is not None and seen[0] is value else to_jsonable(value)
            fields[name] = (value, shown)
        if keyframe:
            payload = {
                name: rows_now[name].documents() if name in rows_now else fields[name][1]
                for name in _SNAPSHOT_FIELDS
            }
        else:
            previous = {name: shown for name, (_, shown) in self._fields.items()}
            payload = delta.make_delta(previous, {n: s for n, (_, s) in fields.items()})
            if sections:
                payload["sections"] = sections
        self._frames.append(_Frame(snapshot.taken_at.timestamp(), keyframe, _pack(payload)))
        self._chain = 1 if keyframe else self._chain + 1
        self._fields = fields
        self._sections = rows_now
        self._trim()

    def _trim(self) -> None:
        newest = self._frames[-1].at
        # drop whole chains whose next chain already starts inside the span
        while self._frames[0].at < newest - self.span_s:
            following = next(
                (i for i in range(1, len(self._frames)) if self._frames[i].keyframe), None
            )
            if following is None or self._frames[following].at > newest - self.span_s:
                return
            for _ in range(following):
                self._frames.popleft()
                self.dropped += 1
            self._cache = None

    def time_of(self, index: int) -> float:
        return self._frames[index].at

    @property
    def times(self) -> list[float]:
        return [f.at for f in self._frames]

    def document(self, index: int) -> dict[str, Any]:
        cached = self._cache
        if cached is not None and cached[0] == index:
            return cached[1]
        if cached is not None and cached[0] == index - 1 and not self._frames[index].keyframe:
            start, document, keys = index, cached[1], cached[2]
        else:
            start = index
            while not self._frames[start].keyframe:
                start -= 1
            document, keys = _unpack(self._frames[start].data), {}
            start += 1
        # the rows' keys are carried along the chain, not computed again at each delta
        for n in range(start, index + 1):
            document, keys = delta.apply_delta_keyed(document, _unpack(self._frames[n].data), keys)
        self._cache = (index, document, keys)
        return document

    def snapshot(self, index: int) -> Snapshot:
        """Sample ``index`` with its rates from the one before (as the poller had them)."""
        if index == 0:
            return codec.document_to_snapshot(self.document(0))
        before = codec.document_to_snapshot(self.document(index - 1))  # then one delta on
        return with_rates(before, codec.document_to_snapshot(self.document(index)))

    def moment(self, index: int) -> datetime:
        return datetime.fromtimestamp(self._frames[index].at, UTC)
