"""EXPLAIN that never runs a write.

The statement is parsed with pglast (PostgreSQL's own parser) before anything is sent:
exactly one statement, and for ANALYZE a plain read (a SELECT or VALUES without SELECT INTO,
FOR UPDATE/SHARE, or a data-modifying CTE) that ``harmless.prove`` shows calls no volatile
function (a read-only transaction does not stop ``pg_cancel_backend`` or ``nextval``). ANALYZE
then runs inside ``BEGIN READ ONLY`` and is rolled back.

Parameterized text (``$1``, as pg_stat_statements and extended-protocol clients show it)
is explained as a generic plan: ``EXPLAIN (GENERIC_PLAN)`` on 16+; below 16, the statement is
PREPAREd and ``EXPLAIN EXECUTE`` runs with NULL for every parameter under
``plan_cache_mode = force_generic_plan`` (12+), inside a transaction that is rolled back.
A generic plan cannot be ANALYZEd: there are no values to run it with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import asyncpg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor

from dbtop.engines.postgresql import harmless
from dbtop.engines.postgresql.connection import query_error
from dbtop.engines.postgresql.plan import root_from_explain
from dbtop.engines.postgresql.sessions import parse_pid
from dbtop.errors import NotFoundError, QueryError, RefusedError
from dbtop.model import Plan

#: ANALYZE runs the statement: give it longer than a monitor query, but not forever.
ANALYZE_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: str
    read_only: bool
    params: int
    why_not_read_only: str | None = None
    #: the parsed statement, for the proof that ANALYZE of it cannot act
    stmt: ast.Node | None = field(default=None, compare=False, repr=False)


class _Walker(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.max_param = 0
        self.writes: list[str] = []

    def visit_ParamRef(self, ancestors: object, node: ast.ParamRef) -> None:
        self.max_param = max(self.max_param, node.number or 0)

    def visit_InsertStmt(self, ancestors: object, node: ast.Node) -> None:
        self.writes.append("INSERT")

    def visit_UpdateStmt(self, ancestors: object, node: ast.Node) -> None:
        self.writes.append("UPDATE")

    def visit_DeleteStmt(self, ancestors: object, node: ast.Node) -> None:
        self.writes.append("DELETE")

    def visit_MergeStmt(self, ancestors: object, node: ast.Node) -> None:
        self.writes.append("MERGE")

    def visit_SelectStmt(self, ancestors: object, node: ast.SelectStmt) -> None:
        if node.intoClause is not None:
            self.writes.append("SELECT INTO")
        if node.lockingClause:
            self.writes.append("FOR UPDATE/SHARE")


def parse(query: str) -> Parsed:
    """What the statement is; raises QueryError for text that is not one SQL statement."""
    try:
        statements = parse_sql(query)
    except ParseError as exc:
        raise QueryError(f"syntax error: {exc}") from None
    if len(statements) != 1:
        raise QueryError(f"explain takes exactly one statement, got {len(statements)}")
    stmt = statements[0].stmt
    if stmt is None:
        raise QueryError("nothing to explain: the statement is empty")
    if isinstance(stmt, ast.ExplainStmt):
        raise QueryError("give the statement without EXPLAIN: dbtop adds it")
    walker = _Walker()
    walker(stmt)
    kind = type(stmt).__name__.removesuffix("Stmt").upper()
    plain_read = isinstance(stmt, ast.SelectStmt) and not walker.writes
    why = None
    if not plain_read:
        why = ", ".join(dict.fromkeys(walker.writes)) or kind
    return Parsed(
        kind=kind,
        read_only=plain_read,
        params=walker.max_param,
        why_not_read_only=why,
        stmt=stmt,
    )


async def explain(
    conn: asyncpg.Connection,
    query: str,
    *,
    version_num: int,
    analyze: bool = False,
) -> Plan:
    parsed = parse(query)
    if analyze and not parsed.read_only:
        raise RefusedError(
            f"EXPLAIN ANALYZE runs the statement; refused for a statement that writes "
            f"or locks ({parsed.why_not_read_only})"
        )
    if analyze and parsed.params:
        raise RefusedError(
            "EXPLAIN ANALYZE needs values for the $n parameters; give the query with literals"
        )
    notes: list[str] = []
    generic = parsed.params > 0
    tr = conn.transaction(readonly=True)
    await tr.start()
    try:
        if analyze:
            # Under the monitor's own timeouts, before the longer ANALYZE limit is set.
            await harmless.prove(conn, parsed.stmt)
            await conn.execute(f"SET LOCAL statement_timeout = {ANALYZE_TIMEOUT_MS}")
            sql = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}"
            # The client waits as long as the server may run it, plus the margin.
            raw = await conn.fetchval(sql, timeout=ANALYZE_TIMEOUT_MS / 1000 + 2)
            notes.append("analyzed: the statement ran in a read-only transaction, rolled back")
        elif generic and version_num >= 160000:
            raw = await _generic_plan(conn, query)
            notes.append("generic plan (GENERIC_PLAN): parameters are unknown")
        elif generic:
            raw = await _generic_before_16(conn, query, parsed.params)
            notes.append(
                "generic plan (PREPARE + EXPLAIN EXECUTE with NULLs under "
                "plan_cache_mode = force_generic_plan)"
            )
        else:
            raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}")
    except asyncpg.PostgresError as exc:
        raise query_error(exc, "explain") from None
    finally:
        await tr.rollback()
    document = json.loads(raw) if isinstance(raw, str) else raw
    root, figures = root_from_explain(document)
    for key in ("Planning Time", "Execution Time"):
        if key in figures:
            notes.append(f"{key.lower()}: {figures[key]:.3f} ms")
    return Plan(
        query=query,
        root=root,
        raw=document,
        analyzed=analyze,
        generic=generic,
        notes=tuple(notes),
    )


async def _generic_plan(conn: asyncpg.Connection, query: str) -> str:
    # Over the extended protocol the server binds the $n to the values sent and plans with
    # them (PostgreSQL 18 folds NULLs into "One-Time Filter: false"), and asyncpg has no
    # simple-protocol query that returns rows. PL/pgSQL's EXECUTE parses the text with no
    # parameters bound, which is what GENERIC_PLAN is for; the plan comes back through a
    # transaction-local setting.
    tag = "dbtop_q"
    while f"${tag}$" in query:
        tag += "_"
    await conn.execute(
        "DO $dbtop_do$ DECLARE plan text; BEGIN "
        f"EXECUTE ${tag}$EXPLAIN (GENERIC_PLAN, FORMAT JSON) {query}${tag}$ INTO plan; "
        "PERFORM set_config('dbtop.generic_plan', plan, true); END $dbtop_do$"
    )
    plan: str = await conn.fetchval("SELECT current_setting('dbtop.generic_plan')")
    return plan


async def _generic_before_16(conn: asyncpg.Connection, query: str, params: int) -> str:
    # The name is fixed: the transaction is rolled back and DEALLOCATE runs before it ends,
    # so two explains on this connection never meet.
    name = "dbtop_explain"
    await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE {name} AS {query}")
    try:
        args = ", ".join(["NULL"] * params)
        plan: str = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({args})")
        return plan
    finally:
        await conn.execute(f"DEALLOCATE {name}")


async def session_query(
    conn: asyncpg.Connection, session_id: str, *, query_size: int
) -> tuple[str, str | None, list[str]]:
    """The current (or last) query of a session, its database, and notes for the plan;
    ``query_size`` is the server's track_activity_query_size, where texts are cut."""
    pid = parse_pid(session_id)
    row = await conn.fetchrow(
        "SELECT datname, textsend(query) AS query, state FROM pg_stat_activity WHERE pid = $1",
        pid,
    )
    if row is None:
        raise NotFoundError(f"no session {pid} on this server (it may have ended)")
    if row["query"] is None:
        raise QueryError(f"session {pid} has no query to explain")
    query = row["query"].decode("utf-8", "replace")
    if query.startswith("<insufficient privilege>"):
        raise QueryError(
            f"cannot see the query of session {pid}: GRANT pg_read_all_stats "
            "(or pg_monitor) TO the monitoring role"
        )
    notes = []
    if len(query.encode()) >= query_size - 1:
        raise QueryError(
            f"the query of session {pid} is cut at track_activity_query_size ({query_size} "
            "bytes): raise that setting to explain it"
        )
    if row["state"] != "active":
        notes.append(f"session {pid} is {row['state']}: this was its last query")
    return query, row["datname"], notes
