"""A real three-node Redis Cluster on loopback: discovery and merged panes, node on every row."""

from __future__ import annotations

import threading

import redis

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from dbtop.model import KillMode
from tests.waiting import wait_until

from .conftest import PREFIX, Cluster, dbtop


async def test_cluster_view_merges_three_nodes(cluster: Cluster):
    client = cluster.client()
    for node in cluster.nodes:
        node.client(0).config_set("slowlog-log-slower-than", "0")
        node.client(0).slowlog_reset()
    for i in range(3000):
        client.set(f"{PREFIX}user:{i}", "x")
    for i in range(30):
        client.hgetall(f"{PREFIX}h:{i}")
    for node in cluster.nodes:
        node.client(0).config_set("slowlog-log-slower-than", "1000000")

    engine = RedisEngine(cluster.url(), ConnectOptions())
    await engine.connect()
    try:
        assert engine.is_cluster
        assert sorted(engine.nodes) == sorted(cluster.names())
        await engine.snapshot()
        snapshot = await engine.snapshot()
    finally:
        await engine.close()
        client.close()

    names = set(cluster.names())
    assert snapshot.server.role == "cluster (3 masters, 0 replicas)"
    assert {n["node"] for n in snapshot.server.extra["nodes"]} == names
    assert snapshot.server.extra["cluster_state"] == "ok"
    assert {s.node for s in snapshot.sessions} == names
    assert all(s.id.startswith(f"{s.node}/") for s in snapshot.sessions)
    assert sum(1 for s in snapshot.sessions if s.is_self) == 3

    slow_nodes = {e.node for e in snapshot.slow_events if e.query.startswith("HGETALL")}
    assert slow_nodes == names
    assert all(e.id.startswith(f"{e.node}/") for e in snapshot.slow_events)

    patterns = [p for p in snapshot.keyspace if p.pattern == f"{PREFIX}user:*"]
    assert {p.node for p in patterns} == names
    assert 2000 <= sum(p.estimated_keys or 0 for p in patterns) <= 4000
    assert {t.node for t in snapshot.tables} == names

    hgetall = next(s for s in snapshot.statements if s.id == "hgetall")
    assert hgetall.calls >= 30 and set(hgetall.extra["by_node"]) <= names


async def test_cluster_kill_and_explain_route_to_the_node(cluster: Cluster):
    client = cluster.client()
    key = f"{PREFIX}{{queue}}:jobs"
    owner = client.get_node_from_key(key)
    node_name = f"127.0.0.1:{owner.port}"
    waiter = redis.Redis(host="127.0.0.1", port=owner.port, socket_timeout=30)
    waiter_id = waiter.client_id()
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(waiter.blpop([key], 0)))
    thread.start()
    engine = RedisEngine(cluster.url(), ConnectOptions())
    await engine.connect()
    try:
        session_id = f"{node_name}/{waiter_id}"

        async def blocked():
            session = (await engine.snapshot()).session(session_id)
            return session if session is not None and session.state == "blocked" else None

        session = await wait_until(blocked, what="the BLPOP client shown as blocked")
        assert session.node == node_name
        assert session.blocked_by == (f"{node_name}/list:BLPOP",)
        result = await engine.kill(session_id, KillMode.CANCEL)
        assert result.ok, result.message
        thread.join(10)
        assert results == [None]

        client.rpush(key, *range(100))
        plan = await engine.explain(query=f"LRANGE {key} 0 -1")
        assert plan.root.children[0].extra["node"] == node_name
        assert plan.root.children[0].extra["length"] == 100
    finally:
        thread.join(10)
        waiter.close()
        client.delete(key)
        client.close()
        await engine.close()


def test_cluster_json_snapshot_through_the_cli(cluster: Cluster):
    run = dbtop("snapshot", cluster.url(), "--json", "--interval", "0.2")
    assert run.code == 0, run.err
    document = run.json()
    assert {n["node"] for n in document["extra"]["cluster_nodes"]} == set(cluster.names())
    assert {s["node"] for s in document["sessions"]} == set(cluster.names())
