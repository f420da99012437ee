"""Findings from INFO, CONFIG, the key sample and the slow log."""

from dbtop.engines.redis.anatomy import KeyAnatomy
from dbtop.engines.redis.antipatterns import (
    client_findings,
    keyspace_findings,
    server_findings,
    slowlog_findings,
)
from dbtop.model import KeyPattern, Session, Severity, SlowEvent, frozen

MB = 1024 * 1024


def kinds(findings):
    return {f.kind for f in findings}


def test_healthy_server_has_no_findings():
    info = {
        "rdb_last_bgsave_status": "ok",
        "used_memory": "1000",
        "used_memory_rss": "2000",
        "mem_fragmentation_ratio": "2.0",
        "connected_clients": "3",
    }
    assert server_findings(info, {"maxclients": "10000", "maxmemory": "0"}) == []


def test_failed_persistence_is_critical():
    found = server_findings({"rdb_last_bgsave_status": "err", "aof_last_write_status": "err"}, {})
    assert [f.severity for f in found] == [Severity.CRITICAL, Severity.CRITICAL]
    assert kinds(found) == {"persistence_failed"}


def test_noeviction_near_maxmemory():
    info = {"used_memory": str(95 * MB)}
    found = server_findings(info, {"maxmemory": str(100 * MB), "maxmemory-policy": "noeviction"})
    assert kinds(found) == {"eviction_refuses_writes"}
    assert found[0].severity is Severity.CRITICAL
    assert "allkeys-lru" in found[0].statement


def test_volatile_policy_without_ttls():
    info = {"used_memory": str(80 * MB), "db0": "keys=1000,expires=5,avg_ttl=10"}
    found = server_findings(info, {"maxmemory": str(100 * MB), "maxmemory-policy": "volatile-lru"})
    assert "eviction_cannot_free" in kinds(found)


def test_fragmentation_and_limits():
    info = {
        "used_memory": str(200 * MB),
        "used_memory_rss": str(500 * MB),
        "mem_fragmentation_ratio": "2.5",
        "rejected_connections": "7",
        "connected_clients": "95",
    }
    found = server_findings(info, {"maxclients": "100", "activedefrag": "no"})
    assert kinds(found) == {"fragmentation", "rejected_connections", "clients_near_limit"}
    assert (
        next(f for f in found if f.kind == "fragmentation").statement
        == "CONFIG SET activedefrag yes"
    )


def test_replica_link_down():
    found = server_findings(
        {"role": "slave", "master_link_status": "down", "master_host": "m", "master_port": "6379"},
        {},
    )
    assert kinds(found) == {"replication_down"}


def test_clients_with_big_buffers_and_monitor():
    big = Session(id="5", client="10.0.0.1:1", kind="pubsub", extra=frozen(omem=64 * MB))
    monitor = Session(id="n:1/6", client="10.0.0.2:1", kind="monitor", extra=frozen(omem=0))
    own = Session(id="7", kind="monitor", is_self=True)
    found = client_findings([big, monitor, own])
    assert kinds(found) == {"output_buffer", "monitor_client"}
    assert "CLIENT KILL ID 6" in found[1].statement


def test_big_keys_and_patterns_without_ttl():
    big = KeyAnatomy(
        key=b"big:hash",
        db=0,
        node=None,
        type="hash",
        memory_bytes=20 * MB,
        length=500_000,
        length_unit="fields",
    )
    small = KeyAnatomy(
        key=b"s", db=0, node=None, type="string", memory_bytes=50, length=3, length_unit="bytes"
    )
    cache = KeyPattern(
        pattern="cache:*", database="db0", estimated_keys=50_000, sampled_keys=300, no_ttl_share=1.0
    )
    users = KeyPattern(
        pattern="user:*", database="db0", estimated_keys=50_000, sampled_keys=300, no_ttl_share=1.0
    )
    found = keyspace_findings([cache, users], [big, small], policy="noeviction")
    assert [(f.kind, f.object) for f in found] == [("big_key", "big:hash"), ("no_ttl", "cache:*")]
    assert "UNLINK big:hash" in found[0].statement and "HSCAN" in found[0].statement
    found = keyspace_findings([users], [], policy="volatile-lru")
    assert found[0].severity is Severity.WARNING


def test_slowlog_o_n_on_a_big_key():
    event = SlowEvent(
        id="1", query="SMEMBERS big:set", duration_ms=40, extra=frozen(command="SMEMBERS")
    )
    keys_event = SlowEvent(id="2", query="KEYS *", duration_ms=90, extra=frozen(command="KEYS"))
    async_flush = SlowEvent(
        id="3", query="FLUSHALL ASYNC", duration_ms=1, extra=frozen(command="FLUSHALL")
    )
    anatomy = KeyAnatomy(
        key=b"big:set", db=0, node=None, type="set", length=80_000, length_unit="members"
    )
    found = slowlog_findings(
        [event, keys_event, async_flush],
        {(None, b"big:set"): anatomy},
        {"1": [b"SMEMBERS", b"big:set"], "2": [b"KEYS", b"*"], "3": [b"FLUSHALL", b"ASYNC"]},
        {"1": [b"big:set"], "2": [], "3": []},
    )
    assert {(f.kind, f.object) for f in found} == {
        ("on_command", "SMEMBERS big:set"),
        ("blocking_command", "KEYS"),
    }
    on = next(f for f in found if f.kind == "on_command")
    assert "SSCAN" in on.statement and "80,000" in on.message


def test_no_memory_limit_near_the_hosts_memory_and_slow_forks():
    info = {
        "used_memory": str(900 * MB),
        "total_system_memory": str(1000 * MB),
        "latest_fork_usec": "800000",
    }
    found = server_findings(info, {"maxmemory": "0", "maxmemory-policy": "noeviction"})
    assert kinds(found) == {"no_memory_limit", "slow_fork"}
    assert next(f for f in found if f.kind == "no_memory_limit").severity is Severity.CRITICAL
    assert "800 ms" in next(f for f in found if f.kind == "slow_fork").message
