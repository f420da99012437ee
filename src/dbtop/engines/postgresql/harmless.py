"""Proof that a statement is harmless before EXPLAIN ANALYZE runs it.

A read-only transaction does not stop a function from acting: ``pg_cancel_backend``,
``pg_terminate_backend``, ``nextval``, ``pg_stat_statements_reset``, ``dblink_exec`` or a
user function that writes all do their work under ``BEGIN READ ONLY``. So ANALYZE runs only
a plain read (checked by ``explain.parse``) whose every function is shown harmless here:

- every function called (FuncCall, anywhere: select list, FROM, subqueries, CTEs) is looked
  up in ``pg_proc`` by name, among the schemas the connection searches
  (``current_schemas(true)``) or the schema given; if *any* candidate of that name is
  volatile, or none is found, the statement is refused (overloads are not resolved: the
  conservative answer is the one that cannot act);
- every operator resolves to its function (``pg_operator.oprcode``) and the same rule
  applies, as for the input function of a cast's target type outside ``pg_catalog``;
- a short deny list refuses the known functions that act though they are not volatile;
- views in FROM are expanded (``pg_get_viewdef``) and checked the same way, recursively;
  row-security policies of the tables read are checked as expressions; foreign tables are
  refused (the wrapper may run anything: file_fdw's ``program`` runs a shell command).

What this does not follow: implicit casts between user types, the code behind a type's
output function, and the comparison operators ORDER BY / GROUP BY / DISTINCT pick from a
type's default operator class, which PostgreSQL calls without a name in the text. Functions declared
stable or immutable are trusted to be so (PostgreSQL itself relies on that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import asyncpg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor

from dbtop.engines.harmless import MAX_VIEW_DEPTH, refusal
from dbtop.errors import RefusedError

#: functions that act on the server though PostgreSQL does not declare them volatile, or
#: whose volatility an extension may have declared wrongly; refused whatever the catalog says
DENIED = frozenset(
    {
        "pg_cancel_backend",
        "pg_terminate_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_notify",
        "set_config",
        "nextval",
        "setval",
        "pg_stat_reset",
        "pg_stat_statements_reset",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_log_backend_memory_contexts",
        "txid_current",
        "pg_current_xact_id",
        "dblink",
        "dblink_exec",
        "dblink_send_query",
        "dblink_connect",
    }
)
#: prefixes of function families that act (locks, large objects, file access, replication)
DENIED_PREFIXES = (
    "pg_advisory_",
    "pg_try_advisory_",
    "lo_",
    "pg_read_",
    "pg_file_",
    "pg_stat_reset",
    "pg_replication_",
    "pg_create_",
    "pg_drop_",
    "dblink",
)


def refuse(what: str, why: str) -> RefusedError:
    return refusal("EXPLAIN ANALYZE", what, why)


def denied(name: str) -> bool:
    return name in DENIED or name.startswith(DENIED_PREFIXES)


@dataclass
class Calls:
    """What a statement calls and reads, by name as written: (schema or None, name)."""

    functions: set[tuple[str | None, str]] = field(default_factory=set)
    operators: set[tuple[str | None, str]] = field(default_factory=set)
    types: set[tuple[str | None, str]] = field(default_factory=set)
    relations: set[tuple[str | None, str]] = field(default_factory=set)


def _qualified(names: Iterable[object]) -> tuple[str | None, str]:
    parts = [getattr(n, "sval", None) for n in names]
    words = [p for p in parts if isinstance(p, str)]
    if not words:
        return None, "?"
    # catalog.schema.name: the catalog must be this database, so only schema.name counts
    return (words[-2] if len(words) > 1 else None), words[-1]


class _Collector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.calls = Calls()

    def visit_FuncCall(self, ancestors: object, node: ast.FuncCall) -> None:
        self.calls.functions.add(_qualified(node.funcname or ()))

    def visit_A_Expr(self, ancestors: object, node: ast.A_Expr) -> None:
        if not node.name:
            return
        schema, name = _qualified(node.name)
        if "BETWEEN" in name.upper():
            # BETWEEN is written as a word but runs the comparison operators
            self.calls.operators.update((schema, op) for op in ("<", "<=", ">", ">="))
        else:
            self.calls.operators.add((schema, name))

    def visit_TypeCast(self, ancestors: object, node: ast.TypeCast) -> None:
        if node.typeName is not None and node.typeName.names:
            self.calls.types.add(_qualified(node.typeName.names))

    def visit_RangeVar(self, ancestors: object, node: ast.RangeVar) -> None:
        if node.relname:
            self.calls.relations.add((node.schemaname, node.relname))


def collect(stmt: ast.Node) -> Calls:
    """Every function, operator, cast type and relation named in a parsed statement."""
    collector = _Collector()
    collector(stmt)
    return collector.calls


def collect_sql(sql: str) -> Calls:
    try:
        statements = parse_sql(sql)
    except ParseError:
        raise refuse("a definition dbtop cannot parse", "cannot be checked") from None
    calls = Calls()
    for raw in statements:
        if raw.stmt is None:
            continue
        found = collect(raw.stmt)
        calls.functions |= found.functions
        calls.operators |= found.operators
        calls.types |= found.types
        calls.relations |= found.relations
    return calls


def check_names(calls: Calls) -> None:
    """The part of the proof that needs no catalog: the deny list."""
    for _schema, name in sorted(calls.functions, key=lambda c: c[1]):
        if denied(name):
            raise refuse(f"{name}()", "acts on the server")


#: an aggregate's own pg_proc row says immutable whatever its support functions are
#: (CREATE AGGREGATE takes no volatility): it counts as volatile if any of them is
_FUNCTIONS = """
SELECT p.proname, n.nspname,
       CASE WHEN p.prokind = 'a' THEN
         (SELECT CASE WHEN bool_or(f.provolatile = 'v') THEN 'v' ELSE 's' END
          FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc f
            ON f.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                         a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn)
          WHERE a.aggfnoid = p.oid)
       ELSE p.provolatile::text END AS volatile
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname = ANY($1::text[])
  AND (n.nspname = ANY(current_schemas(true)) OR n.nspname = ANY($2::text[]))
