"""``engine.suggest()`` and ``dbtop suggest URL [--json]`` on a real workload recorded by
pg_stat_statements: PostgreSQL 15 with hypopg (verified), PostgreSQL 18 without (unverified,
generic plans), and index health with the DROP statements and the constraint warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine

pytestmark = pytest.mark.timeout(90)

RESET = (
    "SELECT pg_stat_statements_reset(0, "
    "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
)


async def run_workload(url: str) -> None:
    """A small application: two statements that want an index, one already served."""
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
        ):
            pytest.skip("pg_stat_statements is not installed in this database")
        try:
            await conn.execute(RESET)
        except asyncpg.PostgresError as exc:
            pytest.skip(f"pg_stat_statements is not usable: {exc}")
        for n in range(30):
            await conn.fetch("SELECT * FROM orders WHERE customer_id = $1", n)
        for n in range(10):
            await conn.fetch("SELECT id, qty FROM shop.items WHERE sku = $1", f"sku-{n}")
        for n in range(10):
            await conn.fetch("SELECT * FROM customers WHERE email = $1", f"user{n}@example.com")
    finally:
        await conn.close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


async def test_engine_suggest_on_15_with_hypopg(advisor_url):
    await run_workload(advisor_url)
    engine = PostgresEngine(advisor_url, ConnectOptions(read_only=True))
    await engine.connect()
    try:
        advice = await engine.suggest()
    finally:
        await engine.close()
    assert {(s.schema, s.table, s.columns) for s in advice.suggestions} == {
        ("public", "orders", ("customer_id",)),
        ("shop", "items", ("sku",)),
    }
    assert all(s.verified for s in advice.suggestions)
    by_table = {s.table: s for s in advice.suggestions}
    orders = by_table["orders"]
    assert orders.statement == (
        "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id);"
    )
    (q,) = orders.queries
    assert q.query == "SELECT * FROM orders WHERE customer_id = $1" and q.calls == 30
    assert 0 < q.share < 1
    assert orders.cost_after < orders.cost_before
    assert orders.size_bytes > 0
    # the covering variant holds the two columns read: an index-only scan
    assert by_table["items"].include == ("id", "qty")
    assert any(
        r.table == "customers" and "already served by index customers_email_key" in r.reason
        for r in advice.rejected
    )
    assert advice.extra["verified"] is True and advice.extra["plan_mode"] == "prepare"

    findings = {(f.kind, f.object): f for f in advice.findings}
    unused = findings[("unused_index", "shop.audit_unused")]
    assert unused.statement == "DROP INDEX CONCURRENTLY shop.audit_unused;"
    assert unused.warning is None
    assert "the usage statistics cover" in unused.message and unused.extra["stats_age_s"] > 0
    (duplicate,) = [f for k, f in findings.items() if k[1] == "shop.audit_ref_b"]
    assert duplicate.statement == "DROP INDEX CONCURRENTLY shop.audit_ref_b;"
    assert "backs constraint audit_ref_b" in duplicate.warning
    invalid = findings[("invalid_index", "shop.dupes_v")]
    assert invalid.statement == "DROP INDEX CONCURRENTLY shop.dupes_v;"


async def test_cli_json(advisor_url):
    await run_workload(advisor_url)
    proc = cli("suggest", advisor_url, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == 1 and doc["engine"] == "postgresql"
    suggestions = {tuple(s["columns"]): s for s in doc["suggestions"]}
    s = suggestions[("customer_id",)]
    assert s["table"] == "orders" and s["schema"] == "public"
    assert s["statement"].startswith("CREATE INDEX CONCURRENTLY orders_customer_id_idx")
    assert s["verified"] is True
    assert s["cost_before"] > s["cost_after"] > 0
    assert s["queries"][0]["query"] == "SELECT * FROM orders WHERE customer_id = $1"
    assert {"query", "share", "calls", "cost_before", "cost_after", "id"} <= set(s["queries"][0])
    kinds = {f["kind"] for f in doc["findings"]}
    assert {"unused_index", "invalid_index"} <= kinds
    assert all(f["statement"].startswith("DROP INDEX CONCURRENTLY") for f in doc["findings"])
    assert doc["extra"]["hypopg"] and doc["rejected"]


async def test_cli_report(advisor_url):
    await run_workload(advisor_url)
    proc = cli("--read-only", "suggest", advisor_url, "--rejected")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id);" in out
    assert "DROP INDEX CONCURRENTLY shop.audit_unused;" in out
    assert "careful: backs constraint audit_ref_b" in out
    assert "already served by index customers_email_key" in out


async def test_engine_suggest_on_18_without_hypopg(pg18_url):
    await run_workload(pg18_url)
    engine = PostgresEngine(pg18_url, ConnectOptions())
    await engine.connect()
    try:
        advice = await engine.suggest()
    finally:
        await engine.close()
    assert ("orders", ("customer_id",)) in {(s.table, s.columns) for s in advice.suggestions}
    assert not any(s.verified for s in advice.suggestions)
    assert advice.extra["plan_mode"] == "generic_plan"
    (notice,) = [n for n in advice.notices if "hypopg" in n.message]
    assert "hypopg" in (notice.hint or "")
    # PostgreSQL 18 keeps no comment before a statement: the advisor's own queries carry
    # their mark inside, so the next run still leaves them out of the workload
    conn = await asyncpg.connect(pg18_url)
    try:
        own = await conn.fetch(
            "SELECT query FROM pg_stat_statements WHERE query LIKE '%pg_relation_size(c.oid)%'"
        )
    finally:
        await conn.close()
    assert own and all("/* dbtop */" in r["query"] for r in own)


def test_cli_error_is_one_line():
    proc = cli("suggest", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert proc.returncode == 2
    assert proc.stderr.startswith("dbtop: ") and proc.stderr.count("\n") == 1
