"""The advisor's own databases on the shared PostgreSQL: ``dbtop_advisor`` (with hypopg) and
``dbtop_advisor_nohypo`` (without), the same schema and data in both, built once and kept
(a marker table holds the fixture version)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

PG_URL = os.environ.get("DBTOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DB = "dbtop_advisor"
DB_NO_HYPO = "dbtop_advisor_nohypo"
FIXTURE_VERSION = 3

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
CREATE TABLE fixture_version (version int);
"""
# autovacuum would get there eventually; index-only scans are costed on the visibility map
VACUUM = "VACUUM ANALYZE customers, orders, shop.items, settings"


def url_for(database: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path="/" + database))


async def _ensure(database: str, *, hypopg: bool) -> None:
    admin = await asyncpg.connect(PG_URL)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(url_for(database))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if hypopg:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        else:
            await conn.execute("DROP EXTENSION IF EXISTS hypopg")
        version = await conn.fetchval(
            "SELECT max(version) FROM fixture_version"
            if await conn.fetchval("SELECT to_regclass('public.fixture_version')")
            else "SELECT NULL"
        )
        if version != FIXTURE_VERSION:
            await conn.execute(SCHEMA)
            await conn.execute(VACUUM)
            await conn.execute("INSERT INTO fixture_version VALUES ($1)", FIXTURE_VERSION)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def advisor_url() -> str:
    """``dbtop_advisor`` with hypopg, the schema built (once per fixture version)."""
    import asyncio

    asyncio.run(_ensure(DB, hypopg=True))
    return url_for(DB)


@pytest.fixture(scope="session")
def advisor_nohypo_url() -> str:
    """``dbtop_advisor_nohypo``: the same schema, hypopg not created."""
    import asyncio

    asyncio.run(_ensure(DB_NO_HYPO, hypopg=False))
    return url_for(DB_NO_HYPO)


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
async def nohypo_conn(advisor_nohypo_url) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(
        advisor_nohypo_url, server_settings={"default_transaction_read_only": "on"}
    )
    try:
        yield conn
    finally:
        await conn.close()
