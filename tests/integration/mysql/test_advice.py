"""``suggest`` on real servers: no-index digests (performance_schema on) and slow-log entries
(performance_schema off) -> EXPLAIN -> an unverified CREATE INDEX on the right columns."""

from __future__ import annotations

import pytest

from .conftest import PFS_DB, SLOW_DB, run

pytestmark = pytest.mark.timeout(60)


async def _workload(conn) -> None:
    for customer in (5, 17, 256, 1999):
        await run(conn, f"SELECT * FROM orders WHERE customer_id = {customer}")
    await run(conn, "SELECT id, total FROM orders WHERE id = 10")


async def test_suggest_from_digests(pfs_server, pfs_url, engine_for, clients):
    app = await clients.open(pfs_server.port, PFS_DB)
    await _workload(app)
    engine = await engine_for(pfs_url)
    advice = await engine.suggest()
    assert advice.extra["source"] == "performance_schema digests"
    best = next(s for s in advice.suggestions if s.table == "orders")
    assert best.columns[0] == "customer_id" and not best.verified
    assert best.statement.startswith("CREATE INDEX `ix_orders_customer_id")
    assert f"ON `{PFS_DB}`.`orders` (`customer_id`" in best.statement
    assert "ALGORITHM=INPLACE LOCK=NONE" in best.statement
    assert "full scan of orders" in best.reason and best.extra["rows_examined"] >= 4 * 20000
    assert any("customer_id" in q.query for q in best.queries)
    assert not any(s.columns == ("id",) for s in advice.suggestions), "the primary key serves id"
    assert any("hypothetical" in n.message for n in advice.notices)
    assert any(f.kind == "duplicate_index" for f in advice.findings)


async def test_suggest_from_the_slow_log(slowlog_server, slow_url, engine_for, clients):
    app = await clients.open(slowlog_server.port, SLOW_DB)
    await _workload(app)
    engine = await engine_for(slow_url)
    advice = await engine.suggest()
    assert advice.extra["source"] == "slow log table"
    best = next(s for s in advice.suggestions if s.table == "orders")
    assert best.columns[0] == "customer_id" and not best.verified
    assert "full scan of orders" in best.reason


async def test_suggest_says_when_there_is_no_workload(shared_url, engine_for):
    engine = await engine_for(shared_url)
    advice = await engine.suggest()
    assert not advice.suggestions
    assert any("performance_schema is off" in n.message for n in advice.notices)


async def test_suggest_says_what_verification_there_is(shared_url, engine_for):
    """Not "no hypopg" (PostgreSQL's extension): what checks a suggestion here, and why."""
    from rich.console import Console

    from dbtop.cli.suggest import report

    engine = await engine_for(shared_url)
    advice = await engine.suggest()
    said = advice.extra["verification"]
    assert said.startswith("checked with EXPLAIN, not costed: MariaDB has no hypothetical")
    snapshot = await engine.snapshot()
    console = Console(record=True, width=400)
    for part in report(snapshot.server, advice, rejected=False):
        console.print(part)
    text = console.export_text()
    assert "no hypopg" not in text and "checked with EXPLAIN, not costed" in text
