"""``CLIENT LIST`` lines, split once and read field by field on demand.

At thousands of clients a refresh cannot afford to turn every ``name=value`` of every line
into a dict entry (most are never looked at). Redis prints every line with the same fields
in the same order, so one layout (field -> position) from the first line serves them all: a
line is split at its spaces, and a field is sliced out only when asked for. A line whose
field count differs (it never happens, but a layout must not be trusted blindly) gets a
layout of its own.

A ``ClientLine`` is a read-only Mapping: numbers come out as ints, text as text, under Redis's
own field names; it is the Session's ``extra`` as it is.

A quiet server's list is not read again every refresh (collect.ClientPace): the last one
stands in with its clocks moved on (:meth:`ClientLine.aged`). Redis prints ``age`` and
``idle`` in whole seconds of one clock, so ``age - idle`` (when the client last sent a
command, counted from its connection) does not change while the client sends nothing; a
line that differs from an earlier one only in these two clocks, with the same ``age - idle``,
is the same idle client (:meth:`ClientLine.unchanged_since`).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping
from itertools import pairwise
from typing import Any

from dbtop.engines.redis.info import text

#: The fields that move with the server's clock alone (whole seconds).
CLOCKS = ("age", "idle")
#: Fields kept as text; every other field of CLIENT LIST is a number.
TEXT_FIELDS = frozenset(
    {"addr", "laddr", "name", "flags", "events", "cmd", "user", "lib-name", "lib-ver", "id"}
)


class Layout:
    """Field names, their positions and where their values start within the token."""

    __slots__ = ("_picks", "clocks", "index", "names", "spans", "starts")

    def __init__(self, tokens: list[str]) -> None:
        self.names = [token.partition("=")[0] for token in tokens]
        self.index = {name: i for i, name in enumerate(self.names) if name}
        self.starts = [len(name) + 1 for name in self.names]
        self._picks: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        #: the positions of the clock fields, and the token ranges between them
        self.clocks = frozenset(self.index[n] for n in CLOCKS if n in self.index)
        edges = [-1, *sorted(self.clocks), len(tokens)]
        self.spans = [(a + 1, b) for a, b in pairwise(edges) if b > a + 1]

    def positions(self, names: tuple[str, ...]) -> list[tuple[int, int]]:
        """(token, value start) of each name, (-1, 0) when absent; cached per tuple."""
        found = self._picks.get(names)
        if found is None:
            found = [
                (self.index[n], self.starts[self.index[n]]) if n in self.index else (-1, 0)
                for n in names
            ]
            self._picks[names] = found
        return found


class ClientLine(Mapping[str, Any]):
    """One client: its raw fields, plus what dbtop adds (``flag_words``, ``blocked_on``)."""

    __slots__ = ("_added", "_layout", "_shift", "_tokens")

    def __init__(self, layout: Layout, tokens: list[str], shift: int = 0) -> None:
        self._layout = layout
        self._tokens = tokens
        self._added: dict[str, Any] = {}
        #: seconds added to the clock fields (a kept line, see :meth:`aged`)
        self._shift = shift

    def raw(self, name: str) -> str | None:
        """The field's text as Redis printed it (None when the line has no such field)."""
        position = self._layout.index.get(name)
        if position is None:
            return None
        value = self._tokens[position][self._layout.starts[position] :]
        if self._shift and position in self._layout.clocks:
            return _moved(value, self._shift)
        return value

    def pick(self, names: tuple[str, ...]) -> list[str | None]:
        """Several fields' texts at once (the fast path for thousands of lines)."""
        tokens = self._tokens
        positions = self._layout.positions(names)
        values = [tokens[i][start:] if i >= 0 else None for i, start in positions]
        if self._shift:
            clocks = self._layout.clocks
            for n, (i, _) in enumerate(positions):
                if i in clocks:
                    values[n] = _moved(values[n] or "", self._shift)
        return values

    def aged(self, seconds: int) -> ClientLine:
        """The same client ``seconds`` later, when it sent nothing meanwhile: its ``age`` and
        ``idle`` that much higher, and the server's clock of the reading too, so that its
        creation time stays what it was (the derived fields are made again from it)."""
        line = ClientLine(self._layout, self._tokens, self._shift + seconds)
        server_us = self._added.get("server_time_usec")
        line._added = {k: v for k, v in self._added.items() if k in _IDENTITY}
        if isinstance(server_us, int):
            line._added["server_time_usec"] = server_us + seconds * 1_000_000
        return line

    def unchanged_since(self, before: ClientLine) -> bool:
        """Whether this line is ``before``'s client, as idle as it was: every field the
        same but the clocks, and no command in between (``age - idle`` the same)."""
        layout = self._layout
        if layout is not before._layout and layout.names != before._layout.names:
            return False
        mine, theirs = self._tokens, before._tokens
        if len(mine) != len(theirs):
            return False
        for start, end in layout.spans:
            if mine[start:end] != theirs[start:end]:
                return False
        return self._idle_mark() == before._idle_mark()

    def _idle_mark(self) -> int | None:
        """``age - idle``: the second of the client's last command, from its connection."""
        age, idle = self.raw("age"), self.raw("idle")
        try:
            return int(age or "") - int(idle or "")
        except ValueError:
            return None

    def number(self, name: str) -> int:
        """The field as an int, 0 when absent or not a number."""
        value = self.raw(name)
        try:
            return int(value) if value is not None else 0
        except ValueError:
            return 0

    def add(self, name: str, value: Any) -> None:
        """Set a derived field while the line is being turned into a Session."""
        self._added[name] = value

    def __getitem__(self, name: str) -> Any:
        if name in self._added:
            return self._added[name]
        value = self.raw(name)
        if value is None:
            raise KeyError(name)
        if name in TEXT_FIELDS:
            return value
        try:
            return int(value)
        except ValueError:
            return value

    def __iter__(self) -> Iterator[str]:
        yield from (name for name in self._layout.names if name)
        yield from self._added

    def __len__(self) -> int:
        return len(self._layout.index) + len(self._added)

    def items(self) -> ItemsView[str, Any]:
        return _Items(self)

    def _pairs(self) -> list[tuple[str, Any]]:
        """``(name, self[name])`` for each name in iteration order, in one pass."""
        layout, tokens, added, shift = self._layout, self._tokens, self._added, self._shift
        index, starts, clocks = layout.index, layout.starts, layout.clocks
        pairs: list[tuple[str, Any]] = []
        for name in layout.names:
            if not name:
                continue
            if name in added:
                pairs.append((name, added[name]))
                continue
            position = index[name]
            value: Any = tokens[position][starts[position] :]
            if shift and position in clocks:
                value = _moved(value, shift)
            pairs.append((name, value if name in TEXT_FIELDS else _number(value)))
        pairs.extend(added.items())
        return pairs

    def __eq__(self, other: object) -> bool:
        # Mapping's __eq__ builds two dicts of every field: a snapshot's thousands of rows
        # are compared to the last ones on every refresh (recording.codec)
        if isinstance(other, ClientLine) and self._shift == other._shift:
            # the tokens hold the names and the values: one that differs is a field that does
            return self is other or (self._tokens == other._tokens and self._added == other._added)
        return super().__eq__(other)

    def __repr__(self) -> str:
        shift = f", aged {self._shift} s" if self._shift else ""
        return f"ClientLine({' '.join(self._tokens)!r}{shift})"


