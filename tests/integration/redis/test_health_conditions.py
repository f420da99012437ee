"""The Redis health checks test_health.py does not reach, each against a condition created
on private redis-servers of this module's own (never the machine's Redis): a failed RDB
snapshot and AOF rewrite, a replica whose master is gone, a full server that refuses
writes. Each test first asserts the finding is absent, then creates the condition.

A failed save is made by deleting the server's data directory under it: the tests run as
root here, whom a read-only directory would not stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from dbtop.model import Finding, Severity, Snapshot
from tests.waiting import wait_until, wait_until_sync

from .conftest import PREFIX, Server, start_server


def _data_dir(root: Path) -> Path:
    path = root / "data"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Its data in ``data/`` (for the persistence test to delete); a replica syncs from it
    at once, without a file."""
    root = tmp_path_factory.mktemp("health-primary")
    _data_dir(root)  # start_server makes only the root
    server = start_server(
        root,
        args=("--dir", str(root / "data"), "--repl-diskless-sync-delay", "0"),
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A plain private server the tests may reconfigure (CONFIG SET: it is ours)."""
    server = start_server(tmp_path_factory.mktemp("health-plain"))
    try:
        yield server
    finally:
        server.stop()


async def snapshot(url: str) -> Snapshot:
    engine = RedisEngine(url, ConnectOptions())
    await engine.connect()
    try:
        return await engine.snapshot()
    finally:
        await engine.close()


def found(snap: Snapshot, kind: str, obj: str = "server") -> list[Finding]:
    return [f for f in snap.findings if f.kind == kind and f.object == obj]


async def test_persistence_failed(primary: Server) -> None:
    client = primary.client(0)
    try:
        client.set(f"{PREFIX}h", "1")
        client.bgsave()
        wait_until_sync(
            lambda: (
                client.info("persistence")["rdb_bgsave_in_progress"] == 0
                and client.info("persistence")["rdb_last_bgsave_status"] == "ok"
            ),
            what="a first BGSAVE that succeeds",
        )
        assert found(await snapshot(primary.url(0)), "persistence_failed") == []

        shutil.rmtree(primary.directory / "data")  # the data directory gone under the server
        client.bgsave()
        wait_until_sync(
            lambda: client.info("persistence")["rdb_last_bgsave_status"] == "err",
            what="the BGSAVE failing",
        )
        (rdb,) = found(await snapshot(primary.url(0)), "persistence_failed")
        assert rdb.severity is Severity.CRITICAL
        assert rdb.message.startswith("the last RDB snapshot failed")
        assert rdb.statement == "check the server log and free disk space, then BGSAVE"

        # Redis 7 makes its AOF directory first: the rewrite fails before it forks
        with pytest.raises(redis.exceptions.ResponseError, match="AOF background rewriting"):
            client.bgrewriteaof()
        assert client.info("persistence")["aof_last_bgrewrite_status"] == "err"
        rdb_again, aof = found(await snapshot(primary.url(0)), "persistence_failed")
        assert rdb_again.message == rdb.message
        assert aof.severity is Severity.CRITICAL
        assert aof.message == "the last AOF rewrite failed (aof_last_bgrewrite_status:err)"
        assert aof.statement == "check the server log and free disk space, then BGREWRITEAOF"
    finally:
        _data_dir(primary.directory)
        client.close()


async def test_replication_down(primary: Server, tmp_path: Path) -> None:
    """The module's last test on ``primary``: it stops it."""
    replica = start_server(
        tmp_path / "replica", args=("--replicaof", "127.0.0.1", str(primary.port))
    )
    client = replica.client(0)
    try:
        source = primary.client(0)

        def in_sync() -> bool:
            # both ends: the master marks the replica online only on its first ACK
            replica_line = source.info("replication").get("slave0") or {}  # parsed by redis-py
            online = isinstance(replica_line, dict) and replica_line.get("state") == "online"
            return online and client.info("replication").get("master_link_status") == "up"

        wait_until_sync(in_sync, what="the replica in sync, on both ends")
        source.close()
        assert found(await snapshot(replica.url(0)), "replication_down") == []
        on_primary = await snapshot(primary.url(0))
        assert [f for f in on_primary.findings if f.kind == "replication_lag"] == []

        # The replica frozen (SIGSTOP: our own process), 2 MB written: the master's view of
        # its offset falls behind by them.
        replica.process.send_signal(signal.SIGSTOP)
        try:
            writer = primary.client(0)
            writer.set(f"{PREFIX}h_lag", b"x" * (2 * 1024 * 1024))
            writer.close()
            (behind,) = [
                f for f in (await snapshot(primary.url(0))).findings if f.kind == "replication_lag"
            ]
        finally:
            replica.process.send_signal(signal.SIGCONT)
        assert behind.object == f"127.0.0.1:{replica.port}"
        assert behind.severity is Severity.WARNING
        assert behind.extra["behind_bytes"] >= 2 * 1024 * 1024
        assert behind.extra["state"] == "online"

        primary.stop()
        wait_until_sync(
            lambda: client.info("replication").get("master_link_status") == "down",
            what="the replica seeing its master gone",
        )
        (down,) = found(await snapshot(replica.url(0)), "replication_down")
        assert down.severity is Severity.CRITICAL
        assert down.message == f"the link to the master 127.0.0.1:{primary.port} is down"
        assert down.statement == "check the master's reachability and the replica's log"
    finally:
        client.close()
        replica.stop()


async def test_memory_full_without_eviction(tmp_path: Path) -> None:
    """maxmemory reached under noeviction: writes fail with OOM, a critical finding."""
    server = start_server(
        tmp_path / "full", args=("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    )
    client = server.client(0)
    try:
        assert found(await snapshot(server.url(0)), "memory_near_limit") == []
        value = b"x" * 1000
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(4000):  # 4 MB into 2 MB: refused on the way
                client.set(f"{PREFIX}full:{n}", value)
        snap = await snapshot(server.url(0))
        (full,) = found(snap, "memory_near_limit")
        assert full.severity is Severity.CRITICAL
        assert full.extra["policy"] == "noeviction"
        assert full.extra["evicted_keys"] == 0
        assert "writes fail with OOM at the limit" in full.message
        assert full.statement == "CONFIG SET maxmemory <more bytes>"
        (refusing,) = found(snap, "eviction_refuses_writes")
        assert refusing.severity is Severity.CRITICAL
        assert "with maxmemory-policy noeviction" in refusing.message
    finally:
        client.close()
        server.stop()


async def test_volatile_policy_without_ttls(tmp_path: Path) -> None:
    """volatile-lru with no key carrying a TTL: nothing can be evicted, writes fail."""
    server = start_server(
        tmp_path / "volatile", args=("--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru")
    )
    client = server.client(0)
    try:
        assert found(await snapshot(server.url(0)), "eviction_cannot_free") == []
        value = b"x" * 1000
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(4000):
                client.set(f"{PREFIX}vol:{n}", value)
        (stuck,) = found(await snapshot(server.url(0)), "eviction_cannot_free")
        assert stuck.severity is Severity.WARNING
        assert "evicts only keys with a TTL, but only 0 of" in stuck.message
        assert stuck.statement and "allkeys-lru" in stuck.statement
    finally:
        client.close()
        server.stop()


async def test_blocked_clients(plain: Server) -> None:
    """A client in BLPOP: information (a queue worker waits on purpose)."""
    server = plain
    url = server.url(0)
    assert found(await snapshot(url), "blocked_clients") == []
    waiter = redis.asyncio.Redis(port=server.port, db=0)
    waiting = asyncio.ensure_future(waiter.blpop([f"{PREFIX}jobs"], timeout=0))
    try:
        client = server.client(0)
        # (asynchronous: the BLPOP task must run meanwhile)
        await wait_until(
            lambda: client.info("clients")["blocked_clients"] == 1, what="the client blocked"
        )
        client.close()
        (blocked,) = found(await snapshot(url), "blocked_clients")
        assert blocked.severity is Severity.INFO
        assert blocked.extra["blocked_clients"] == 1
    finally:
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError, redis.exceptions.RedisError):
            await waiting
        await waiter.aclose()


async def test_clients_at_maxclients(plain: Server) -> None:
    """maxclients reached: the connections past it are refused (rejected_connections) and
    the clients in use are near the limit."""
    server = plain
    admin = server.client(0)
    admin.config_set("maxclients", "10")
    engine = RedisEngine(server.url(0), ConnectOptions())
    await engine.connect()
    extra: list[redis.Redis] = []
    try:
        before = await engine.snapshot()
        assert found(before, "rejected_connections") == []
        assert found(before, "clients_near_limit") == []
        refused = None
        while refused is None:
            assert len(extra) < 10, "maxclients never refused a connection"
            # no retries: redis-py would retry a refused connection for seconds
            conn = redis.Redis(port=server.port, db=0, retry=Retry(NoBackoff(), 0))
            try:
                conn.ping()
            except redis.exceptions.ConnectionError as exc:
                refused = exc
                conn.close()
            else:
                extra.append(conn)  # its pool keeps the connection the PING opened
        assert "max number of clients reached" in str(refused)
        snap = await engine.snapshot()
        (rejected,) = found(snap, "rejected_connections")
        assert "maxclients (10) was reached" in rejected.message
        (near,) = found(snap, "clients_near_limit")
        assert near.message == "10 of 10 client connections in use"
    finally:
        for conn in extra:
            conn.close()
        await engine.close()
        admin.config_set("maxclients", "10000")
        admin.close()


async def test_big_key_in_the_keyspace_sample(plain: Server) -> None:
    """An 11 MB string: the keyspace sample's MEMORY USAGE finds it, a big_key warning."""
    client = plain.client(1)
    key = f"{PREFIX}huge"
    engine = RedisEngine(plain.url(1), ConnectOptions())
    await engine.connect()
    try:
        client.set(f"{PREFIX}small", b"x" * 1000)
        first = await engine.snapshot()
        assert [f for f in first.findings if f.kind == "big_key"] == []
        client.set(key, b"x" * (11 * 1024 * 1024))

        async def sampled() -> Finding | None:
            return next(
                (f for f in (await engine.snapshot()).findings if f.kind == "big_key"), None
            )

        big = await wait_until(sampled, timeout=15, what="the big key sampled")
        assert big.object == key
        assert big.severity is Severity.WARNING
        assert big.extra["memory_bytes"] >= 11 * 1024 * 1024
        assert big.statement == f"UNLINK {key}"
    finally:
        await engine.close()
        client.flushdb()
        client.close()
