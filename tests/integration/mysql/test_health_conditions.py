"""The MariaDB health checks test_health.py does not reach, each against a condition created
on a private MariaDB of this module's own (tests/integration/mysql/servers.py): a small
buffer pool and max_connections, a binary log, and (for the last test) a replica of it.
Each test first asserts the finding is absent, then creates the condition and waits for it.

Two thresholds too costly to reach here (a history list of 100,000 undo logs takes 100,000
commits; a transaction open 5 minutes) are lowered for their test: the read is what these
tests check, the thresholds are unit-tested.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pymysql
import pytest

import dbtop.analysis.health.mysql as my_health
from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import MySQLEngine
from dbtop.model import Finding, Severity, Snapshot
from tests.integration.mysql.servers import PrivateServer, Unavailable, start_private
from tests.waiting import wait_until, wait_until_sync

MAX_CONNECTIONS = 10
DB = "health"


PRIMARY_OPTIONS = [
    "--innodb-buffer-pool-size=8M",
    # buffered reads: a page missing from the pool comes from the OS cache, fast
    "--innodb-flush-method=fsync",
    "--innodb-flush-log-at-trx-commit=0",
    f"--max-connections={MAX_CONNECTIONS}",
    "--server-id=1",
    "--log-bin=primary-bin",
]
REPLICA_OPTIONS = ["--server-id=2", "--innodb-flush-log-at-trx-commit=0"]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivateServer, PrivateServer]]:
    """The primary and its replica, started side by side (the replica is replicating from
    the last test on)."""
    with ThreadPoolExecutor(2) as pool:
        starting = [
            pool.submit(start_private, PRIMARY_OPTIONS, label="dbtop-health"),
            pool.submit(start_private, REPLICA_OPTIONS, label="dbtop-health-r"),
        ]
    started: list[PrivateServer] = []
    failed: list[str] = []
    for future in starting:
        try:
            started.append(future.result())
        except Unavailable as exc:
            failed.append(str(exc))
    try:
        if failed:
            pytest.skip(f"no private MariaDB for these tests: {failed[0]}")
        primary, replica = started
        with primary.connect() as conn:
            execute(conn, f"CREATE DATABASE {DB}")
            execute(conn, "CREATE USER 'h_user'@'%' IDENTIFIED BY 'right'")
            execute(conn, f"GRANT ALL ON {DB}.* TO 'h_user'@'%'")
        yield primary, replica
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def primary(servers: tuple[PrivateServer, PrivateServer]) -> PrivateServer:
    return servers[0]


def execute(conn: pymysql.Connection, sql: str, args: object = None) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


async def snapshot(url: str) -> Snapshot:
    """A snapshot from a new engine: SHOW ENGINE INNODB STATUS is read now, not cached."""
    engine = MySQLEngine(url, ConnectOptions())
    await engine.connect()
    try:
        return await engine.snapshot()
    finally:
        await engine.close()


def found(snap: Snapshot, kind: str, obj: str) -> Finding | None:
    return next((f for f in snap.findings if f.kind == kind and f.object == obj), None)


async def wait_for(url: str, kind: str, obj: str, what: str, timeout: float = 15) -> Finding:
    async def check() -> Finding | None:
        return found(await snapshot(url), kind, obj)

    return await wait_until(check, timeout=timeout, what=what)


async def test_aborted_connections(primary: PrivateServer) -> None:
    """Wrong passwords, more than ABORTED_MIN of them: Aborted_connects."""
    url = primary.url(DB)
    assert found(await snapshot(url), "aborted_connections", "Aborted_connects") is None

    def wrong_password(_: int) -> int:
        try:
            primary.connect(user="h_user", password="wrong", ssl_disabled=True).close()
        except pymysql.err.OperationalError as exc:
            return int(exc.args[0])
        return 0

    # (without TLS: pymysql loads the system's certificates for each attempt otherwise)
    codes = {wrong_password(i) for i in range(my_health.ABORTED_MIN + 5)}
    assert codes == {1045}  # ER_ACCESS_DENIED_ERROR
    finding = await wait_for(url, "aborted_connections", "Aborted_connects", "aborted")
    assert finding.severity is Severity.WARNING
    assert finding.extra["count"] >= my_health.ABORTED_MIN
    assert "wrong passwords" in finding.message

    # Clients that vanish without COM_QUIT: Aborted_clients.
    assert found(await snapshot(url), "aborted_connections", "Aborted_clients") is None
    for _ in range(my_health.ABORTED_MIN + 5):
        conn = primary.connect(DB, ssl_disabled=True)
        conn._sock.close()  # type: ignore[union-attr]  # the socket closed, no goodbye
    dropped = await wait_for(url, "aborted_connections", "Aborted_clients", "dropped clients")
    assert dropped.severity is Severity.WARNING
    assert "dropped without a proper close" in dropped.message


async def test_buffer_pool_hit_rate(primary: PrivateServer) -> None:
    """A 24 MB table read in an order the 8 MB pool cannot keep up with: 30,000 lookups by
    key (well past the 100,000 page requests the check wants), most of them reading a page
    from disk."""
    url = primary.url(DB)
    conn = primary.connect(DB)
    try:
        execute(conn, "CREATE TABLE h_big (id INT PRIMARY KEY, pad VARCHAR(7000)) ENGINE=InnoDB")
        execute(conn, "INSERT INTO h_big SELECT seq, REPEAT('x', 7000) FROM seq_1_to_3000")
        assert found(await snapshot(url), "buffer_pool_hit_rate", "innodb_buffer_pool_size") is None
        execute(
            conn,
            "SELECT SUM(LENGTH(b.pad)) FROM seq_1_to_30000 s "
            "JOIN h_big b ON b.id = 1 + (s.seq * 7919) % 3000",
        )
        finding = await wait_for(url, "buffer_pool_hit_rate", "innodb_buffer_pool_size", "misses")
        assert finding.severity is Severity.WARNING
        assert finding.extra["hit_rate"] < my_health.HIT_RATE_WARN
        assert "does not fit in innodb_buffer_pool_size" in finding.message
    finally:
        execute(conn, "DROP TABLE IF EXISTS h_big")
        conn.close()


async def test_history_list_held_by_a_long_transaction(
    primary: PrivateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consistent-read snapshot held open while another connection commits 2,000 updates:
    purge may not remove their undo, the history list grows; the snapshot's transaction is
    the long one. Thresholds lowered: history 1,000 (from 100,000), transaction 1 s (from
    5 min)."""
    monkeypatch.setattr(my_health, "HISTORY_WARN", 1_000)
    monkeypatch.setattr(my_health, "LONG_XACT_WARN_S", 1.0)
    url = primary.url(DB)
    writer, reader = primary.connect(DB), primary.connect(DB)
    try:
        execute(writer, "CREATE TABLE h_hist (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
        execute(writer, "INSERT INTO h_hist SELECT seq, 0 FROM seq_1_to_100")
        execute(
            writer,
            "CREATE PROCEDURE h_churn(n INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO "
            "UPDATE h_hist SET v = v + 1 WHERE id = 1 + i % 100; SET i = i + 1; END WHILE; END",
        )
        (reader_id,) = execute(reader, "SELECT CONNECTION_ID()")[0]
        before = await snapshot(url)
        assert found(before, "history_list_length", "InnoDB purge") is None
        assert found(before, "long_transaction", str(reader_id)) is None

        execute(reader, "START TRANSACTION WITH CONSISTENT SNAPSHOT")
        execute(reader, "SELECT COUNT(*) FROM h_hist")
        execute(writer, "CALL h_churn(2000)")  # autocommit: 2,000 transactions

        async def both() -> Snapshot | None:
            snap = await snapshot(url)
            history = found(snap, "history_list_length", "InnoDB purge")
            return snap if history and found(snap, "long_transaction", str(reader_id)) else None

        snap = await wait_until(both, timeout=15, what="the history list and the transaction")
        history = found(snap, "history_list_length", "InnoDB purge")
        assert history is not None and history.severity is Severity.WARNING
        assert history.extra["history_length"] >= 2000
        assert (
            history.warning == "find the oldest transaction (long_transaction findings) and end it"
        )
        long = found(snap, "long_transaction", str(reader_id))
        assert long is not None and long.severity is Severity.WARNING
        assert long.statement == f"KILL {reader_id};"
        assert "is idle in it" in long.message
    finally:
        reader.close()
        execute(writer, "DROP PROCEDURE IF EXISTS h_churn")
        execute(writer, "DROP TABLE IF EXISTS h_hist")
        writer.close()


async def test_connections_near_limit(primary: PrivateServer) -> None:
    """max_connections 10: connections are opened one at a time until 80 % (warning), then
    95 % (critical)."""
    url = primary.url(DB)
    engine = MySQLEngine(url, ConnectOptions())
    await engine.connect()
    conns: list[pymysql.Connection] = []
    try:
        assert found(await engine.snapshot(), "connections_near_limit", "max_connections") is None
        seen: dict[Severity, Finding] = {}
        while Severity.CRITICAL not in seen:
            assert len(conns) < MAX_CONNECTIONS, f"no critical finding at {len(conns)} more"
            conns.append(primary.connect(DB, ssl_disabled=True))
            finding = found(await engine.snapshot(), "connections_near_limit", "max_connections")
            if finding is not None:
                seen.setdefault(finding.severity, finding)
        assert seen[Severity.WARNING].extra["connections"] in (8, 9)
        assert seen[Severity.CRITICAL].extra["connections"] >= 10
        assert seen[Severity.CRITICAL].extra["max_connections"] == MAX_CONNECTIONS
    finally:
        for conn in conns:
            conn.close()
        await engine.close()


@pytest.fixture
def replica(servers: tuple[PrivateServer, PrivateServer]) -> PrivateServer:
    primary, server = servers
    with server.connect() as conn:
        execute(
            conn,
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
            "MASTER_USER='root', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=no",
        )
        execute(conn, "START SLAVE")
    return server


def _replica_status(conn: pymysql.Connection) -> dict[str, object]:
    with conn.cursor(pymysql.cursors.DictCursor) as cur:
        cur.execute("SHOW SLAVE STATUS")
        return dict(cur.fetchone() or {})


async def test_replication_threads(
    primary: PrivateServer, replica: PrivateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module's last test (it stops the primary). A row locked on the replica makes it
    lag; a row the replica has already stops its SQL thread on a duplicate key; the
    primary stopped leaves its IO thread connecting."""
    url = replica.url()
    source = primary.connect(DB)
    conn = replica.connect()
    try:
        execute(source, "CREATE TABLE h_clash (id INT PRIMARY KEY) ENGINE=InnoDB")

        def caught_up() -> bool:
            status = _replica_status(conn)
            return (
                status.get("Slave_SQL_Running") == "Yes"
                and status.get("Slave_IO_Running") == "Yes"
                and bool(execute(conn, f"SHOW TABLES FROM {DB} LIKE 'h_clash'"))
            )

        execute(source, "INSERT INTO h_clash VALUES (0)")
        wait_until_sync(caught_up, timeout=20, what="the replica replicating h_clash")
        wait_until_sync(
            lambda: execute(conn, f"SELECT COUNT(*) FROM {DB}.h_clash")[0][0] == 1,
            what="the row replicated",
        )
        before = await snapshot(url)
        assert [f for f in before.findings if f.kind.startswith("replication")] == []

        # A row locked on the replica: its SQL thread waits to apply the primary's update,
        # and falls behind by the second (threshold lowered to 1 s, from 30 s).
        monkeypatch.setattr(my_health, "LAG_WARN_S", 1.0)
        blocker = replica.connect(DB)
        execute(blocker, "BEGIN")
        execute(blocker, "SELECT * FROM h_clash WHERE id = 0 FOR UPDATE")
        execute(source, "UPDATE h_clash SET id = -1 WHERE id = 0")
        lag = await wait_for(url, "replication_lag", "replica of 127.0.0.1", "the replica behind")
        assert lag.severity is Severity.WARNING
        assert lag.extra["lag_s"] >= 1
        assert "reads here are stale" in lag.message
        blocker.close()  # its transaction rolled back: the SQL thread goes on
        wait_until_sync(
            lambda: execute(conn, f"SELECT id FROM {DB}.h_clash") == [(-1,)],
            what="the update applied",
        )

        execute(conn, f"INSERT INTO {DB}.h_clash VALUES (1)")
        execute(source, "INSERT INTO h_clash VALUES (1)")
        sql = await wait_for(url, "replication_stopped", "replica SQL thread", "the SQL error")
        assert sql.severity is Severity.CRITICAL
        assert "Duplicate entry '1'" in sql.message
        assert "from 127.0.0.1" in sql.message
        assert sql.statement == "START REPLICA;"
        assert sql.warning == "fix the error it stopped on first (SHOW REPLICA STATUS)"
        assert sql.extra["running"] == "No"
        assert found(await snapshot(url), "replication_stopped", "replica IO thread") is None

        source.close()
        primary.stop()
        io = await wait_for(url, "replication_stopped", "replica IO thread", "the IO thread down")
        assert io.severity is Severity.CRITICAL
        assert io.extra["running"] == "Connecting"
        assert "error reconnecting to master" in io.message

        cli = subprocess.run(
            [sys.executable, "-m", "dbtop.cli", "health", url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1, cli.stderr  # critical
        listed = {(f["kind"], f["object"]) for f in json.loads(cli.stdout)["findings"]}
        assert {
            ("replication_stopped", "replica SQL thread"),
            ("replication_stopped", "replica IO thread"),
        } <= listed
    finally:
        with contextlib.suppress(pymysql.err.MySQLError):
            source.close()
        conn.close()
