"""``dbtop`` end to end with mysql:// URLs: the JSON keys PostgreSQL gives, kill, explain,
suggest, credentials from ~/.my.cnf, MYSQL_PWD and a socket, and one clear line for bad
input."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.integration.cli.conftest import dbtop
from tests.waiting import wait_until

from .conftest import PFS_DB, SHARED_DB, SHARED_HOST, SHARED_PORT, run

pytestmark = pytest.mark.timeout(90)

SNAPSHOT_KEYS = {
    "format", "engine", "taken_at", "monotonic", "collect_ms", "server", "capabilities",
    "sessions", "statements", "slow_events", "indexes", "tables", "keyspace", "lock_waits",
    "lock_roots", "lock_cycles", "blocked_count", "lock_frees", "findings", "notices", "rates",
    "extra",
}  # fmt: skip


def assert_one_clear_line(result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dbtop: "), result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


def test_snapshot_json_has_the_same_keys_as_postgresql(pfs_url):
    result = dbtop("snapshot", pfs_url, "--json", "--interval", "0.3")
    assert result.code == 0, result.err
    doc = result.json()
    assert set(doc) >= SNAPSHOT_KEYS
    assert doc["engine"] == "mysql" and doc["server"]["engine"] == "mariadb"
    assert doc["rates"] is not None and doc["rates"]["interval_s"] > 0.2
    assert any(s["is_self"] for s in doc["sessions"])
    for session in doc["sessions"]:
        assert isinstance(session["id"], str) and session["id"].isdigit()
        for key in ("user", "database", "state", "query", "duration_s", "wait", "blocked_by"):
            assert key in session
    for stmt in doc["statements"][:5]:
        for key in ("id", "query", "calls", "total_ms", "mean_ms", "rows"):
            assert key in stmt
    for index in doc["indexes"][:5]:
        for key in ("schema", "table", "name", "scans", "size_bytes", "unused", "duplicate_of"):
            assert key in index


def test_human_snapshot_names_what_is_missing(shared_url):
    result = dbtop("snapshot", shared_url, "--interval", "0")
    assert result.code == 0, result.err
    assert "performance_schema=ON" in result.out and "duplicate of a_b_c" in result.out


async def test_kill_and_explain_through_the_cli(shared_url, clients):
    app = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    app_id = str(app.thread_id())
    sleeping = clients.background(app, "SELECT id, SLEEP(1) FROM items")
    watcher = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)

    async def sleeping_now() -> bool:
        rows = await run(
            watcher, f"SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = {app_id}"
        )
        return bool(rows) and "SLEEP" in (rows[0][0] or "")

    await wait_until(sleeping_now, what=f"session {app_id} running its SLEEP")
    plan = await asyncio.to_thread(dbtop, "explain", shared_url, "--session", app_id, "--json")
    assert plan.code == 0, plan.err
    assert "SLEEP" in plan.json()["query"] and plan.json()["engine"] == "mysql"
    killed = await asyncio.to_thread(dbtop, "kill", shared_url, app_id, "--yes")
    assert killed.code == 0 and f"KILL QUERY {app_id}" in killed.out, killed.err
    await asyncio.gather(sleeping, return_exceptions=True)
    ended = await asyncio.to_thread(dbtop, "kill", shared_url, app_id, "--terminate", "--yes")
    assert ended.code == 0 and "KILL CONNECTION" in ended.out, ended.err
    gone = await asyncio.to_thread(dbtop, "kill", shared_url, app_id, "--yes")
    assert_one_clear_line(gone, "no session")
    query = await asyncio.to_thread(
        dbtop, "explain", shared_url, "--query", "SELECT * FROM items WHERE k = 1"
    )
    assert query.code == 0 and "k_idx" in query.out, query.err


def test_suggest_json(pfs_server, pfs_url):
    conn = pfs_server.connect(PFS_DB)
    with conn.cursor() as cur:
        for customer in (3, 33, 333):
            cur.execute(f"SELECT * FROM orders WHERE customer_id = {customer}")
            cur.fetchall()
    conn.close()
    result = dbtop("suggest", pfs_url, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["engine"] == "mysql"
    assert any(s["columns"][0] == "customer_id" and not s["verified"] for s in doc["suggestions"])


@pytest.fixture
def account(pfs_server):
    """A user with a password and no PROCESS or performance_schema grant."""
    name = f"dbtop_cli_{uuid.uuid4().hex[:8]}"
    password = f"s3cret-{uuid.uuid4().hex[:6]}"
    admin = pfs_server.connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT SELECT ON {PFS_DB}.* TO '{name}'@'%'")
    yield name, password
    with admin.cursor() as cur:
        cur.execute(f"DROP USER '{name}'@'%'")
    admin.close()


def test_credentials_from_my_cnf_mysql_pwd_and_a_socket(pfs_server, account, tmp_path):
    name, password = account
    home = tmp_path / "home"
    home.mkdir()
    (home / ".my.cnf").write_text(f'[client]\nuser = {name}\npassword = "{password}"\n')
    url = f"mysql://127.0.0.1:{pfs_server.port}/{PFS_DB}"
    from_file = dbtop("snapshot", url, "--json", "--interval", "0", env={"HOME": str(home)})
    assert from_file.code == 0, from_file.err
    assert from_file.json()["server"]["address"].startswith(f"{name}@")
    hints = [n["hint"] for n in from_file.json()["capabilities"]["notices"]]
    assert f"GRANT PROCESS ON *.* TO '{name}'@'%'" in hints
    assert password not in from_file.out

    user_url = f"mysql://{name}@127.0.0.1:{pfs_server.port}/{PFS_DB}"
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"HOME": str(empty), "MYSQL_PWD": password}
    from_env = dbtop("snapshot", user_url, "--json", "--interval", "0", env=env)
    assert from_env.code == 0, from_env.err
    wrong = dbtop("snapshot", user_url, "--interval", "0", env={**env, "MYSQL_PWD": "nope"})
    assert_one_clear_line(wrong, "access denied", "MYSQL_PWD")
    assert "nope" not in wrong.err

    sock_url = f"mysql://root@localhost/{PFS_DB}?socket={pfs_server.socket}"
    by_socket = dbtop("snapshot", sock_url, "--json", "--interval", "0", env={"HOME": str(empty)})
    assert by_socket.code == 0, by_socket.err
    assert str(pfs_server.socket) in by_socket.json()["server"]["address"]


def test_bad_input_is_one_clear_line(shared_url):
    wrong = dbtop(
        "snapshot", f"mysql://root:bad-pw@{SHARED_HOST}:{SHARED_PORT}/", "--interval", "0"
    )
    assert_one_clear_line(wrong, "access denied")
    assert "bad-pw" not in wrong.err
    not_mysql = dbtop(
        "snapshot", "mysql://root@127.0.0.1:5432/", "--connect-timeout", "1", "--interval", "0"
    )
    assert_one_clear_line(not_mysql, "MySQL server")
    assert_one_clear_line(
        dbtop("snapshot", f"mysql://root@{SHARED_HOST}:{SHARED_PORT}/x?colour=red"),
        "unknown MySQL URL parameter",
    )
    assert_one_clear_line(
        dbtop("snapshot", f"mysql://root@{SHARED_HOST}:{SHARED_PORT}/no_such_db_zz"),
        "unknown database",
    )
    assert_one_clear_line(dbtop("kill", shared_url, "abc", "--yes"), "not a MySQL session id")
    assert_one_clear_line(dbtop("explain", shared_url, "--query", "DROP TABLE items"), "not DROP")


async def test_kill_of_another_accounts_session_names_the_grant(pfs_server, account, clients):
    name, password = account
    victim = await clients.open(pfs_server.port, PFS_DB)
    await run(victim, "SELECT 1")
    url = f"mysql://{name}:{password}@127.0.0.1:{pfs_server.port}/{PFS_DB}"
    result = await asyncio.to_thread(dbtop, "kill", url, str(victim.thread_id()), "--yes")
    assert_one_clear_line(result, "CONNECTION ADMIN", name)
    assert password not in result.err
