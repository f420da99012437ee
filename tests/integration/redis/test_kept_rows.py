"""Issue 14: a quiet Redis poll hands on the previous snapshot's very row tuples, so that
the history ring and the panes see "unchanged" by identity (pure, no server)."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

from dbtop.engines.redis.reuse import KeptRows


@dataclass(frozen=True)
class Item:
    id: str
    value: int


def test_the_same_objects_give_the_previous_tuple() -> None:
    kept = KeptRows()
    a, b = Item("a", 1), Item("b", 2)
    first = kept.rows("sessions", [a, b])
    assert first == (a, b)
    assert kept.rows("sessions", [a, b]) is first
    # equal but new objects: a new tuple, unless asked to compare
    assert kept.rows("sessions", [Item("a", 1), b]) is not first


def test_equal_rows_give_the_previous_tuple_only_when_asked() -> None:
    kept = KeptRows()
    first = kept.rows("findings", [Item("a", 1)], equal=True)
    assert kept.rows("findings", [Item("a", 1)], equal=True) is first
    changed = kept.rows("findings", [Item("a", 2)], equal=True)
    assert changed == (Item("a", 2),)
    assert kept.rows("findings", [], equal=True) == ()
    # each field keeps its own tuple
    assert kept.rows("notices", [Item("a", 2)], equal=True) is not changed


def test_a_changed_order_or_length_is_a_new_tuple() -> None:
    kept = KeptRows()
    a, b = Item("a", 1), Item("b", 2)
    kept.rows("sessions", [a, b])
    assert kept.rows("sessions", [b, a]) == (b, a)
    assert kept.rows("sessions", [b]) == (b,)


def test_equal_rows_are_swapped_for_the_previous_objects() -> None:
    kept = KeptRows()
    key = attrgetter("id")
    a = Item("a", 1)
    kept.same_rows("statements", [a, Item("b", 2)], key)
    again = kept.same_rows("statements", [Item("a", 1), Item("b", 3)], key)
    assert again[0] is a
    assert again[1] == Item("b", 3)
    # the row that changed is the one kept for the next comparison
    newest = again[1]
    assert kept.same_rows("statements", [Item("b", 3)], key)[0] is newest
    # a row gone and back is a new object (only the last poll's rows are kept)
    assert kept.same_rows("statements", [Item("a", 1)], key)[0] is not a
