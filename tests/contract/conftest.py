"""The four engines, each as a ``Target`` the contract suite drives through the public
``Engine`` protocol only (``create_engine`` from the registry, then the protocol's methods).

- PostgreSQL: the machine's PostgreSQL at 127.0.0.1:5432 db ``test`` (nothing here needs
  pg_stat_statements); the wrong-password check uses the private PostgreSQL 18 of
  tests/integration/conftest.py, whose role ``dbtop_it_pw`` must give a password.
- MySQL: the machine's MariaDB at 127.0.0.1:3306 db ``test`` (root, no password).
- Redis: the machine's Redis at 127.0.0.1:6379, keys under a prefix of this run only
  (deleted one by one at the end; never FLUSHALL).
- MongoDB: the scripted mongod (mockupdb) of tests/integration/mongodb.

A target whose server is not there is skipped with the reason. What a target knows beyond
the protocol is only how to look at the server from outside: make a row, see whether a
write happened, list dbtop's connections by their application name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from dbtop.engines.base import ConnectOptions, Engine
from dbtop.engines.registry import create_engine
from dbtop.model import Session

# The fixtures of the scripted MongoDB server, used here as they are.
from tests.integration.conftest import pg18_admin_url  # noqa: F401  (a fixture)
from tests.integration.mongodb import fixtures as fx
from tests.integration.mongodb.conftest import shared_server, shop_world  # noqa: F401
from tests.integration.mongodb.scripted import ScriptedMongo

PG_URL = os.environ.get("DBTOP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("DBTOP_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("DBTOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

ENGINES = [
    pytest.param("postgresql", marks=pytest.mark.postgresql, id="postgresql"),
    pytest.param("mysql", marks=pytest.mark.mysql, id="mysql"),
    pytest.param("redis", marks=pytest.mark.redis, id="redis"),
    pytest.param("mongodb", marks=pytest.mark.mongodb, id="mongodb"),
]


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass
class Write:
    """A write statement and how to see, from outside, whether it ran."""

    statement: str
    happened: Callable[[], Awaitable[bool]]


@dataclass
class Target:
    """One engine on one server, with what the contract needs to look at it from outside."""

    engine: str
    url: str
    malformed_url: str
    #: a URL to a port that nothing listens on
    closed_port_url: str
    #: the ids dbtop's connections have on the server, read from outside; None: no way
    own_ids: Callable[[str], Awaitable[set[str]]] | None = None
    writes: list[Write] = field(default_factory=list)
    #: a URL with a wrong password, given the test's request (to start a server for it)
    wrong_password_url: Callable[[pytest.FixtureRequest], str] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: where a session id names one operation (MongoDB's opid), the listing's own id has
    #: ended by the time of a kill: this starts a long operation on dbtop's connection
    #: (the application of the given own session) and returns its id
    own_operation: Callable[[Session], str] | None = None
    #: whether the server was sent a kill (seen from outside); None: no way to see it
    kill_sent: Callable[[], bool] | None = None

    def build(self, **changes: Any) -> Engine:
        opts = {"connect_timeout_s": 3.0, **self.options, **changes}
        return create_engine(self.url, ConnectOptions(**opts))

    def app_name(self) -> str:
        return f"dbtop-contract-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------------- PostgreSQL


async def _postgresql(request: pytest.FixtureRequest, url: str) -> AsyncIterator[Target]:
    import asyncpg

    table = f"dbtop_contract_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f"CREATE TABLE {table} (id int)")
    await admin.execute(f"INSERT INTO {table} VALUES (1)")

    async def count(where: str) -> bool:
        return bool(await admin.fetchval(f"SELECT count(*) FROM {table} WHERE {where}"))

    async def own_ids(app_name: str) -> set[str]:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app_name
        )
        return {str(r["pid"]) for r in rows}

    async def inserted() -> bool:
        return await count("id = 42")

    async def deleted() -> bool:
        return not await count("id = 1")

    def wrong_password_url(test: pytest.FixtureRequest) -> str:
        # the private PostgreSQL 18, started only for this check: its role dbtop_it_pw
        # must give a password on the Unix socket (the machine's server trusts 127.0.0.1)
        admin_url: str = test.getfixturevalue("pg18_admin_url")

        async def make_role() -> None:
            conn = await asyncpg.connect(admin_url)
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'dbtop_it_pw'")
                if not exists:
                    await conn.execute("CREATE ROLE dbtop_it_pw LOGIN PASSWORD 'right'")
            finally:
                await conn.close()

        asyncio.run(make_role())
        socket_dir = admin_url.split("?host=", 1)[1] if "?host=" in admin_url else ""
        if not socket_dir:
            pytest.skip(f"the PostgreSQL 18 fixture gives no socket directory: {admin_url}")
        return f"postgresql://dbtop_it_pw:wrong@/postgres?host={socket_dir}"

    try:
        yield Target(
            engine="postgresql",
            url=url,
            malformed_url="postgresql://127.0.0.1:notaport/test",
            closed_port_url=f"postgresql://postgres@127.0.0.1:{free_port()}/test",
            own_ids=own_ids,
            writes=[
                Write(f"INSERT INTO {table} VALUES (42)", inserted),
                Write(f"DELETE FROM {table} WHERE id = 1", deleted),
            ],
            wrong_password_url=wrong_password_url,
        )
    finally:
        await admin.execute(f"DROP TABLE IF EXISTS {table}")
        await admin.close()


# --------------------------------------------------------------------------------------- MySQL


async def _mysql(request: pytest.FixtureRequest, url: str) -> AsyncIterator[Target]:
    import pymysql

    table = f"dbtop_contract_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(url)
    admin = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/") or "test",
    )
    admin.autocommit(True)

    def query(sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with admin.cursor() as cur:
            cur.execute(sql, args or None)
            return list(cur.fetchall())

    query(f"CREATE TABLE {table} (id INT)")
    query(f"INSERT INTO {table} VALUES (1)")

    async def inserted() -> bool:
        return bool(query(f"SELECT 1 FROM {table} WHERE id = 42"))

    async def deleted() -> bool:
        return not query(f"SELECT 1 FROM {table} WHERE id = 1")

    async def own_ids(app_name: str) -> set[str]:
        # connection attributes are in performance_schema only when it is on; off, this is
        # empty and the check has nothing to compare
        try:
            rows = query(
                "SELECT PROCESSLIST_ID FROM performance_schema.session_connect_attrs "
                "WHERE ATTR_NAME = 'program_name' AND ATTR_VALUE = %s",
                app_name,
            )
        except pymysql.MySQLError:
            return set()
        return {str(r[0]) for r in rows}

    def wrong_password_url(test: pytest.FixtureRequest) -> str:
        # root has no password here: a non-empty one is refused
        return "mysql://root:wrong-password@127.0.0.1:3306/test"

    try:
        yield Target(
            engine="mysql",
            url=url,
            malformed_url="mysql://127.0.0.1:notaport/test",
            closed_port_url=f"mysql://root@127.0.0.1:{free_port()}/test",
            own_ids=own_ids,
            writes=[
                Write(f"INSERT INTO {table} VALUES (42)", inserted),
                Write(f"DELETE FROM {table} WHERE id = 1", deleted),
            ],
            wrong_password_url=wrong_password_url,
        )
    finally:
        query(f"DROP TABLE IF EXISTS {table}")
        admin.close()


# --------------------------------------------------------------------------------------- Redis


async def _redis(request: pytest.FixtureRequest, url: str) -> AsyncIterator[Target]:
    import redis.asyncio as aioredis

    prefix = f"dbtop-contract:{uuid.uuid4().hex[:8]}:"
    client = aioredis.Redis.from_url(url, decode_responses=True)
    kept = f"{prefix}kept"
    created = f"{prefix}created"
    await client.set(kept, "1")

    async def set_happened() -> bool:
        return bool(await client.exists(created))

    async def del_happened() -> bool:
        return not await client.exists(kept)

    async def own_ids(app_name: str) -> set[str]:
        clients = await client.client_list()
        return {str(c["id"]) for c in clients if c.get("name") == app_name}

    def wrong_password_url(test: pytest.FixtureRequest) -> str:
        # an ACL user that does not exist: the server answers WRONGPASS
        return "redis://dbtop-contract-nobody:wrong@127.0.0.1:6379/0"

    try:
        yield Target(
            engine="redis",
            url=url,
            malformed_url="redis://127.0.0.1:notaport/0",
            closed_port_url=f"redis://127.0.0.1:{free_port()}/0",
            own_ids=own_ids,
            writes=[
                Write(f"SET {created} 1", set_happened),
                Write(f"DEL {kept}", del_happened),
            ],
            wrong_password_url=wrong_password_url,
        )
    finally:
        await client.delete(kept, created)
        await client.aclose()


# ------------------------------------------------------------------------------------- MongoDB


async def _mongodb(request: pytest.FixtureRequest, url: str) -> AsyncIterator[Target]:
    server: ScriptedMongo = request.getfixturevalue("shared_server")
    mongo = server.reset(shop_world())

    def wrote(name: str) -> Callable[[], Awaitable[bool]]:
        async def happened() -> bool:
            return bool(mongo.commands(name))

        return happened

    def own_operation(own: Session) -> str:
        op = {**fx.current_ops(dt.datetime.now(dt.UTC))[3], "opid": 4242}
        mongo.world.operations.append({**op, "appName": own.application})
        return "4242"

    def kill_sent() -> bool:
        return bool(mongo.commands("killOp") or mongo.commands("killSessions"))

    def wrong_password_url(test: pytest.FixtureRequest) -> str:
        return f"mongodb://app:wrong@localhost:{mongo.port}/shop?serverMonitoringMode=poll"

    yield Target(
        engine="mongodb",
        url=mongo.url,
        malformed_url="mongodb://127.0.0.1:notaport/",
        closed_port_url=f"mongodb://127.0.0.1:{free_port()}/?serverMonitoringMode=poll",
        writes=[
            Write('db.getSiblingDB("shop").orders.deleteMany({ status: "paid" })', wrote("delete")),
            Write('db.getSiblingDB("shop").orders.insertOne({ _id: 42 })', wrote("insert")),
            Write(
                'db.getSiblingDB("shop").orders.updateMany({}, { $set: { a: 1 } })',
                wrote("update"),
            ),
        ],
        wrong_password_url=wrong_password_url,
        own_operation=own_operation,
        kill_sent=kill_sent,
    )


_TARGETS = {"postgresql": _postgresql, "mysql": _mysql, "redis": _redis, "mongodb": _mongodb}


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server_url(engine_name: str, request: pytest.FixtureRequest) -> str:
    """The monitor URL of the engine's server (not a coroutine: a server fixture may run
    its own event loop to start)."""
    if engine_name == "postgresql":
        # the session's PostgreSQL 15 where the test setup provides one (tests/conftest.py
        # of the test-infra branch), else the machine's as it is
        try:
            return str(request.getfixturevalue("pg15_admin_url"))
        except pytest.FixtureLookupError:
            pass
        if not listening("127.0.0.1", 5432):
            pytest.skip("no PostgreSQL at 127.0.0.1:5432")
        return PG_URL
    if engine_name == "mysql":
        if not listening("127.0.0.1", 3306):
            pytest.skip("no MySQL/MariaDB at 127.0.0.1:3306")
        return MYSQL_URL
    if engine_name == "redis":
        if not listening("127.0.0.1", 6379):
            pytest.skip("no Redis at 127.0.0.1:6379")
        return REDIS_URL
    return str(request.getfixturevalue("shared_server").url)


@pytest.fixture
async def target(
    engine_name: str, server_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Target]:
    async for made in _TARGETS[engine_name](request, server_url):
        yield made


@pytest.fixture
async def engine(target: Target) -> AsyncIterator[Engine]:
    built = target.build()
    await built.connect()
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def read_only_engine(target: Target) -> AsyncIterator[Engine]:
    built = target.build(read_only=True)
    await built.connect()
    try:
        yield built
    finally:
        await built.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL wrong-password check starts PostgreSQL 18 (through a fixture asked
    for at run time, which marker-by-fixture rules cannot see): mark it ``pg18``."""
    for item in items:
        if item.name == "test_wrong_password[postgresql]":
            item.add_marker(pytest.mark.pg18)
