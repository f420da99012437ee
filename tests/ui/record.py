"""Record ``data/pg_snapshot.json`` from a real PostgreSQL (run by hand, not by pytest).

    .venv/bin/python -m tests.ui.record [ADMIN_URL]

Without a URL it records from a private PostgreSQL 15 started for the purpose (with
pg_stat_statements and hypopg: tests/servers/postgres.py) and removed afterwards.

It builds a scene in its own database ``dbtop_ui``: orders read by a query that wants an
index, an unused and a duplicate index, a three-deep lock chain (an idle-in-transaction
root, a LOCK TABLE waiting on it, an UPDATE queued behind that), a long statement, and a
query whose text looks like markup and escape sequences. It takes two snapshots a second
apart (so rates are real), the plan of the slow query and the advisor's answer, keeps
what belongs to ``dbtop_ui`` (the server is shared), and writes them as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
from typing import Any

import asyncpg

from dbtop.analysis.rates import with_rates
from dbtop.engines.base import ConnectOptions
from dbtop.engines.registry import create_engine
from dbtop.model import Snapshot, to_jsonable
from tests.servers import postgres
from tests.ui.recorded import DATA
from tests.waiting import wait_until

DATABASE = "dbtop_ui"
SLOW_QUERY = "SELECT * FROM dbtop_ui_orders WHERE customer_id = 4242"
TRICKY_QUERY = "SELECT '[bold red]not markup[/] \x1b[31mred?' AS x, pg_sleep(600)"


async def prepare(admin_url: str) -> str:
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await admin.execute(f"CREATE DATABASE {DATABASE}")
        await end_scene(admin)
    finally:
        await admin.close()
    url = admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
            CREATE EXTENSION IF NOT EXISTS hypopg;
            DROP TABLE IF EXISTS dbtop_ui_orders, dbtop_ui_accounts;
            CREATE TABLE dbtop_ui_orders (
                id bigserial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(), note text);
            INSERT INTO dbtop_ui_orders (customer_id, status, note)
                SELECT (g * 7919) % 50000, (ARRAY['new','paid','sent','done'])[g % 4 + 1],
                       repeat('x', 40)
                FROM generate_series(1, 200000) g;
            CREATE INDEX dbtop_ui_orders_status ON dbtop_ui_orders (status);
            CREATE INDEX dbtop_ui_orders_status_again ON dbtop_ui_orders (status);
            CREATE TABLE dbtop_ui_accounts (id int PRIMARY KEY, balance numeric NOT NULL);
            INSERT INTO dbtop_ui_accounts SELECT g, 100 FROM generate_series(1, 10) g;
            ANALYZE dbtop_ui_orders; ANALYZE dbtop_ui_accounts;
            """
        )
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()
    return url


async def end_scene(admin: asyncpg.Connection) -> None:
    """End what an earlier run left behind (a client gone, its pg_sleep still running)."""
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        DATABASE,
    )


async def scene(url: str) -> list[asyncpg.Connection]:
    """Open the sessions that make the picture; they stay until the recording is done."""
    opened: list[asyncpg.Connection] = []

    async def session(name: str) -> asyncpg.Connection:
        conn = await asyncpg.connect(url, server_settings={"application_name": name})
        opened.append(conn)
        return conn

    root = await session("dbtop-ui-billing")
    await root.execute("BEGIN")
    await root.execute("UPDATE dbtop_ui_accounts SET balance = balance + 1 WHERE id = 1")
    middle = await session("dbtop-ui-report")
    leaf = await session("dbtop-ui-web")
    sleeper = await session("dbtop-ui-batch")
    tricky = await session("dbtop-ui-[blink]tricky[/]")
    await session("dbtop-ui-idle")

    async def wait_for(conn: asyncpg.Connection, sql: str) -> None:
        asyncio.get_running_loop().create_task(_quietly(conn.execute(sql)))

    await middle.execute("BEGIN")
    await wait_for(middle, "LOCK TABLE dbtop_ui_accounts IN SHARE MODE")
    await _until_waiting(root, middle.get_server_pid(), "Lock")
    await wait_for(leaf, "UPDATE dbtop_ui_accounts SET balance = 0 WHERE id = 2")
    await wait_for(sleeper, "SELECT pg_sleep(600) /* nightly batch */")
    await wait_for(tricky, TRICKY_QUERY)
    await _until_waiting(root, leaf.get_server_pid(), "Lock")
    await _until_waiting(root, sleeper.get_server_pid(), "Timeout")
    await _until_waiting(root, tricky.get_server_pid(), "Timeout")
    return opened


