"""The Redis engine against real servers: clients, blocked clients, kill, slow log, explain."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import redis
import redis.asyncio as aioredis

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from dbtop.engines.registry import create_engine
from dbtop.errors import NotFoundError, QueryError, RefusedError, UsageError
from dbtop.model import KillMode, PaneLabels
from tests.waiting import wait_until

from .conftest import PREFIX, Server


async def engine_for(url: str, **options: object) -> RedisEngine:
    engine = create_engine(url, ConnectOptions(**options))  # type: ignore[arg-type]
    assert isinstance(engine, RedisEngine)
    await engine.connect()
    return engine


@contextlib.asynccontextmanager
async def connected(url: str, **options: object):
    engine = await engine_for(url, **options)
    try:
        yield engine
    finally:
        await engine.close()


async def wait_for(predicate, engine: RedisEngine, what: str = "the expected state"):
    """The first snapshot for which ``predicate`` holds (polling a real server)."""

    async def reached():
        snapshot = await engine.snapshot()
        return snapshot if predicate(snapshot) else None

    return await wait_until(reached, what=what)


async def test_snapshot_of_the_shared_server(shared_url, shared):
    async with connected(shared_url) as engine:
        snapshot = await engine.snapshot()
    assert snapshot.engine == "redis"
    assert snapshot.capabilities.labels == PaneLabels(
        sessions="Clients", statements="Slow log", indexes="Keyspace", locks="Blocked"
    )
    assert snapshot.server.version.startswith(("6.", "7.", "8."))
    assert snapshot.server.throughput_counter in snapshot.server.counters
    own = [s for s in snapshot.sessions if s.is_self]
    assert len(own) == 1 and own[0].application == "dbtop" and own[0].query == "CLIENT LIST"
    assert any(s.id == "info" for s in snapshot.statements)
    assert snapshot.server.address == "127.0.0.1:6379/9"


async def test_blpop_client_shows_blocked_and_k_unblocks_it(shared_url, shared):
    waiter = aioredis.Redis.from_url(shared_url, client_name="dbtop-test-waiter")
    try:
        waiter_id = await waiter.client_id()
        task = asyncio.create_task(waiter.blpop([f"{PREFIX}queue"], timeout=0))
        async with connected(shared_url) as engine:
            snapshot = await wait_for(
                lambda s: any(x.id == str(waiter_id) and x.state == "blocked" for x in s.sessions),
                engine,
            )
            session = snapshot.session(str(waiter_id))
            assert session.query == "BLPOP"
            assert session.blocked_by == ("list:BLPOP",)
            assert session.application == "dbtop-test-waiter"
            edge = next(w for w in snapshot.lock_waits if w.waiter == str(waiter_id))
            assert edge.blocker == "list:BLPOP" and edge.mode == "BLPOP"
            assert edge.lock_type == "list"

            result = await engine.kill(str(waiter_id), KillMode.CANCEL)
            assert result.ok, result.message
            assert await asyncio.wait_for(task, 5) is None  # BLPOP returned as on timeout

            again = await engine.kill(str(waiter_id), KillMode.CANCEL)
            assert not again.ok and "not blocked" in again.message
    finally:
        await waiter.aclose()


async def test_K_kills_a_client_but_never_dbtop_itself(shared_url, shared):
    victim = redis.Redis.from_url(shared_url, client_name="dbtop-test-victim")
    victim_id = victim.client_id()
    async with connected(shared_url) as engine:
        snapshot = await engine.snapshot()
        assert snapshot.session(str(victim_id)) is not None
        result = await engine.kill(str(victim_id), KillMode.TERMINATE)
        assert result.ok, result.message
        after = await engine.snapshot()
        assert after.session(str(victim_id)) is None
        with pytest.raises(NotFoundError):
            await engine.kill(str(victim_id), KillMode.TERMINATE)
        own = next(s for s in after.sessions if s.is_self)
        with pytest.raises(RefusedError):
            await engine.kill(own.id, KillMode.TERMINATE)
        with pytest.raises(NotFoundError):
            await engine.kill("list-push", KillMode.CANCEL)
        with pytest.raises(NotFoundError):
            await engine.kill("abc", KillMode.CANCEL)
    victim.close()
    async with connected(shared_url, read_only=True) as engine:
        with pytest.raises(RefusedError):
            await engine.kill("1", KillMode.CANCEL)


async def test_slow_log_and_command_stats(private: Server, private_db):
    private_db.hset(f"{PREFIX}big", mapping={f"f{i}": i for i in range(5000)})
    private_db.config_set("slowlog-log-slower-than", "0")
    private_db.slowlog_reset()
    named = redis.Redis(port=private.port, db=9, password=private.password, client_name="app-1")
    named.hgetall(f"{PREFIX}big")
    named.close()
    private_db.config_set("slowlog-log-slower-than", "1000000")
    async with connected(private.url(9)) as engine:
        snapshot = await engine.snapshot()
        event = next(e for e in snapshot.slow_events if e.query == f"HGETALL {PREFIX}big")
        plan = await engine.explain(query=event.query)  # e on a slow-log row
        assert plan.root.name == "HGETALL" and plan.root.rows == 5000
    assert event.extra["client_name"] == "app-1"
    assert event.client and event.client.startswith("127.0.0.1:")
    assert event.duration_ms >= 0 and event.at is not None
    assert not any(e.extra.get("client_name") == "dbtop" for e in snapshot.slow_events)
    hgetall = next(s for s in snapshot.statements if s.id == "hgetall")
    assert hgetall.calls >= 1 and hgetall.query == "HGETALL"
    assert "p50_ms" in hgetall.extra  # INFO latencystats (Redis 7)


async def test_explain_key_anatomy_and_command_complexity(shared_url, shared):
    shared.hset(f"{PREFIX}user:1", mapping={f"f{i}": "x" * 10 for i in range(300)})
    shared.rpush(f"{PREFIX}list", *range(2000))
    shared.expire(f"{PREFIX}list", 600)
    async with connected(shared_url) as engine:
        plan = await engine.explain(query=f"HGETALL {PREFIX}user:1")
        assert plan.root.name == "HGETALL"
        assert "O(N)" in plan.root.detail
        assert plan.root.rows == 300
        key = plan.root.children[0]
        assert key.extra["type"] == "hash" and key.extra["length"] == 300
        assert key.extra["memory_bytes"] > 0 and key.extra["ttl_s"] is None

        anatomy = await engine.explain(query=f"{PREFIX}list")
        assert anatomy.root.extra["type"] == "list" and anatomy.root.extra["length"] == 2000
        assert 0 < anatomy.root.extra["ttl_s"] <= 600

        window = await engine.explain(query=f"LRANGE {PREFIX}list 0 -1")
        assert window.root.rows == 2000 and any("whole key" in n for n in window.notes)

        doc = await engine.explain(query="get")
        assert doc.root.name == "GET" and doc.root.detail == "O(1)"

        with pytest.raises(NotFoundError):
            await engine.explain(query=f"{PREFIX}missing")
        with pytest.raises(QueryError):
            await engine.explain(query="NOSUCHCOMMAND a b")
        with pytest.raises(QueryError):
            await engine.explain(query="HGETALL a b c")  # wrong number of arguments
        with pytest.raises(UsageError):
            await engine.explain(query=f"GET {PREFIX}a", analyze=True)
        with pytest.raises(UsageError):
            await engine.explain(query='GET "unbalanced')

        snapshot = await engine.snapshot()
        own = next(s for s in snapshot.sessions if s.is_self)
        by_session = await engine.explain(session_id=own.id)
        assert by_session.root.name and by_session.root.detail.startswith("O(")
        assert any("not its arguments" in note for note in by_session.notes)
    assert shared.hlen(f"{PREFIX}user:1") == 300  # nothing ran


async def test_busy_script_is_shown_and_killed(private: Server, private_db):
    script = "local i = 0 while true do i = i + 1 end"
    runner = redis.Redis(port=private.port, password=private.password, socket_timeout=30)
    bystander = redis.Redis(port=private.port, password=private.password, client_name="bystander")
    bystander_id = bystander.client_id()
    loop = asyncio.get_running_loop()
    try:
        async with connected(private.url(9)) as engine:
            before = await engine.snapshot()  # a good poll first: its clients stay visible
            assert before.session(str(bystander_id)) is not None
            future = loop.run_in_executor(None, lambda: _swallow(lambda: runner.eval(script, 0)))
            snapshot = await wait_for(lambda s: s.session("script") is not None, engine)
            script_row = snapshot.session("script")
            assert script_row.state == "busy script"
            assert any(n.severity == "critical" and "busy" in n.message for n in snapshot.notices)
            assert snapshot.server.version == before.server.version
            assert snapshot.server.extra["stale"] is True
            edge = next(w for w in snapshot.lock_waits if w.waiter == str(bystander_id))
            assert edge.blocker == "script"
            result = await engine.kill("script", KillMode.CANCEL)
            assert result.ok, result.message
            await asyncio.wait_for(future, 10)
            after = await engine.snapshot()
            assert after.session("script") is None
            missing = await engine.kill("script", KillMode.CANCEL)
            assert not missing.ok and "no script" in missing.message
    finally:
        with contextlib.suppress(redis.exceptions.RedisError):
            private_db.script_kill()
        runner.close()
        bystander.close()


async def test_busy_function_is_named_and_killed(private: Server, private_db):
    library = (
        "#!lua name=dbtoptest\n"
        "redis.register_function{function_name='spin', callback=function() "
        "local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}"
    )
    private_db.function_load(library, replace=True)
    runner = redis.Redis(port=private.port, password=private.password, socket_timeout=30)
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, lambda: _swallow(lambda: runner.fcall("spin", 0)))
    try:
        async with connected(private.url(9)) as engine:
            snapshot = await wait_for(lambda s: s.session("script") is not None, engine)
            row = snapshot.session("script")
            assert row.application == "spin"
            assert row.query.startswith("fcall") or row.query.startswith("FCALL")
            result = await engine.kill("script", KillMode.TERMINATE)
            assert result.ok and "function" in result.message
            await asyncio.wait_for(future, 10)
    finally:
        with contextlib.suppress(redis.exceptions.RedisError):
            private_db.execute_command("FUNCTION", "KILL")
        with contextlib.suppress(redis.exceptions.RedisError):
            private_db.function_delete("dbtoptest")
        runner.close()


def _swallow(call):
    with contextlib.suppress(redis.exceptions.RedisError):
        return call()
    return None


async def test_client_pause_is_shown_and_lifted(private: Server, private_db):
    writer = redis.Redis(port=private.port, db=9, password=private.password, socket_timeout=30)
    private_db.client_pause(20000, all=False)  # WRITE: reads (and dbtop) go on
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, lambda: writer.set(f"{PREFIX}paused", 1))
    try:
        async with connected(private.url(9)) as engine:
            snapshot = await wait_for(lambda s: s.session("pause") is not None, engine)
            paused = [s for s in snapshot.sessions if s.state == "paused"]
            assert paused and paused[0].blocked_by == ("pause",)
            assert any(w.blocker == "pause" for w in snapshot.lock_waits)
            result = await engine.kill("pause", KillMode.CANCEL)
            assert result.ok, result.message
            assert await asyncio.wait_for(future, 10) is True
    finally:
        with contextlib.suppress(redis.exceptions.RedisError):
            private_db.client_unpause()
        writer.close()


async def test_unix_socket_and_password(private: Server, private_db):
    url = f"unix://:{private.password}@{private.socket_path}?db=9"
    async with connected(url) as engine:
        snapshot = await engine.snapshot()
    assert engine.address == f"unix:{private.socket_path}?db=9"
    assert "dbtop-secret" not in engine.address
    assert any(s.is_self for s in snapshot.sessions)


async def test_password_from_rediscli_auth(private: Server, private_db, monkeypatch):
    monkeypatch.setenv("REDISCLI_AUTH", private.password)
    async with connected(private.url(9, password=False)) as engine:
        snapshot = await engine.snapshot()
    assert snapshot.server.version


async def test_acl_user_with_few_rights_gets_notices_not_failures(private: Server, private_db):
    from dbtop.errors import PrivilegeError

    private_db.acl_setuser(
        "dbtop-test-limited",
        enabled=True,
        passwords=["+limited-pw"],
        keys=["*"],
        commands=[
            "+info",
            "+client|list",
            "+client|id",
            "+client|setname",
            "+scan",
            "+type",
            "+pttl",
            "+memory|usage",
            "+select",
        ],
    )
    url = f"redis://dbtop-test-limited:limited-pw@127.0.0.1:{private.port}/9"
    try:
        async with connected(url) as engine:
            snapshot = await engine.snapshot()
            assert any(s.is_self for s in snapshot.sessions)
            assert any("SLOWLOG GET refused" in n.message for n in snapshot.notices)
            assert any("CONFIG GET" in n.message for n in snapshot.capabilities.notices)
            with pytest.raises(PrivilegeError, match="ACL SETUSER"):
                await engine.explain(query="GET a")
            with pytest.raises(PrivilegeError):
                await engine.kill("script", KillMode.CANCEL)
    finally:
        private_db.acl_deluser("dbtop-test-limited")


async def test_explain_finds_a_bare_key_in_another_database(private: Server, private_db):
    other = private.client(10)
    other.rpush(f"{PREFIX}elsewhere", *range(10))
    try:
        async with connected(private.url(9)) as engine:
            plan = await engine.explain(query=f"{PREFIX}elsewhere")
            assert plan.root.extra["db"] == 10 and plan.root.extra["length"] == 10
            with pytest.raises(QueryError):  # a command line stays in the URL's database
                await engine.explain(query=f"LLEN {PREFIX}elsewhere extra")
    finally:
        other.flushdb()
        other.close()


async def test_replica_and_its_master_see_each_other(private: Server, private_db, tmp_path):
    from .conftest import start_server

    private_db.config_set("repl-diskless-sync-delay", "0")  # our own server: sync at once
    replica = start_server(
        tmp_path / "replica",
        args=(
            "--replicaof",
            "127.0.0.1",
            str(private.port),
            "--masterauth",
            private.password or "",
        ),
    )
    try:
        async with connected(replica.url(9)) as engine:
            snapshot = await wait_for(
                lambda s: any(x.kind == "master" for x in s.sessions),
                engine,
                what="the replica's link to its master",
            )
        assert snapshot.server.role == "replica"
        assert snapshot.server.extra["master_link_status"] == "up"
        link = next(s for s in snapshot.sessions if s.kind == "master")
        assert link.state == "master" and not link.is_idle and "master" in link.extra["flag_words"]
        async with connected(private.url(9)) as engine:
            snapshot = await engine.snapshot()
        assert snapshot.server.role == "master"
        assert any(s.kind == "replica" and s.state == "replica" for s in snapshot.sessions)
    finally:
        replica.stop()
