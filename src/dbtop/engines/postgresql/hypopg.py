"""What-if costs with hypopg's hypothetical indexes, for the advisor's greedy choice.

``PlannerOracle.costs(indexes, queries)`` makes exactly ``indexes`` exist hypothetically
(on top of the real ones) and asks the planner for the statements' generic-plan costs
(``generic_plan.py``: EXPLAIN (GENERIC_PLAN) on 16+, PREPARE / EXPLAIN EXECUTE below).

hypopg hands out OIDs for hypothetical indexes from a small per-session range, and past a
few hundred creations in one session it runs out: every index is dropped as soon as it is
no longer wanted, and the whole set is reset (``hypopg_reset()``) every ``HYPO_BATCH``
creations, the wanted ones created again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from dbtop.analysis.advisor import Candidate, QueryInfo
from dbtop.engines.postgresql.generic_plan import GenericPlans
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

    Everything runs in one read-only transaction, rolled back in ``close()``, which also
    removes every hypothetical index.
    """

    def __init__(self, conn: asyncpg.Connection, *, version: int, hypopg: bool) -> None:
        self._conn = conn
        self._hypopg = hypopg
        self.plans = GenericPlans(conn, version)
        self._live: dict[Candidate, int] = {}
        self._created = 0
        self.resets = 0
        self.sizes: dict[Candidate, int] = {}

    @property
    def failures(self) -> Mapping[str, str]:
        return self.plans.failures

    @property
    def explains(self) -> int:
        return self.plans.explains

    async def begin(self) -> None:
        await self.plans.begin()

    async def prepare(self, queries: Iterable[QueryInfo]) -> None:
        await self.plans.add(queries)

    async def validate(
        self, candidates: Sequence[Candidate]
    ) -> tuple[list[Candidate], list[Rejection]]:
        """Create each candidate once: hypopg refuses some (a column type without a btree
        operator class); the others' estimated sizes (hypopg_relation_size) are kept."""
        ok: list[Candidate] = []
        bad: list[Rejection] = []
        for cand in candidates:
            await self._room_for(1)
            try:
                row = await self._conn.fetchrow(
                    "SELECT /* dbtop */ h.indexrelid, hypopg_relation_size(h.indexrelid) AS size "
                    "FROM hypopg_create_index($1) AS h",
                    "CREATE INDEX " + index_body(cand),
                )
            except asyncpg.PostgresError as err:
                await self.plans.restart()
                bad.append(cand.rejection(f"hypopg cannot create it: {' '.join(str(err).split())}"))
                continue
            self._created += 1
            self.sizes[cand] = int(row["size"])
            await self._conn.execute(
                f"SELECT /* dbtop */ hypopg_drop_index({int(row['indexrelid'])})"
            )
            ok.append(cand)
        return ok, bad

    async def _room_for(self, count: int) -> None:
        if self._created + count > HYPO_BATCH:
            await self._conn.execute("SELECT /* dbtop */ hypopg_reset()")
            self._live.clear()
            self._created = 0
            self.resets += 1

    async def _use(self, indexes: frozenset[Candidate]) -> None:
        """Make exactly ``indexes`` exist hypothetically."""
        if not self._hypopg:
            if indexes:
                raise ValueError("hypothetical indexes need hypopg")
            return
        missing = [cand for cand in indexes if cand not in self._live]
        if missing and self._created + len(missing) > HYPO_BATCH:
            await self._room_for(HYPO_BATCH)  # reset, then create all wanted ones again
            missing = list(indexes)
        stale = [oid for cand, oid in self._live.items() if cand not in indexes]
        if not stale and not missing:
            return
        if stale:
            await self._conn.execute(
                "SELECT /* dbtop */ hypopg_drop_index(o) FROM unnest($1::oid[]) AS o", stale
            )
            self._live = {c: o for c, o in self._live.items() if c in indexes}
        if missing:
            rows = await self._conn.fetch(
                "SELECT /* dbtop */ d.ord, (hypopg_create_index(d.ddl)).indexrelid "
                "FROM unnest($1::text[]) WITH ORDINALITY AS d(ddl, ord) ORDER BY d.ord",
                ["CREATE INDEX " + index_body(c) for c in missing],
            )
            for cand, row in zip(missing, rows, strict=True):
                self._live[cand] = int(row["indexrelid"])
            self._created += len(missing)
        await self.plans.invalidate()

    async def costs(
        self, indexes: frozenset[Candidate], queries: Sequence[QueryInfo]
    ) -> Mapping[str, float | None]:
        await self._use(indexes)
        return await self.plans.costs(queries)

    async def costs_hiding(
        self,
        indexes: frozenset[Candidate],
        hidden: Sequence[str],
        queries: Sequence[QueryInfo],
    ) -> Mapping[str, float | None] | None:
        """Costs with ``indexes`` and with the real indexes ``hidden`` (``schema.name``)
        hidden from the planner (hypopg_hide_index, hypopg 1.3+); None where hypopg cannot
        hide them."""
        if not self._hypopg or not hidden:
            return None
        has_hide = await self._conn.fetchval(
            "SELECT /* dbtop */ to_regproc('hypopg_hide_index') IS NOT NULL"
        )
        if not has_hide:
            return None
        await self._use(indexes)
        oids = await self._conn.fetch(
            "SELECT /* dbtop */ to_regclass(n)::oid AS oid FROM unnest($1::text[]) AS n",
            list(hidden),
        )
        wanted = [row["oid"] for row in oids if row["oid"] is not None]
        if len(wanted) != len(hidden):
            return None
        costs: Mapping[str, float | None] | None
        try:
            await self._conn.execute(
                "SELECT /* dbtop */ hypopg_hide_index(o) FROM unnest($1::oid[]) AS o", wanted
            )
            await self.plans.invalidate()
            costs = await self.plans.costs(queries)
        except asyncpg.PostgresError:
            await self.plans.restart()  # (the hypothetical and hidden sets are per session)
            costs = None
        await self._conn.execute("SELECT /* dbtop */ hypopg_unhide_all_indexes()")
        await self.plans.invalidate()
        return costs

    async def current_plans(
        self, queries: Sequence[QueryInfo], *, verbose: bool = False
    ) -> dict[str, Mapping[str, Any] | None]:
        """Today's generic plans (no hypothetical index)."""
        await self._use(frozenset())
        return await self.plans.plans(queries, verbose=verbose)

    async def close(self) -> None:
        try:
            if self._hypopg:
                await self._conn.execute("SELECT /* dbtop */ hypopg_reset()")
        except (asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # an aborted transaction: the reset below still runs after the rollback
        await self.plans.close()
        try:
            if self._hypopg:
                await self._conn.execute("SELECT /* dbtop */ hypopg_reset()")
        except (asyncpg.PostgresError, asyncpg.InterfaceError):
            pass  # the caller closes the connection, which drops them anyway