async def _until_waiting(conn: asyncpg.Connection, pid: int, wait_type: str) -> None:
    """``pid`` waits on ``wait_type`` (asked on ``conn``, a session of the scene that is idle
    in its transaction)."""

    async def waiting() -> bool:
        query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
        return await conn.fetchval(query, pid) == wait_type

    await wait_until(waiting, what=f"backend {pid} waiting on {wait_type}")


async def _quietly(work: Any) -> None:
    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError):
        await work


async def workload(url: str, rounds: int) -> None:
    conn = await asyncpg.connect(url, server_settings={"application_name": "dbtop-ui-app"})
    try:
        for n in range(rounds):
            await conn.fetch(SLOW_QUERY.replace("4242", str(4242 + n % 5)))
            await conn.fetch("SELECT * FROM dbtop_ui_orders WHERE id = $1", n + 1)
    finally:
        await conn.close()


def keep_ours(snapshot: Snapshot) -> Snapshot:
    """Only what belongs to the scene: the server is shared with other tests."""
    sessions = tuple(
        s for s in snapshot.sessions if s.database == DATABASE and (s.is_self or s.application)
    )
    ids = {s.id for s in sessions}
    return dataclasses.replace(
        snapshot,
        sessions=sessions,
        statements=tuple(s for s in snapshot.statements if s.database == DATABASE),
        lock_waits=tuple(w for w in snapshot.lock_waits if w.waiter in ids and w.blocker in ids),
        findings=tuple(f for f in snapshot.findings if "dbtop_ui" in f.object),
    )


async def record(admin_url: str) -> dict[str, Any]:
    url = await prepare(admin_url)
    await workload(url, 20)
    opened = await scene(url)
    engine = create_engine(url, ConnectOptions())
    await engine.connect()
    try:
        first = keep_ours(await engine.snapshot())
        await workload(url, 30)
        # the sleep is the behaviour under test: two snapshots a second apart, so that the
        # recorded rates are per second of real time
        await asyncio.sleep(1.0)
        second = with_rates(first, keep_ours(await engine.snapshot()))
        plan = await engine.explain(query=SLOW_QUERY)
        advice = await engine.suggest()
    finally:
        await engine.close()
        for conn in opened:
            conn.terminate()
        admin = await asyncpg.connect(admin_url)
        try:
            await end_scene(admin)
        finally:
            await admin.close()
    return {
        "recorded_with": "tests/ui/record.py",
        "first": to_jsonable(first),
        "snapshot": to_jsonable(second),
        "plan": to_jsonable(plan),
        "advice": to_jsonable(advice),
    }


def main() -> None:
    if len(sys.argv) > 1:
        document = asyncio.run(record(sys.argv[1]))
    else:
        server = postgres.start()
        try:
            document = asyncio.run(record(server.url("postgres")))
        finally:
            server.stop()
    DATA.mkdir(exist_ok=True)
    target = DATA / "pg_snapshot.json"
    target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    snap = document["snapshot"]
    print(
        f"wrote {target}: {len(snap['sessions'])} sessions, {len(snap['statements'])} statements,"
        f" {len(snap['indexes'])} indexes, {len(snap['lock_waits'])} lock waits"
    )


if __name__ == "__main__":
    main()
