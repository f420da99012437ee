"""What someone attaching to ``dbtop demo --serve`` finds: PostgreSQL 18 with
pg_stat_statements, the sample shop and its index mistakes, and the live workload."""

from __future__ import annotations

from dbtop.demo import schema
from dbtop.demo.workload import (
    APP_IDLE_IN_TRANSACTION,
    APP_ROOT_BLOCKER,
    APP_SECOND_WAITER,
    APP_SLOW,
    APP_WAITER,
    APPLICATIONS,
)
from tests.waiting import wait_until

from .conftest import (
    NEEDS_DEMO,
    Demo,
    dbtop_cli,
    fetch,
    sessions,
    snapshot_json,
    wait_for_chain,
)

pytestmark = NEEDS_DEMO


def test_prints_only_the_url_on_stdout_and_how_to_attach_on_stderr(demo: Demo) -> None:
    assert demo.url.startswith("postgresql://postgres@/shop?host=/")
    assert demo.socket_dir.is_dir()
    messages = demo.messages()
    assert "ready in" in messages
    assert demo.url in messages  # the attach hint, quoted for the shell


async def test_server_is_18_socket_only_with_pg_stat_statements(demo: Demo) -> None:
    rows = await fetch(
        demo.url,
        "SELECT current_setting('server_version_num')::int AS version, "
        "current_setting('listen_addresses') AS listen, "
        "current_setting('shared_preload_libraries') AS preload, "
        "(SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements') AS ext",
    )
    assert rows[0]["version"] >= 180000
    assert rows[0]["listen"] == ""
    assert "pg_stat_statements" in rows[0]["preload"]
    assert rows[0]["ext"] == 1


async def test_sample_schema_has_the_missing_unused_and_duplicate_index(demo: Demo) -> None:
    counts = await fetch(
        demo.url,
        "SELECT (SELECT count(*) FROM customers) AS customers, "
        "(SELECT count(*) FROM orders) AS orders",
    )
    assert counts[0]["customers"] == schema.CUSTOMERS
    assert counts[0]["orders"] >= schema.ORDERS
    indexes = {
        row["indexname"]: row["indexdef"]
        for row in await fetch(demo.url, "SELECT indexname, indexdef FROM pg_indexes")
    }
    assert schema.UNUSED_INDEX in indexes
    duplicate = indexes[schema.DUPLICATE_INDEX].split(" USING ")[1]
    assert duplicate == indexes[schema.DUPLICATED_INDEX].split(" USING ")[1]
    table, column = schema.MISSING_INDEX_COLUMN
    assert not [d for d in indexes.values() if f"ON public.{table} " in d and f"({column}" in d]


async def test_every_actor_has_its_session(demo: Demo) -> None:
    async def every_actor() -> bool:
        apps = {row["application_name"] for row in await sessions(demo.url)}
        missing = set(APPLICATIONS) - apps
        assert not missing, f"no session yet for {sorted(missing)}"
        return True

    await wait_until(every_actor, what="a session for every actor")


async def test_a_session_sits_idle_in_transaction(demo: Demo) -> None:
    rows = await sessions(demo.url)
    states = [r["state"] for r in rows if r["application_name"] == APP_IDLE_IN_TRANSACTION]
    assert states == ["idle in transaction"]


async def test_slow_family_reads_orders_by_sequential_scan(demo: Demo) -> None:
    async def called() -> bool:
        rows = await fetch(
            demo.url,
            "SELECT query, calls FROM pg_stat_statements "
            "WHERE query LIKE '%FROM orders WHERE customer_id = $1%'",
        )
        return sum(r["calls"] for r in rows) > 0

    await wait_until(called, what="the slow family's statement in pg_stat_statements")
    plan = await fetch(
        demo.url,
        "EXPLAIN SELECT id, product_id, status, total, created_at FROM orders "
        "WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 20",
    )
    assert any("Seq Scan on orders" in line for row in plan for line in row.values())
    by_app = {r["application_name"] for r in await sessions(demo.url)}
    assert APP_SLOW in by_app


async def test_lock_chain_is_three_deep(demo: Demo) -> None:
    chain = await wait_for_chain(demo.url)
    assert len(set(chain.values())) == 3


async def test_dbtop_snapshot_reads_the_demo(demo: Demo) -> None:
    await wait_for_chain(demo.url)
    document = snapshot_json(demo.url)
    if not document["lock_roots"]:
        # The chain may have just dissolved between the two reads; the next one forms soon.
        await wait_for_chain(demo.url)
        document = snapshot_json(demo.url)
    by_app: dict[str, list[dict]] = {}
    for session in document["sessions"]:
        by_app.setdefault(session["application"], []).append(session)
    assert set(APPLICATIONS) <= set(by_app)
    root = by_app[APP_ROOT_BLOCKER][0]
    waiter = by_app[APP_WAITER][0]
    second = by_app[APP_SECOND_WAITER][0]
    assert root["id"] in document["lock_roots"]
    assert waiter["blocked_by"] == [root["id"]]
    assert second["blocked_by"] == [waiter["id"]]
    idle = by_app[APP_IDLE_IN_TRANSACTION][0]
    assert idle["in_transaction"] and idle["state"] == "idle in transaction"
    queries = [s["query"] for s in document["statements"]]
    assert any("WHERE customer_id = $1" in q for q in queries)
    indexes = {i["name"]: i for i in document["indexes"]}
    assert indexes[schema.UNUSED_INDEX]["unused"]
    assert schema.DUPLICATED_INDEX in (indexes[schema.DUPLICATE_INDEX]["duplicate_of"] or "")


async def test_cancelling_the_root_blocker_releases_the_chain_and_it_comes_back(
    demo: Demo,
) -> None:
    chain = await wait_for_chain(demo.url)
    done = dbtop_cli("kill", demo.url, str(chain["root"]), "--yes")
    assert done.returncode == 0, done.stderr

    async def nobody_blocked() -> bool:
        blocked = [r["application_name"] for r in await sessions(demo.url) if r["blockers"]]
        assert not blocked, f"still blocked: {blocked}"
        return True

    await wait_until(nobody_blocked, what="the chain released")
    # The workload shrugs off the cancel: the next round forms the chain again.
    await wait_for_chain(demo.url)


async def test_a_terminated_idle_transaction_comes_back(demo: Demo) -> None:
    def idle_pids(rows: list) -> list[int]:
        return [
            r["pid"]
            for r in rows
            if r["application_name"] == APP_IDLE_IN_TRANSACTION
            and r["state"] == "idle in transaction"
        ]

    before = idle_pids(await sessions(demo.url))
    assert len(before) == 1
    await fetch(demo.url, "SELECT pg_terminate_backend($1)", before[0])

    async def back() -> bool:
        after = idle_pids(await sessions(demo.url))
        return bool(after) and after != before

    await wait_until(back, what="a new idle-in-transaction session")
