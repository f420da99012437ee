"""The planner's generic plans of workload statements, in one read-only transaction.

A pg_stat_statements text has ``$1`` where the values were; the advisor wants the plan the
server makes when it does not know them (a *generic* plan), since that is what an index has
to serve for every value. Two ways, both verified against the server:

``generic_plan`` (PostgreSQL 16+)
    ``EXPLAIN (GENERIC_PLAN, FORMAT JSON) <text>``. It must reach the server with *no*
    parameters bound: asyncpg speaks the extended protocol, whose Bind step would hand the
    planner NULL values, and a bound NULL is folded (``a = NULL`` becomes a plan for no rows,
    ``One-Time Filter: false``). So the EXPLAIN runs inside a PL/pgSQL ``DO`` block's dynamic
    ``EXECUTE``, where the planner sees ``$n`` as unknown. Each EXPLAIN plans afresh, so a
    hypothetical index created a moment ago is seen.

``prepare`` (below 16, or without PL/pgSQL)
    ``PREPARE dbtop_advisor_N AS <text>`` once, then ``EXPLAIN EXECUTE dbtop_advisor_N(NULL,
    …)`` under ``plan_cache_mode = force_generic_plan``: the NULLs are never looked at by a
    generic plan. A cached generic plan does not notice a hypothetical index created after
    it was planned, so ``invalidate()`` runs ``DISCARD PLANS`` after every change of the
    hypothetical set.

Batches: with PL/pgSQL, up to ``BATCH`` EXPLAINs run in one ``DO`` block (one round trip;
the block is the same text every time, the batch travels in a transaction-local setting,
so pg_stat_statements gets one entry for it, not one per batch), and the costs come back in
a NOTICE. A batch cut off by the monitor's statement_timeout is retried one statement at a
time, so one slow statement fails alone.

Everything is rolled back in ``close()``; prepared statements are deallocated.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import asyncpg

from dbtop.analysis.advisor import QueryInfo
from dbtop.engines.postgresql.workload import MARK

#: statements EXPLAINed per DO block
BATCH = 25
GENERIC_PLAN_VERSION = 160000
_SETTING = "dbtop.advisor_batch"
_PREFIX = "dbtop-advisor-plans "

# The batch is {"token", "items": [{"id", "sql", "full"}]}; the answer, the prefix, the
# token and a JSON object id -> the plan's top node ("full") or its total cost, or
# {"error": message}.
_DO_BLOCK = (
    MARK
    + f"""DO LANGUAGE plpgsql $dbtop_advisor$
DECLARE
    batch json := current_setting('{_SETTING}')::json;
    item json;
    plan json;
    answer jsonb := '{{}}';
BEGIN
    FOR item IN SELECT * FROM json_array_elements(batch->'items') LOOP
        BEGIN
            EXECUTE item->>'sql' INTO plan;
            IF (item->>'full')::boolean THEN
                answer := answer || jsonb_build_object(item->>'id', plan->0->'Plan');
            ELSE
                answer := answer
                    || jsonb_build_object(item->>'id', plan->0->'Plan'->'Total Cost');
            END IF;
        EXCEPTION WHEN OTHERS THEN
            answer := answer
                || jsonb_build_object(item->>'id', jsonb_build_object('error', SQLERRM));
        END;
    END LOOP;
    RAISE NOTICE '{_PREFIX}%', (batch->>'token') || answer::text;
