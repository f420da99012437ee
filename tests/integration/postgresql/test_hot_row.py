"""PostgreSQL's most common lock incident: one idle-in-transaction holder of a row and 8
``UPDATE … WHERE id = 1`` queued on it. pg_blocking_pids() names, for each later waiter,
the session holding the row's tuple lock and every waiter queued ahead: the engine tells
the holders (hard edges) from the queue (``extra.queued_ahead``), and the CLI's lock
section lists each waiter once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from dbtop.analysis.lockgraph import build_lock_forest, is_queue_edge

from .conftest import eventually
from .test_sessions_and_locks import _table

pytestmark = pytest.mark.timeout(120)

WAITERS = 8


async def test_hot_row_marks_holders_and_queue_and_lists_each_waiter_once(engine, clients, pg_url):
    await _table(clients, "dbtop_it_hot")
    holder = await clients.connect("dbtop-test-holder")
    await holder.execute("BEGIN")
    await holder.execute("UPDATE dbtop_it_hot SET v = v + 1 WHERE id = 1")
    watcher = await clients.connect("dbtop-test-watcher")
    waiters = []
    for n in range(WAITERS):
        conn = await clients.connect(f"dbtop-test-w{n}")
        clients.start(conn, "UPDATE dbtop_it_hot SET v = v + 1 WHERE id = 1")
        pid = conn.get_server_pid()

        async def waits(pid: int = pid) -> bool:
            query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
            return await watcher.fetchval(query, pid) == "Lock"

        # One at a time, so the queue order is the order they were started in.
        await eventually(waits)
        waiters.append(str(pid))
    h = str(holder.get_server_pid())

    async def all_edges():
        snap = await engine.snapshot()
        waiting = {e.waiter for e in snap.lock_waits}
        return snap if waiting == set(waiters) else None

    snap = await eventually(all_edges)
    hard = {(e.waiter, e.blocker) for e in snap.lock_waits if not is_queue_edge(e)}
    soft = {(e.waiter, e.blocker) for e in snap.lock_waits if is_queue_edge(e)}
    # The first waiter waits on the holder's transaction; the others on the tuple lock the
    # first one holds, queued behind the ones started before them.
    assert (waiters[0], h) in hard
    for k, waiter in enumerate(waiters):
        assert any(w == waiter for w, _ in hard), waiter
        for ahead in waiters[1:k]:
            assert (waiter, ahead) in soft, (waiter, ahead)
    assert all(e.held_mode for e in snap.lock_waits if not is_queue_edge(e))
    assert all(e.held_mode is None for e in snap.lock_waits if is_queue_edge(e))
    assert len(soft) == (WAITERS - 1) * (WAITERS - 2) // 2

    forest = build_lock_forest(snap.lock_waits)
    assert [r.session_id for r in forest.roots] == [h]
    assert forest.frees(h) == (1, WAITERS)
    assert forest.node_count() == WAITERS + 1

    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dbtop.cli", "snapshot", pg_url, "--interval", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if f"{WAITERS} waiting" in line)
    section = lines[start : start + WAITERS + 2]
    assert f"root blocker: frees {WAITERS}, 1 directly" in section[1]
    for waiter in waiters:
        assert sum(waiter in line.split() for line in section) == 1, (waiter, run.stdout)
    tail = lines[start + WAITERS + 2 : start + WAITERS + 3]
    assert not any(w in " ".join(tail).split() for w in waiters)

    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dbtop.cli", "snapshot", pg_url, "--json", "--interval", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    shown = {(e["waiter"], e["blocker"]): e["hard"] for e in doc["lock_waits"]}
    assert {k for k, v in shown.items() if v} == hard
    assert {k for k, v in shown.items() if not v} == soft
    assert doc["lock_frees"][h] == {"direct": 1, "total": WAITERS}
