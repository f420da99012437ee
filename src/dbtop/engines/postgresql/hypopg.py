"""Generic-plan costs of statements with hypopg's hypothetical indexes.

Each statement is PREPAREd once in a read-only transaction and costed with
``EXPLAIN EXECUTE name(NULL, …)`` under ``plan_cache_mode = force_generic_plan``: the plan a
``$1`` statement gets when the value is not known. (EXPLAIN (GENERIC_PLAN) of PostgreSQL 16+
is not used: a driver speaking the extended protocol binds the parameters, and bound NULLs
are folded into the plan, ``a = NULL`` becoming a plan for no rows. PREPARE gives the same
generic plan on every version.)

A cached generic plan does not notice a hypothetical index created after it was planned, so
``DISCARD PLANS`` follows every change of the hypothetical set. hypopg has a few thousand
OIDs for hypothetical indexes per session: each is dropped once measured and the whole set
is reset every ``HYPO_BATCH`` creations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from dbtop.analysis.advisor import Candidate, QueryInfo
from dbtop.engines.postgresql.workload import quote_ident, quote_table
from dbtop.model import Rejection

#: hypothetical indexes created before hypopg_reset() is called
HYPO_BATCH = 200


def index_body(cand: Candidate) -> str:
    """``ON table USING btree (cols) INCLUDE (…) WHERE …``, quoted."""
    cols = ", ".join(
        quote_ident(col) + (" DESC" if cand.is_descending(i) else "")
        for i, col in enumerate(cand.columns)
    )
    text = f"ON {quote_table(cand.table)} USING {cand.method} ({cols})"
    if cand.include:
        text += " INCLUDE (" + ", ".join(quote_ident(c) for c in cand.include) + ")"
    if cand.where:
        text += " WHERE " + " AND ".join(cand.where)
    return text


class PlannerOracle:
    """Generic-plan costs of the workload's statements, with hypothetical indexes.

    Everything runs in one read-only transaction (restarted if a statement fails, rolled
    back at the end); prepared statements and hypothetical indexes outlive a restart, being
    session objects, and are removed in ``close()``.
    """

    def __init__(self, conn: asyncpg.Connection, *, hypopg: bool) -> None:
        self._conn = conn
        self._hypopg = hypopg
        self._prepared: dict[str, str] = {}
        self._args: dict[str, str] = {}
        self._live: dict[Candidate, int] = {}
        self._created = 0
        self.failures: dict[str, str] = {}
        self.sizes: dict[Candidate, int] = {}
        self.explains = 0

    async def begin(self) -> None:
        await self._conn.execute("BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan")

    async def _restart(self) -> None:
        await self._conn.execute("ROLLBACK")
        await self.begin()

    async def prepare(self, queries: Iterable[QueryInfo]) -> None:
        for n, query in enumerate(queries):
            name = f"dbtop_advisor_{n}"
            text = query.text.strip().rstrip(";")
            try:
                await self._conn.execute(
                    f"SAVEPOINT dbtop_prepare; PREPARE {name} AS {text}; "
                    "RELEASE SAVEPOINT dbtop_prepare"
                )
            except asyncpg.PostgresError as err:
                await self._conn.execute("ROLLBACK TO SAVEPOINT dbtop_prepare")
                self.failures[query.id] = f"the planner rejected it: {err}"
                continue
            self._prepared[query.id] = name
            count = int(query.extra.get("params", 0) or 0)  # type: ignore[call-overload]
            self._args[query.id] = "(" + ", ".join(["NULL"] * count) + ")" if count else ""

    async def validate(
        self, candidates: Sequence[Candidate]
    ) -> tuple[list[Candidate], list[Rejection]]:
        """Create each candidate once: hypopg refuses some (a column type without a btree
        operator class); the others' estimated sizes are kept."""
        ok: list[Candidate] = []
        bad: list[Rejection] = []
        for cand in candidates:
            try:
                row = await self._conn.fetchrow(
                    "SELECT h.indexrelid, hypopg_relation_size(h.indexrelid) AS size "
                    "FROM hypopg_create_index($1) AS h",
                    "CREATE INDEX " + index_body(cand),
                )
            except asyncpg.PostgresError as err:
                await self._restart()
                bad.append(cand.rejection(f"hypopg cannot create it: {err}"))
                continue
            self._created += 1
            self.sizes[cand] = int(row["size"])
            await self._conn.execute(f"SELECT hypopg_drop_index({int(row['indexrelid'])})")
            await self._maybe_reset()
            ok.append(cand)
        return ok, bad

    async def _maybe_reset(self) -> None:
        if self._created >= HYPO_BATCH:
            await self._conn.execute("SELECT hypopg_reset()")
            self._live.clear()
            self._created = 0

    async def _use(self, indexes: frozenset[Candidate]) -> None:
        """Make exactly ``indexes`` exist hypothetically; replan from then on."""
        if not self._hypopg:
            if indexes:
                raise ValueError("hypothetical indexes need hypopg")
            return
        if self._created + len(indexes) >= HYPO_BATCH:
            await self._conn.execute("SELECT hypopg_reset()")
            self._live.clear()
            self._created = 0
        stale = [oid for cand, oid in self._live.items() if cand not in indexes]
        missing = [cand for cand in indexes if cand not in self._live]
        if not stale and not missing:
            return
        if stale:
            await self._conn.execute(
                "SELECT hypopg_drop_index(o) FROM unnest($1::oid[]) AS o", stale
            )
            self._live = {c: o for c, o in self._live.items() if c in indexes}
        if missing:
            rows = await self._conn.fetch(
                "SELECT d.ord, (hypopg_create_index(d.ddl)).indexrelid "
                "FROM unnest($1::text[]) WITH ORDINALITY AS d(ddl, ord) ORDER BY d.ord",
                ["CREATE INDEX " + index_body(c) for c in missing],
            )
            for cand, row in zip(missing, rows, strict=True):
                self._live[cand] = int(row["indexrelid"])
            self._created += len(missing)
        await self._conn.execute("DISCARD PLANS")

    async def costs(
        self, indexes: frozenset[Candidate], queries: Sequence[QueryInfo]
    ) -> Mapping[str, float | None]:
        await self._use(indexes)
        result: dict[str, float | None] = {}
        for query in queries:
            plan = await self.plan(query)
            result[query.id] = float(plan["Total Cost"]) if plan is not None else None
        return result

    async def plan(self, query: QueryInfo, *, verbose: bool = False) -> dict[str, Any] | None:
        """The statement's generic plan (the top node of EXPLAIN's JSON), None if it fails."""
        name = self._prepared.get(query.id)
        if name is None:
            return None
        options = "VERBOSE, FORMAT JSON" if verbose else "FORMAT JSON"
        try:
            raw = await self._conn.fetchval(
                f"EXPLAIN ({options}) EXECUTE {name}{self._args[query.id]}"
            )
        except asyncpg.PostgresError as err:
            self.failures.setdefault(query.id, f"EXPLAIN failed: {err}")
            del self._prepared[query.id]
            await self._restart()
            return None
        self.explains += 1
        document = json.loads(raw) if isinstance(raw, str) else raw
        return document[0]["Plan"]

    async def close(self) -> None:
        try:
            if self._hypopg:
                await self._conn.execute("SELECT hypopg_reset()")
            await self._conn.execute("ROLLBACK")
            for name in self._prepared.values():
                await self._conn.execute(f"DEALLOCATE {name}")
        except (asyncpg.PostgresError, asyncpg.InterfaceError):
            # the caller closes the connection, which drops all of it anyway
            pass