class _Items(ItemsView[str, Any]):
    """A line's fields and values read in one pass: the history ring turns each re-made
    Session's ``extra`` (its line) into JSON, thousands at a time, and Mapping's own
    ``items()`` would look every field up by name."""

    __slots__ = ("_line",)

    def __init__(self, line: ClientLine) -> None:
        super().__init__(line)
        self._line = line

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._line._pairs())


#: what an aged line keeps of the fields added to the line it was made from
_IDENTITY = frozenset({"run_id", "server_time_usec"})


def _number(value: str) -> Any:
    """A number field's value as ``__getitem__`` gives it: an int, else the text."""
    try:
        return int(value)
    except ValueError:
        return value


def _moved(value: str, seconds: int) -> str:
    try:
        return str(int(value) + seconds)
    except ValueError:
        return value


def parse_client_list(reply: object) -> list[ClientLine]:
    """Every line of a CLIENT LIST reply that has an ``id``."""
    lines: list[ClientLine] = []
    layout: Layout | None = None
    for line in text(reply).split("\n"):
        if not line or line == "\r":
            continue
        tokens = line.rstrip("\r").split(" ")
        if layout is None or len(tokens) != len(layout.names):
            own = Layout(tokens)
            if "id" not in own.index:
                continue
            if layout is None:
                layout = own
            lines.append(ClientLine(own, tokens))
            continue
        lines.append(ClientLine(layout, tokens))
    return lines
