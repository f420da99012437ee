"""Proof that a statement is harmless before ANALYZE (MariaDB) / EXPLAIN ANALYZE (MySQL)
runs it.

``START TRANSACTION READ ONLY`` stops a write to a table, but not ``SLEEP``, ``GET_LOCK``, a
sequence's ``NEXTVAL`` or a stored function's own statements. So ANALYZE runs only a plain
SELECT (``explain.prepare`` decides that) in which:

- no function of the deny list is called (locks, waits, file reads, sequences, CPU burners);
- no stored function is called: every name written before ``(`` is looked up in
  ``information_schema.ROUTINES`` (functions of that name in any schema, conservatively) and
  in the loadable functions (``mysql.func``, when the role can read it); found means refused;
- every view read is expanded (``information_schema.VIEWS.VIEW_DEFINITION``) and checked the
  same way; a view whose definition the role cannot read is refused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pymysql
import sqlglot
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import SqlglotError

from dbtop.engines.harmless import MAX_VIEW_DEPTH, refusal
from dbtop.engines.mysql.connection import Link
from dbtop.errors import RefusedError

#: builtins that act or wait though they only appear in a SELECT (upper case)
DENIED = frozenset(
    {
        "SLEEP",
        "GET_LOCK",
        "RELEASE_LOCK",
        "RELEASE_ALL_LOCKS",
        "IS_FREE_LOCK",
        "IS_USED_LOCK",
        "BENCHMARK",
        "LOAD_FILE",
        "MASTER_POS_WAIT",
        "SOURCE_POS_WAIT",
        "MASTER_GTID_WAIT",
        "WAIT_FOR_EXECUTED_GTID_SET",
        "WAIT_UNTIL_SQL_THREAD_AFTER_GTIDS",
        "NEXTVAL",
        "LASTVAL",
        "SETVAL",
        "LAST_INSERT_ID",
    }
)


def refuse(what: str, why: str) -> RefusedError:
    return refusal("ANALYZE", what, why)


@dataclass
class Calls:
    """What a statement calls and reads: unknown functions and tables, (schema or None,
    name); the first denied builtin, if any."""

    denied: str | None = None
    functions: set[tuple[str | None, str]] = field(default_factory=set)
    tables: set[tuple[str | None, str]] = field(default_factory=set)


_CALLABLE = frozenset({"VAR", "IDENTIFIER"})


def called(sql: str) -> list[str]:
    """Every name written before ``(`` in the text (pure). Taken from the tokens, not the
    tree: sqlglot maps names to its own builtins (ARRAY_AGG, which MySQL lacks, would hide a
    stored function of that name), and the check must see what the server will resolve."""
    try:
        tokens = MySQL().tokenize(sql)
    except (SqlglotError, ValueError, RecursionError):
        raise refuse("a statement dbtop cannot read", "cannot be checked") from None
    names: list[str] = []
    for token, after in itertools.pairwise(tokens):
        if after.token_type.name == "L_PAREN" and token.token_type.name in _CALLABLE:
            names.append(token.text)
    return names


def collect(tree: exp.Expr, sql: str) -> Calls:
    """Every function and table named in a statement (pure)."""
    calls = Calls()
    if any(True for _ in tree.find_all(exp.NextValueFor)):
        calls.denied = "NEXT VALUE FOR"
    for name in called(sql):
        if name.upper() in DENIED:
            calls.denied = calls.denied or name.upper()
        else:
            calls.functions.add((None, name))
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not table.name:
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        calls.tables.add((table.db or None, table.name))
    return calls


def check_names(calls: Calls) -> None:
    if calls.denied:
        raise refuse(f"{calls.denied}()", "acts on the server or waits")


#: a stored function of that name in any schema: conservative, no resolution to get wrong
_ROUTINES = (
    "SELECT ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES "
    "WHERE ROUTINE_TYPE = 'FUNCTION' AND ROUTINE_NAME IN ({})"
)
_VIEW = (
    "SELECT VIEW_DEFINITION FROM information_schema.VIEWS "
    "WHERE TABLE_NAME = %s AND TABLE_SCHEMA = COALESCE(%s, DATABASE())"
)


def _shown(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


async def prove(link: Link, tree: exp.Expr | None, sql: str) -> None:
    """Raise RefusedError naming the first thing ANALYZE of ``sql`` could act through."""
    if tree is None:
        raise refuse("a statement dbtop cannot parse", "cannot be checked")
    await _prove(link, collect(tree, sql), depth=0, seen=set())


async def _loadable(link: Link) -> set[str]:
    try:
        rows = await link.fetch("SELECT name FROM mysql.func")
    except pymysql.err.MySQLError:
        return set()  # not readable: stored functions are still checked
    return {str(_text(r.get("name"))).lower() for r in rows}


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")


async def _prove(link: Link, calls: Calls, *, depth: int, seen: set[tuple[str, str]]) -> None:
    check_names(calls)
    if calls.functions:
        loadable = await _loadable(link)
        names = sorted({name for _, name in calls.functions}, key=str.lower)
        for name in names:
            if name.lower() in loadable:
                raise refuse(f"{name}()", "is a loadable function (it may act on the server)")
        found = await link.fetch(_ROUTINES.format(", ".join(["%s"] * len(names))), names)
        if found:
            where = _text(found[0].get("ROUTINE_SCHEMA"))
            name = _text(found[0].get("ROUTINE_NAME"))
            raise refuse(f"{where}.{name}()", "is a stored function (it may write)")
    for schema, name in sorted(calls.tables, key=lambda t: (t[0] or "", t[1])):
        key = ((schema or "").lower(), name.lower())
        if key in seen:
            continue
        seen.add(key)
        rows = await link.fetch(_VIEW, (name, schema))
        if not rows:
            continue
        definition = _text(rows[0].get("VIEW_DEFINITION"))
        shown = f"the view {_shown(schema, name)}"
        if not definition.strip():
            raise refuse(shown, "dbtop cannot read the definition of (SHOW VIEW)")
        if depth >= MAX_VIEW_DEPTH:
            raise refuse(shown, f"nests views deeper than {MAX_VIEW_DEPTH}")
        try:
            inner = sqlglot.parse_one(definition, read="mysql")
        except (SqlglotError, ValueError, RecursionError):
            raise refuse(shown, "has a definition dbtop cannot parse") from None
        await _prove(link, collect(inner, definition), depth=depth + 1, seen=seen)
