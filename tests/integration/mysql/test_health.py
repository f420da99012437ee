"""Health checks against the machine's MariaDB (database ``test``): a deadlock between two
connections is reported as the latest deadlock, on its table, by the engine and by
``dbtop health``. Nothing is configured; the table is unique to the run and dropped."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import aiomysql
import pymysql
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import MySQLEngine
from dbtop.model import Severity

from .conftest import SHARED_HOST, SHARED_PORT

URL = f"mysql://root@{SHARED_HOST}:{SHARED_PORT}/test"


async def _connect() -> aiomysql.Connection:
    try:
        return await aiomysql.connect(
            host=SHARED_HOST, port=SHARED_PORT, user="root", db="test", autocommit=False
        )
    except pymysql.err.MySQLError as exc:
        pytest.skip(f"no MariaDB at {SHARED_HOST}:{SHARED_PORT}: {exc}")


async def _run(conn: aiomysql.Connection, sql: str) -> None:
    async with conn.cursor() as cur:
        await cur.execute(sql)


async def test_latest_deadlock_is_reported() -> None:
    table = f"h17_dl_{uuid.uuid4().hex[:8]}"
    first, second = await _connect(), await _connect()
    try:
        await _run(first, f"CREATE TABLE {table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        await _run(first, f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
        await first.commit()
        await _run(first, f"UPDATE {table} SET v = 1 WHERE id = 1")
        await _run(second, f"UPDATE {table} SET v = 2 WHERE id = 2")
        # first now waits for row 2; second's request for row 1 closes the cycle.
        waiting = asyncio.ensure_future(_run(first, f"UPDATE {table} SET v = 1 WHERE id = 2"))
        errors: list[int] = []
        for task in (_run(second, f"UPDATE {table} SET v = 2 WHERE id = 1"), waiting):
            try:
                await task
            except pymysql.err.OperationalError as exc:
                errors.append(exc.args[0])
        assert 1213 in errors  # ER_LOCK_DEADLOCK
        await first.rollback()
        await second.rollback()

        engine = MySQLEngine(URL, ConnectOptions())
        await engine.connect()
        try:
            snapshot = await engine.snapshot()
        finally:
            await engine.close()
        found = [f for f in snapshot.findings if f.kind == "deadlock"]
        assert [f.object for f in found] == [f"test.{table}"]
        assert found[0].severity is Severity.WARNING  # seconds old
        assert any(table in q for q in found[0].extra["queries"])

        cli = subprocess.run(
            [sys.executable, "-m", "dbtop.cli", "health", URL, "--json", "--fail-on", "warning"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1, cli.stderr
        kinds = {(f["kind"], f["object"]) for f in json.loads(cli.stdout)["findings"]}
        assert ("deadlock", f"test.{table}") in kinds
    finally:
        await first.rollback()
        await second.rollback()
        await _run(first, f"DROP TABLE IF EXISTS {table}")
        first.close()
        second.close()


async def test_alter_table_progress_on_the_session() -> None:
    """MariaDB's processlist progress of an ALTER TABLE ... ALGORITHM=COPY reaches the
    session: command, stage and percent. The copy takes about a second; it is run again
    (up to three times) when it ended before a poll saw it."""
    table = f"h17_alter_{uuid.uuid4().hex[:8]}"
    admin, alterer = await _connect(), await _connect()
    engine = MySQLEngine(URL, ConnectOptions())
    try:
        await _run(
            admin, f"CREATE TABLE {table} (id INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB"
        )
        await _run(admin, f"INSERT INTO {table} SELECT seq, REPEAT('x', 90) FROM seq_1_to_400000")
        await admin.commit()
        await engine.connect()
        async with alterer.cursor() as cur:
            await cur.execute("SELECT CONNECTION_ID()")
            (thread_id,) = await cur.fetchone()
        seen = None
        for attempt in range(3):
            column = f"w{attempt}"
            alter = asyncio.ensure_future(
                _run(alterer, f"ALTER TABLE {table} ADD COLUMN {column} INT, ALGORITHM=COPY")
            )
            while not alter.done() and seen is None:
                session = (await engine.snapshot()).session(str(thread_id))
                if session is not None and session.progress is not None:
                    seen = session.progress
            await alter
            if seen is not None:
                break
        assert seen is not None, "no poll saw the ALTER TABLE in progress"
        assert seen.command == "ALTER TABLE"
        assert seen.phase is not None and seen.phase.startswith("stage 1 of 2")
        assert seen.percent is not None and 0 < seen.percent < 100
    finally:
        await engine.close()
        await _run(admin, f"DROP TABLE IF EXISTS {table}")
        admin.close()
        alterer.close()