"""
_OPERATORS = """
SELECT o.oprname, n.nspname, p.proname, p.provolatile::text AS volatile
FROM pg_catalog.pg_operator o
JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
WHERE o.oprname = ANY($1::text[])
  AND (n.nspname = ANY(current_schemas(true)) OR n.nspname = ANY($2::text[]))
"""
_TYPE = """
SELECT n.nspname, p.proname, p.provolatile::text AS volatile,
       ARRAY(SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c
             WHERE c.contypid = t.oid AND c.contype = 'c') AS checks
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_proc p ON p.oid = t.typinput
WHERE t.oid = to_regtype($1)
"""
_RELATION = """
SELECT c.oid, c.relkind::text AS relkind, c.relrowsecurity,
       CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
       ARRAY(SELECT pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)
             FROM pg_catalog.pg_policy pol
             WHERE pol.polrelid = c.oid AND pol.polqual IS NOT NULL) AS policies
FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)
"""


def _quote(schema: str | None, name: str) -> str:
    def one(word: str) -> str:
        return '"' + word.replace('"', '""') + '"'

    return f"{one(schema)}.{one(name)}" if schema else one(name)


def _shown(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


async def prove(conn: asyncpg.Connection, stmt: ast.Node | None) -> None:
    """Raise RefusedError naming the first thing ANALYZE of ``stmt`` could act through."""
    if stmt is None:
        raise refuse("a statement dbtop cannot parse", "cannot be checked")
    await _prove(conn, collect(stmt), depth=0, seen=set())


async def _prove(conn: asyncpg.Connection, calls: Calls, *, depth: int, seen: set[int]) -> None:
    check_names(calls)
    await _check_functions(conn, calls.functions)
    await _check_operators(conn, calls.operators)
    for schema, name in sorted(calls.types, key=lambda t: (t[0] or "", t[1])):
        if schema in (None, "pg_catalog") and name in _BUILTIN_TYPES:
            continue
        row = await conn.fetchrow(_TYPE, _quote(schema, name))
        if row is None:
            continue
        if row["nspname"] != "pg_catalog" and row["volatile"] == "v":
            raise refuse(
                f"{row['proname']}() (the input function of type {_shown(schema, name)})",
                "is volatile (it may act on the server)",
            )
        # a cast to a domain evaluates the domain's CHECK constraints
        for check in row["checks"] or ():
            expression = str(check).removeprefix("CHECK ").removesuffix(" NOT VALID")
            await _prove(
                conn, collect_sql(f"SELECT 1 WHERE {expression}"), depth=depth + 1, seen=seen
            )
    for schema, name in sorted(calls.relations, key=lambda r: (r[0] or "", r[1])):
        row = await conn.fetchrow(_RELATION, _quote(schema, name))
        if row is None or row["oid"] in seen:
            continue  # a CTE's name, or a relation EXPLAIN will report missing
        seen.add(row["oid"])
        inner: list[str] = []
        if row["relkind"] == "f":
            raise refuse(
                f"the foreign data wrapper of {_shown(schema, name)}",
                "may run anything on a read (file_fdw runs programs)",
            )
        if row["relkind"] == "v" and row["definition"]:
            inner.append(row["definition"])
        if row["relrowsecurity"]:
            inner.extend(f"SELECT ({policy})" for policy in row["policies"] or ())
        if not inner:
            continue
        if depth >= MAX_VIEW_DEPTH:
            raise refuse(f"views nested deeper than {MAX_VIEW_DEPTH}", "cannot be checked")
        for sql in inner:
            await _prove(conn, collect_sql(sql), depth=depth + 1, seen=seen)


async def _check_functions(conn: asyncpg.Connection, calls: set[tuple[str | None, str]]) -> None:
    if not calls:
        return
    names = sorted({name for _, name in calls})
    schemas = sorted({schema for schema, _ in calls if schema})
    rows = await conn.fetch(_FUNCTIONS, names, schemas)
    path: list[str] = list(await conn.fetchval("SELECT current_schemas(true)"))
    for schema, name in sorted(calls, key=lambda c: (c[1], c[0] or "")):
        where = [schema] if schema else path
        found = [r for r in rows if r["proname"] == name and r["nspname"] in where]
        shown = f"{_shown(schema, name)}()"
        if not found:
            raise refuse(shown, "dbtop cannot find in the catalog to prove harmless")
        if any(r["volatile"] == "v" for r in found):
            raise refuse(shown, "is volatile (it may act on the server)")


async def _check_operators(conn: asyncpg.Connection, calls: set[tuple[str | None, str]]) -> None:
    if not calls:
        return
    names = sorted({name for _, name in calls})
    schemas = sorted({schema for schema, _ in calls if schema})
    rows = await conn.fetch(_OPERATORS, names, schemas)
    path: list[str] = list(await conn.fetchval("SELECT current_schemas(true)"))
    for schema, name in sorted(calls, key=lambda c: (c[1], c[0] or "")):
        where = [schema] if schema else path
        for row in rows:
            if row["oprname"] != name or row["nspname"] not in where:
                continue
            if row["volatile"] == "v" or denied(row["proname"]):
                raise refuse(
                    f"{row['proname']}() (behind the operator {_shown(schema, name)})",
                    "is volatile (it may act on the server)",
                )


#: built-in type names a cast may use without a catalog look-up (the common ones)
_BUILTIN_TYPES = frozenset(
    {
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "numeric",
        "text",
        "varchar",
        "bpchar",
        "bool",
        "date",
        "timestamp",
        "timestamptz",
        "interval",
        "time",
        "timetz",
        "json",
        "jsonb",
        "uuid",
        "bytea",
        "regclass",
        "regproc",
        "regtype",
        "oid",
        "name",
        "inet",
        "cidr",
    }
)
