"""Duplicate and left-prefix redundancy between indexes (analysis/indexes.py)."""

from __future__ import annotations

from dbtop.analysis.indexes import find_redundant
from dbtop.model import IndexStat, frozen


def ix(name, *columns, table="t", unique=False, primary=False, method="btree", **extra):
    return IndexStat(
        schema="public",
        table=table,
        name=name,
        columns=columns,
        is_unique=unique,
        is_primary=primary,
        constraint=name if primary else None,
        extra=frozen(method=method, **extra),
    )


def test_exact_duplicate_keeps_the_first_by_name():
    found = find_redundant([ix("b_idx", "a", "b"), ix("a_idx", "a", "b")])
    assert set(found) == {"public.t.b_idx"}
    assert found["public.t.b_idx"].kind == "duplicate"
    assert found["public.t.b_idx"].covered_by == "public.t.a_idx"


def test_a_duplicate_of_a_unique_index_is_the_plain_one():
    found = find_redundant([ix("a_plain", "a"), ix("z_unique", "a", unique=True)])
    assert set(found) == {"public.t.a_plain"}
    assert found["public.t.a_plain"].covered_by == "public.t.z_unique"


def test_left_prefix_is_redundant_but_not_a_unique_prefix():
    found = find_redundant([ix("p", "a"), ix("wide", "a", "b")])
    assert found["public.t.p"].kind == "redundant"
    assert found["public.t.p"].covered_by == "public.t.wide"
    found = find_redundant([ix("u", "a", unique=True), ix("wide", "a", "b")])
    assert "public.t.u" not in found
    assert "public.t.wide" not in found


def test_primary_key_is_never_redundant():
    found = find_redundant([ix("t_pkey", "id", primary=True), ix("t_id_x", "id", "x")])
    assert "public.t.t_pkey" not in found


def test_different_methods_predicates_tables_and_non_prefixes_are_left_alone():
    indexes = [
        ix("h", "a", method="hash"),
        ix("w", "a", "b"),
        ix("partial", "a", predicate="(b > 0)"),
        ix("other_table", "a", table="u"),
        ix("ba", "b", "a"),
        ix("gin_a", "a", method="gin"),
    ]
    assert find_redundant(indexes) == {}


def test_hash_duplicates_are_still_duplicates_but_never_prefixes():
    found = find_redundant([ix("h1", "a", method="hash"), ix("h2", "a", method="hash")])
    assert set(found) == {"public.t.h2"}


def test_invalid_or_columnless_indexes_are_ignored():
    bad = IndexStat(schema="public", table="t", name="bad", columns=("a",), valid=False)
    nocols = IndexStat(schema="public", table="t", name="expr", columns=())
    assert find_redundant([bad, nocols, ix("good", "a", "b")]) == {}


def test_include_columns_must_be_covered_for_a_duplicate():
    found = find_redundant([ix("cov", "a", include=("x",)), ix("plain", "a")])
    assert set(found) == {"public.t.plain"}
    assert found["public.t.plain"].covered_by == "public.t.cov"
