"""Several targets in one ``dbtop snapshot``: named ones from the config file, a service
of a pg_service.conf with its password in a pgpass file (asyncpg reads it, as libpq does),
a password from a 0600 file; the session's PostgreSQL 15 with its password role, and the
machine's MariaDB and Redis."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.servers.postgres import PASSWORD_ROLE, free_port

from .conftest import dbtop

MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
REDIS_URL = "redis://127.0.0.1:6379"
PASSWORD = "fleet-s3cret"


@pytest.fixture(scope="module")
def pw_role(pg_url: str, pg15_is_private: bool) -> tuple[str, int]:
    """(host, port) of the session's PostgreSQL, where PASSWORD_ROLE must give PASSWORD."""
    if not pg15_is_private:
        pytest.skip("needs the private PostgreSQL (its pg_hba asks that role for a password)")

    async def make() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", PASSWORD_ROLE)
            # the statement must not reach pg_stat_statements, which dbtop shows
            await conn.execute("SET pg_stat_statements.track_utility = off")
            verb = "ALTER" if exists else "CREATE"
            await conn.execute(f"{verb} ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
            await conn.execute(f"GRANT pg_monitor TO {PASSWORD_ROLE}")
        finally:
            await conn.close()

    asyncio.run(make())
    parts = urlsplit(pg_url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


@pytest.mark.mysql
@pytest.mark.redis
def test_several_engines_and_a_down_one_are_one_document(pg_url):
    down = f"redis://127.0.0.1:{free_port()}"
    run = dbtop("snapshot", pg_url, MYSQL_URL, REDIS_URL, down, "--json", "--interval", "0.2")
    assert run.code == 2, run.err
    targets = run.json()["targets"]
    assert [t["url"] for t in targets] == [pg_url, MYSQL_URL, REDIS_URL, down]
    assert [t["snapshot"]["engine"] for t in targets[:3]] == ["postgresql", "mysql", "redis"]
    assert all("error" not in t for t in targets[:3])
    assert "snapshot" not in targets[3] and "cannot reach" in targets[3]["error"]
    assert run.err.splitlines() == [
        f"dbtop: redis://127.0.0.1:{down.rsplit(':', 1)[1]}: {targets[3]['error']}"
    ]


@pytest.mark.redis
def test_a_group_from_the_config_file_with_a_password_file(pw_role, tmp_path):
    host, port = pw_role
    secret = tmp_path / "pg.pw"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[targets.app-db]\nurl = "postgresql://{PASSWORD_ROLE}@{host}:{port}/test"\n'
        f'password_file = "pg.pw"\nread_only = true\n\n'
        f'[targets.app-cache]\nurl = "{REDIS_URL}"\n\n[groups]\napp = ["app-db", "app-cache"]\n'
    )
    config.chmod(0o644)  # no password in it: readable is fine
    run = dbtop("snapshot", "app", "--json", "--interval", "0", env={"DBTOP_CONFIG": str(config)})
    assert run.code == 0, run.err
    targets = run.json()["targets"]
    assert [t["target"] for t in targets] == ["app-db", "app-cache"]
    assert targets[0]["snapshot"]["capabilities"]["read_only"] is True
    assert PASSWORD not in run.out + run.err


def test_a_service_name_with_its_password_in_pgpass(pw_role, tmp_path):
    host, port = pw_role
    services = tmp_path / "pg_service.conf"
    services.write_text(
        f"[reporting]\nhost={host}\nport={port}\ndbname=test\nuser={PASSWORD_ROLE}\n"
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{host}:{port}:*:{PASSWORD_ROLE}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    env = {
        "PGSERVICEFILE": str(services),
        "PGSYSCONFDIR": str(tmp_path / "none"),
        "PGPASSFILE": str(pgpass),
        "DBTOP_CONFIG": str(tmp_path / "none.toml"),
    }
    env_no_config = {k: v for k, v in env.items() if k != "DBTOP_CONFIG"}
    env_no_config["HOME"] = str(tmp_path)
    one = dbtop("snapshot", "reporting", "--json", "--interval", "0", env=env_no_config)
    assert one.code == 0, one.err
    assert one.json()["engine"] == "postgresql"  # one target: the one-server document
    both = dbtop(
        "snapshot",
        "service=reporting",
        "postgresql://x@/?service=reporting&dbname=postgres",
        "--json",
        "--interval",
        "0",
        env=env_no_config,
    )
    assert both.code == 2, both.err  # the second names user x, unknown to the server
    first, second = both.json()["targets"]
    assert first["target"] == "reporting" and "snapshot" in first
    assert second["url"] == f"postgresql://x@{host}:{port}/postgres"
    assert PASSWORD not in one.out + both.out + both.err


def test_a_password_from_a_command_reaches_the_server(pw_role, tmp_path):
    host, port = pw_role
    config = tmp_path / "config.toml"
    config.write_text(
        f'[targets.db]\nurl = "postgresql://{PASSWORD_ROLE}@{host}:{port}/test"\n'
        f'password_command = ["printf", "{PASSWORD}"]\n'
    )
    run = dbtop("snapshot", "db", "--interval", "0", env={"DBTOP_CONFIG": str(config)})
    assert run.code == 0, run.err
    assert PASSWORD not in run.out + run.err
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(config.read_text().replace(PASSWORD, "nope"))
    refused = dbtop("snapshot", "db", "--interval", "0", env={"DBTOP_CONFIG": str(wrong)})
    assert refused.code == 2 and len(refused.err.splitlines()) == 1
