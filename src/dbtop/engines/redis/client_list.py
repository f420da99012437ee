"""``CLIENT LIST`` lines, split once and read field by field on demand.

At thousands of clients a refresh cannot afford to turn every ``name=value`` of every line
into a dict entry (most are never looked at). Redis prints every line with the same fields
in the same order, so one layout (field -> position) from the first line serves them all: a
line is split at its spaces, and a field is sliced out only when asked for. A line whose
field count differs (it never happens, but a layout must not be trusted blindly) gets a
layout of its own.

A ``ClientLine`` is a read-only Mapping: numbers come out as ints, text as text, under Redis's
own field names; it is the Session's ``extra`` as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dbtop.engines.redis.info import text

#: Fields kept as text; every other field of CLIENT LIST is a number.
TEXT_FIELDS = frozenset(
    {"addr", "laddr", "name", "flags", "events", "cmd", "user", "lib-name", "lib-ver", "id"}
)


class Layout:
    """Field names, their positions and where their values start within the token."""

    __slots__ = ("_picks", "index", "names", "starts")

    def __init__(self, tokens: list[str]) -> None:
        self.names = [token.partition("=")[0] for token in tokens]
        self.index = {name: i for i, name in enumerate(self.names) if name}
        self.starts = [len(name) + 1 for name in self.names]
        self._picks: dict[tuple[str, ...], list[tuple[int, int]]] = {}

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

    __slots__ = ("_added", "_layout", "_tokens")

    def __init__(self, layout: Layout, tokens: list[str]) -> None:
        self._layout = layout
        self._tokens = tokens
        self._added: dict[str, Any] = {}

    def raw(self, name: str) -> str | None:
        """The field's text as Redis printed it (None when the line has no such field)."""
        position = self._layout.index.get(name)
        if position is None:
            return None
        return self._tokens[position][self._layout.starts[position] :]

    def pick(self, names: tuple[str, ...]) -> list[str | None]:
        """Several fields' texts at once (the fast path for thousands of lines)."""
        tokens = self._tokens
        return [tokens[i][start:] if i >= 0 else None for i, start in self._layout.positions(names)]

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

    def __repr__(self) -> str:
        return f"ClientLine({' '.join(self._tokens)!r})"


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
