"""Three MariaDB servers for the MySQL engine's tests.

- ``shared``: the machine's MariaDB on 127.0.0.1:3306 (performance_schema OFF), database
  ``dbtop_my_it``; never restarted or reconfigured.
- ``pfs``: a private mariadbd with performance_schema ON and the metadata-lock instrument,
  database ``dbtop_my_pfs``.
- ``slowlog``: a private mariadbd with performance_schema OFF, the slow log in a table
  (long_query_time=0), user statistics and the metadata_lock_info plugin, database
  ``dbtop_my_slow``.

The private ones live in temp folders for the test session and are skipped, with the
reason, when they cannot start.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import aiomysql
import pymysql
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import MySQLEngine
from tests.waiting import wait_until

from .servers import PrivateServer, Unavailable, start_private

SHARED_HOST = os.environ.get("DBTOP_TEST_MYSQL_HOST", "127.0.0.1")
SHARED_PORT = int(os.environ.get("DBTOP_TEST_MYSQL_PORT", "3306"))
SHARED_DB = "dbtop_my_it"
PFS_DB = "dbtop_my_pfs"
SLOW_DB = "dbtop_my_slow"

SCHEMA = [
    "CREATE TABLE items (id INT PRIMARY KEY, k INT, v VARCHAR(20), INDEX k_idx (k)) ENGINE=InnoDB",
    "INSERT INTO items VALUES " + ", ".join(f"({i}, {i % 5}, 'v{i}')" for i in range(1, 11)),
    "CREATE TABLE mdl_t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
    "INSERT INTO mdl_t VALUES (1, 1), (2, 2)",
    """CREATE TABLE dupes (
        id INT PRIMARY KEY, a INT, b INT, c INT, d INT,
        INDEX a_only (a), INDEX a_b (a, b), INDEX a_b_c (a, b, c), UNIQUE INDEX u_c (c),
        INDEX d_idx (d), INDEX d_again (d)
    ) ENGINE=InnoDB""",
    "INSERT INTO dupes VALUES (1, 1, 1, 1, 1), (2, 2, 2, 2, 2)",
]


#: a table big enough for the advisor (more than its 10,000-row floor), built with MariaDB's
#: SEQUENCE engine; no index on customer_id or status
ORDERS = [
    """CREATE TABLE orders (
        id INT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(10) NOT NULL,
        created_at DATETIME NOT NULL, total DECIMAL(10, 2) NOT NULL
    ) ENGINE=InnoDB""",
    """INSERT INTO orders
       SELECT seq, seq % 2000, ELT(1 + seq % 4, 'new', 'paid', 'sent', 'done'),
              '2024-01-01' + INTERVAL seq MINUTE, seq % 100
       FROM seq_1_to_20000""",
    "ANALYZE TABLE orders",
]


def _setup(conn: pymysql.Connection, database: str, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {database}")
        cur.execute(f"CREATE DATABASE {database}")
        cur.execute(f"USE {database}")
        for statement in [*SCHEMA, *extra]:
            cur.execute(statement)
            cur.fetchall()


@pytest.fixture(scope="session")
def shared_url() -> Iterator[str]:
    try:
        conn = pymysql.connect(host=SHARED_HOST, port=SHARED_PORT, user="root", autocommit=True)
    except pymysql.err.MySQLError as exc:
        pytest.skip(f"the shared MariaDB at {SHARED_HOST}:{SHARED_PORT} is not reachable: {exc}")
    _setup(conn, SHARED_DB)
    conn.close()
    yield f"mysql://root@{SHARED_HOST}:{SHARED_PORT}/{SHARED_DB}"


def _private(options: list[str], label: str) -> PrivateServer:
    try:
        return start_private(options, label=label)
    except Unavailable as exc:
        pytest.skip(f"no private MariaDB for this test: {exc}")


@pytest.fixture(scope="session")
def pfs_server() -> Iterator[PrivateServer]:
    server = _private(
        [
            "--performance-schema=ON",
            "--performance-schema-instrument=wait/lock/metadata/sql/mdl=ON",
            "--max-connections=300",
        ],
        "dbtop-pfs",
    )
    try:
        conn = server.connect()
        _setup(conn, PFS_DB, ORDERS)
        conn.close()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def slowlog_server() -> Iterator[PrivateServer]:
    server = _private(
        [
            "--performance-schema=OFF",
            "--slow-query-log=ON",
            "--log-output=TABLE",
            "--long-query-time=0",
            "--userstat=ON",
            "--plugin-load-add=metadata_lock_info",
        ],
        "dbtop-slow",
    )
    try:
        conn = server.connect()
        _setup(conn, SLOW_DB, ORDERS)
        conn.close()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pfs_url(pfs_server: PrivateServer) -> str:
    return pfs_server.url(PFS_DB)


@pytest.fixture
def slow_url(slowlog_server: PrivateServer) -> str:
    return slowlog_server.url(SLOW_DB)


@pytest.fixture
async def engine_for() -> AsyncIterator:
    """``await engine_for(url, **options)``: a connected engine, closed after the test."""
    made: list[MySQLEngine] = []

    async def make(url: str, **options: object) -> MySQLEngine:
        engine = MySQLEngine(url, ConnectOptions(**options))  # type: ignore[arg-type]
        await engine.connect()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        await engine.close()


class Clients:
    """Plain aiomysql connections that play the application (lock holders, sleepers)."""

    def __init__(self) -> None:
        self.conns: list[aiomysql.Connection] = []
        self.tasks: list[asyncio.Task] = []

    async def open(
        self, url_port: int, database: str, host: str = "127.0.0.1", **kw: object
    ) -> aiomysql.Connection:
        conn = await aiomysql.connect(
            host=host,
            port=url_port,
            user=str(kw.pop("user", "root")),
            password=str(kw.pop("password", "")),
            db=database,
            autocommit=True,
        )
        self.conns.append(conn)
        return conn

    def background(self, conn: aiomysql.Connection, sql: str) -> asyncio.Task:
        async def run() -> object:
            async with conn.cursor() as cur:
                await cur.execute(sql)
                return await cur.fetchall()

        task = asyncio.ensure_future(run())
        self.tasks.append(task)
        return task

    async def close(self) -> None:
        for task in self.tasks:
            if not task.done():
                task.cancel()
        for conn in self.conns:
            conn.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    made = Clients()
    yield made
    await made.close()


async def run(conn: aiomysql.Connection, sql: str) -> list:
    async with conn.cursor() as cur:
        await cur.execute(sql)
        return list(await cur.fetchall() or [])


#: InnoDB's INFORMATION_SCHEMA cache is refreshed after 100 ms without a read; a margin
INNODB_CACHE_IDLE_S = 0.15


async def until(
    engine: MySQLEngine, predicate, timeout: float = 15.0, what: str = "the expected snapshot"
):
    """The first snapshot for which ``predicate(snapshot)`` holds (fails after ``timeout``).

    Polled no more often than every 150 ms: InnoDB refreshes what INFORMATION_SCHEMA shows
    of its transactions and lock waits only when nobody read it for 100 ms, so faster
    polling would read the same stale copy forever."""

    async def reached():
        snapshot = await engine.snapshot()
        return snapshot if predicate(snapshot) else None

    return await wait_until(reached, timeout, what, every=INNODB_CACHE_IDLE_S)
