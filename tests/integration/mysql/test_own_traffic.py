"""dbtop's own work is not the server's: on a private MariaDB with performance_schema on
(no other client), QPS and the Com_* / tmp-table rates dbtop shows are the application's
only, and Slow queries lists none of dbtop's own statements."""

from __future__ import annotations

import pytest

from .conftest import PFS_DB, run

pytestmark = pytest.mark.timeout(60)

OWN_FIGURES = ("Questions", "Queries", "Com_select", "Created_tmp_tables", "Handler_read_rnd_next")


async def test_status_rates_leave_dbtop_out(pfs_server, pfs_url, engine_for, clients):
    engine = await engine_for(pfs_url)
    app = await clients.open(pfs_server.port, PFS_DB)
    first = await engine.snapshot()
    # an action opens the second (work) connection: its statements are dbtop's too
    await engine.work_fetch("SELECT COUNT(*) AS n FROM information_schema.TABLES")
    middle = await engine.snapshot()
    for _ in range(50):
        await run(app, "SELECT 1")
    last = await engine.snapshot()

    def grown(before, after, name):
        return after.server.counters[name] - before.server.counters[name]

    # nothing but dbtop ran between the first two polls
    for name in OWN_FIGURES:
        assert grown(first, middle, name) == 0, name
    # exactly the application's 50 statements between the last two
    assert grown(middle, last, "Questions") == 50
    assert grown(middle, last, "Com_select") == 50
    assert last.server.extra["threads_running"] == 0
    # no figure went down (what the rates would call a counter reset)
    for name, value in last.server.counters.items():
        assert value >= middle.server.counters[name] >= first.server.counters[name], name


async def test_slow_queries_list_no_statement_of_dbtop(pfs_server, pfs_url, engine_for, clients):
    engine = await engine_for(pfs_url)
    app = await clients.open(pfs_server.port, PFS_DB)
    for i in range(3):
        await run(app, f"SELECT * FROM items WHERE v = 'own{i}'")
    for _ in range(3):
        snapshot = await engine.snapshot()
    await engine.work_fetch("SELECT COUNT(*) AS n FROM information_schema.TABLES")
    snapshot = await engine.snapshot()
    texts = [s.query for s in snapshot.statements]
    assert any("`items`" in t for t in texts), texts
    for text in texts:
        lowered = text.lower()
        assert "performance_schema" not in lowered, text
        assert "information_schema" not in lowered, text
        assert not lowered.startswith("show "), text
        # the driver's SET NAMES at connect is the application's too (its clients send it)
        assert not lowered.startswith("set ") or lowered.startswith("set names"), text