END
$dbtop_advisor$"""
)


class GenericPlans:
    """Generic plans of QueryInfo texts; failures are kept per statement in ``failures``."""

    def __init__(self, conn: asyncpg.Connection, version: int) -> None:
        self._conn = conn
        self._version = version
        self.mode = "generic_plan" if version >= GENERIC_PLAN_VERSION else "prepare"
        self._plpgsql = False
        #: whether pg_stat_statements ignores this transaction (None: not tried yet)
        self._untracked: bool | None = None
        self._prepared: dict[str, str] = {}
        self._sql: dict[str, str] = {}
        self._answers: list[str] = []
        self._token = ""
        self.failures: dict[str, str] = {}
        self.explains = 0
        self.round_trips = 0

    @property
    def batched(self) -> bool:
        return self._plpgsql

    @property
    def untracked(self) -> bool:
        return bool(self._untracked)

    async def begin(self) -> None:
        self._plpgsql = bool(
            await self._conn.fetchval(
                "SELECT /* dbtop */ EXISTS (SELECT FROM pg_language WHERE lanname = 'plpgsql') "
                "AND has_language_privilege('plpgsql', 'USAGE')"
            )
        )
        if not self._plpgsql:
            self.mode = "prepare"
        self._conn.add_log_listener(self._on_notice)
        await self._begin()

    async def _begin(self) -> None:
        # client_min_messages: a role set to "warning" would never see the NOTICE answers
        await self._conn.execute(
            MARK + "BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan; "
            "SET LOCAL client_min_messages = notice"
        )
        if self._untracked is not False:
            self._untracked = await self._untrack()

    async def _untrack(self) -> bool:
        """Keep the advisor's thousands of EXPLAINs out of pg_stat_statements, where they
        would push out the very workload being advised on: allowed to a superuser or a role
        granted SET on the parameter; the others' EXPLAINs are recorded (marked /* dbtop */)
        and left out of the next run."""
        try:
            await self._conn.execute(
                MARK + "SAVEPOINT dbtop_track; SET LOCAL pg_stat_statements.track = 'none'; "
                "RELEASE SAVEPOINT dbtop_track"
            )
        except asyncpg.PostgresError:
            await self._conn.execute(MARK + "ROLLBACK TO SAVEPOINT dbtop_track")
            return False
        return True

    async def restart(self) -> None:
        await self._conn.execute(MARK + "ROLLBACK")
        await self._begin()

    def _on_notice(self, _conn: object, message: Any) -> None:
        text = getattr(message, "message", "") or ""
        if text.startswith(_PREFIX + self._token):
            self._answers.append(text[len(_PREFIX) + len(self._token) :])

    async def add(self, queries: Iterable[QueryInfo]) -> None:
        """Make the statements explainable (PREPARE them in ``prepare`` mode)."""
        for query in queries:
            text = query.text.strip().rstrip(";").strip()
            if self.mode == "generic_plan":
                self._sql[query.id] = text
                continue
            name = f"dbtop_advisor_{len(self._prepared)}"
            try:
                await self._conn.execute(
                    MARK + f"SAVEPOINT dbtop_prepare; PREPARE {name} AS {text}; "
                    "RELEASE SAVEPOINT dbtop_prepare"
                )
            except asyncpg.PostgresError as err:
                await self._conn.execute(MARK + "ROLLBACK TO SAVEPOINT dbtop_prepare")
                self.failures[query.id] = f"the planner rejected it: {_one_line(err)}"
                continue
            self._prepared[query.id] = name
            count = int(query.extra.get("params", 0) or 0)  # type: ignore[call-overload]
            args = "(" + ", ".join(["NULL"] * count) + ")" if count else ""
            self._sql[query.id] = f"EXECUTE {name}{args}"

    def explainable(self, query_id: str) -> bool:
        return query_id in self._sql

    async def invalidate(self) -> None:
        """The hypothetical index set changed: cached generic plans must be made again."""
        if self._prepared:
            await self._conn.execute(MARK + "DISCARD PLANS")

    def _explain(self, query_id: str, *, verbose: bool) -> str:
        options = ["FORMAT JSON"]
        if self.mode == "generic_plan":
            options.insert(0, "GENERIC_PLAN")
        if verbose:
            options.insert(0, "VERBOSE")
        return f"EXPLAIN {MARK}({', '.join(options)}) {self._sql[query_id]}"

    async def costs(self, queries: Sequence[QueryInfo]) -> dict[str, float | None]:
        answers = await self._run([q.id for q in queries], full=False, verbose=False)
        return {
            qid: float(value) if isinstance(value, int | float) else None
            for qid, value in answers.items()
        }

    async def plans(
        self, queries: Sequence[QueryInfo], *, verbose: bool = False
    ) -> dict[str, Mapping[str, Any] | None]:
        """The top node of each statement's EXPLAIN (FORMAT JSON), None where it failed."""
        answers = await self._run([q.id for q in queries], full=True, verbose=verbose)
        return {qid: value if isinstance(value, dict) else None for qid, value in answers.items()}

    async def _run(self, ids: Sequence[str], *, full: bool, verbose: bool) -> dict[str, Any]:
        result: dict[str, Any] = {qid: None for qid in ids}
        wanted = [qid for qid in ids if qid in self._sql]
        if not self._plpgsql:
            for qid in wanted:
                result[qid] = await self._one(qid, full=full, verbose=verbose)
            return result
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            try:
                answer = await self._batch(chunk, full=full, verbose=verbose)
            except asyncpg.QueryCanceledError:
                await self.restart()
                answer = {}
                for qid in chunk:
                    try:
                        answer.update(await self._batch([qid], full=full, verbose=verbose))
                    except asyncpg.QueryCanceledError:
                        await self.restart()
                        answer[qid] = {"error": "planning took longer than statement_timeout"}
            for qid in chunk:
                value = answer.get(qid)
                if isinstance(value, dict) and "error" in value and len(value) == 1:
                    self._fail(qid, f"EXPLAIN failed: {value['error']}")
                    value = None
                elif value is not None:
                    self.explains += 1
                result[qid] = value
        return result

    async def _batch(self, ids: Sequence[str], *, full: bool, verbose: bool) -> dict[str, Any]:
        self._token = secrets.token_hex(4) + " "
        items = [
            {"id": qid, "sql": self._explain(qid, verbose=verbose), "full": full} for qid in ids
        ]
        self._answers.clear()
        batch = {"token": self._token, "items": items}
        await self._conn.execute(
            f"SELECT /* dbtop */ set_config('{_SETTING}', $1, true)",
            json.dumps(batch, ensure_ascii=False),
        )
        await self._conn.execute(_DO_BLOCK)
        self.round_trips += 2
        for _ in range(3):
            # the NOTICE callback is scheduled before the command's completion wakes us
            if self._answers:
                break
            await asyncio.sleep(0)
        if not self._answers:
            raise RuntimeError("the DO block sent no answer (a NOTICE filtered out?)")
        return cast(dict[str, Any], json.loads(self._answers.pop()))

    async def _one(self, qid: str, *, full: bool, verbose: bool) -> Any:
        try:
            raw = await self._conn.fetchval(self._explain(qid, verbose=verbose))
        except asyncpg.PostgresError as err:
            await self.restart()
            self._fail(qid, f"EXPLAIN failed: {_one_line(err)}")
            return None
        self.round_trips += 1
        self.explains += 1
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
        return plan if full else plan["Total Cost"]

    def _fail(self, qid: str, why: str) -> None:
        self.failures.setdefault(qid, why)
        self._sql.pop(qid, None)

    async def close(self) -> None:
        self._conn.remove_log_listener(self._on_notice)
        try:
            await self._conn.execute(MARK + "ROLLBACK")
            for name in self._prepared.values():
                await self._conn.execute(MARK + f"DEALLOCATE {name}")
        except (asyncpg.PostgresError, asyncpg.InterfaceError):
            # the caller closes the connection, which drops all of it anyway
            pass
        self._prepared.clear()


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())
