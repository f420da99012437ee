"""The previous snapshot's very row tuples and rows, handed on when nothing in them changed.

On a quiet server most of a poll is what the last one was: the same 2,000 kept idle
Sessions, the same key patterns, the same command counters (dbtop's own commands are left
out of them). A new tuple of the same objects costs every consumer a pass over its rows:
the history ring keys and compares each row it does not know by identity, and a pane
rebuilds what it shows. Handed the very tuple of the last snapshot, they see "unchanged"
at once (``rows is previous``). An equal row made again (a Statement, a finding) is
swapped for the previous object, so that the tuple can be handed on too.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class KeptRows:
    """The last tuple handed out per field, and the last row per key of the rows kept
    by equality."""

    def __init__(self) -> None:
        self._tuples: dict[str, tuple[Any, ...]] = {}
        self._by_key: dict[str, dict[Hashable, Any]] = {}

    def rows(self, name: str, items: Sequence[T], *, equal: bool = False) -> tuple[T, ...]:
        """``items`` as a tuple: the previous one of ``name`` when it holds the very same
        objects (or, with ``equal``, equal ones: small lists only, each row is compared)."""
        before = self._tuples.get(name)
        if (
            before is not None
            and len(before) == len(items)
            and (
                all(map(operator.is_, before, items))
                or (equal and all(map(operator.eq, before, items)))
            )
        ):
            return before
        kept = tuple(items)
        self._tuples[name] = kept
        return kept

    def same_rows(self, name: str, items: Sequence[T], key: Any) -> list[T]:
        """``items`` with each row equal to the previous row of its ``key(row)`` replaced
        by that previous object."""
        before = self._by_key.get(name, {})
        now: dict[Hashable, Any] = {}
        out: list[T] = []
        for item in items:
            k = key(item)
            old = before.get(k)
            if old is not None and old is not item and old == item:
                item = old
            now[k] = item
            out.append(item)
        self._by_key[name] = now
        return out
