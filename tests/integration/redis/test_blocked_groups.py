"""The Blocked pane on real BLPOP / BRPOP / XREAD clients: each group says what its clients
wait on and that no session holds it (never a fake holder), in the engine, the pane rows,
the CLI lock section and the JSON."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest
import redis.asyncio as aioredis
from rich.console import Console

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.cli.render import lock_tree
from dbtop.cli.snapshot import snapshot_document
from dbtop.errors import NotFoundError
from dbtop.model import KillMode
from dbtop.ui.panes.locks import lock_rows

from .test_engine import connected, wait_for


async def test_blocked_clients_are_grouped_by_command_under_no_holder(shared_url, shared):
    prefix = f"dbtop-test:fig12:{uuid.uuid4().hex[:8]}:"
    waiters = [aioredis.Redis.from_url(shared_url) for _ in range(4)]
    ids = [str(await w.client_id()) for w in waiters]
    tasks = [
        asyncio.create_task(waiters[0].blpop([f"{prefix}jobs"], timeout=0)),
        asyncio.create_task(waiters[1].blpop([f"{prefix}mail"], timeout=0)),
        asyncio.create_task(waiters[2].brpop([f"{prefix}jobs"], timeout=0)),
        asyncio.create_task(waiters[3].xread({f"{prefix}events": "$"}, block=0)),
    ]
    try:
        async with connected(shared_url) as engine:
            snapshot = await wait_for(
                lambda s: all(
                    (x := s.session(i)) is not None and x.state == "blocked" for i in ids
                ),
                engine,
                what="the four clients blocked",
            )
            edges = {e.waiter: e for e in snapshot.lock_waits if e.waiter in ids}
            # Different BLPOP keys share one group: the keys are not known, not guessed.
            assert edges[ids[0]].blocker == edges[ids[1]].blocker == "list:BLPOP"
            assert edges[ids[2]].blocker == "list:BRPOP"
            assert edges[ids[3]].blocker == "stream:XREAD"
            for edge in edges.values():
                assert edge.object is None
                assert edge.extra["keys"] is None and "cmd=" in edge.extra["keys_unknown"]
                assert not edge.extra.get("inferred")
            assert edges[ids[0]].extra["no_holder"] == "waiting on a list (BLPOP)"
            assert edges[ids[3]].extra["no_holder"] == "waiting on a stream (XREAD)"
            assert all(snapshot.session(g) is None for g in ("list:BLPOP", "stream:XREAD"))

            forest = build_lock_forest(snapshot.lock_waits)
            sessions = {s.id: s for s in snapshot.sessions}
            rows = {row.key: row for row, _ in lock_rows(forest, sessions)}
            root = rows["list:BLPOP"]
            assert root.kind != "alarm"
            assert "▲" not in root.cells[0] and "2 waiting" in root.cells[0]
            assert root.cells[2] == "holds nothing"
            assert root.cells[5] == "not a session"
            assert root.cells[6] == "waiting on a list (BLPOP)"
            assert "holds the lock" not in {row.cells[2] for row in rows.values()}

            console = Console(file=io.StringIO(), width=200)
            console.print(lock_tree(snapshot, forest))
            text = console.file.getvalue()
            assert "not a session: 2 waiting on a list (BLPOP), keys unknown" in text
            assert "root blocker" not in text.split("list:BLPOP", 1)[1].splitlines()[0]

            document = snapshot_document(snapshot)
            assert "list:BLPOP" in document["lock_roots"]
            assert "list:BLPOP" not in document["lock_frees"]
            shown = [e for e in document["lock_waits"] if e["waiter"] in ids]
            assert all(e["extra"]["no_holder"].startswith("waiting on") for e in shown)

            with pytest.raises(NotFoundError, match="not a client"):
                await engine.kill("list:BLPOP", KillMode.CANCEL)
    finally:
        for task in tasks:
            task.cancel()
        for waiter in waiters:
            await waiter.aclose()
        await asyncio.gather(*tasks, return_exceptions=True)
