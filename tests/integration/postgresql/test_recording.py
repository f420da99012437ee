"""``dbtop record`` and ``dbtop replay`` on a real PostgreSQL: a lock chain forms and
clears while recording; the replay at a moment inside shows its edges and root, after it
none; a restart of the server during the recording is a gap in ``--info``; the file is
0600 and holds no password.

The server is a private PostgreSQL 15 started for this module alone (it is restarted:
never the session's shared one, never the machine's).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from tests.integration.recording_helpers import (
    Recorder,
    assert_private_and_secret_free,
    iso,
    replay,
    replay_json,
)
from tests.servers import postgres

SECRET = "Rec-s3cret-42"


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.PrivatePostgres]:
    try:
        pg = postgres.start(max_connections=30)
    except postgres.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        pg.psql(
            f"CREATE ROLE {postgres.PASSWORD_ROLE} LOGIN PASSWORD '{SECRET}' "
            "IN ROLE pg_monitor, pg_signal_backend"
        )
        pg.psql("CREATE TABLE chain (id int PRIMARY KEY); INSERT INTO chain VALUES (1)", "test")
        pg.psql(f"GRANT SELECT ON chain TO {postgres.PASSWORD_ROLE}", "test")
        # pg_stat_statements keeps utility statements as written, CREATE ROLE's password
        # included: that is the server's text, not dbtop's credentials, which are the test
        pg.psql("SELECT pg_stat_statements_reset()", "test")
        yield pg
    finally:
        pg.stop()


def restart(pg: postgres.PrivatePostgres) -> None:
    """``pg_ctl restart`` of the module's own server (same port: postmaster.opts)."""
    subprocess.run(
        [
            str(pg.bindir / "pg_ctl"),
            *("-D", str(pg.pgdata), "-l", str(pg.log), "-w", "-m", "fast", "restart"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        start_new_session=True,
        **pg._as_owner(),  # type: ignore[arg-type]
    )


def started_at(document: dict) -> float:
    """When the server the sample saw started (epoch seconds; 0 when it did not say)."""
    uptime = document["server"]["uptime_s"]
    if uptime is None:
        return 0.0
    return datetime.fromisoformat(document["taken_at"]).timestamp() - float(uptime)


def has_edges(document: dict) -> bool:
    return any(w for w in document.get("lock_waits", []))


async def test_a_lock_chain_is_replayed_inside_and_gone_after(
    server: postgres.PrivatePostgres, tmp_path: Path
) -> None:
    path = tmp_path / "pg.dbtoprec"
    url = server.url(user=postgres.PASSWORD_ROLE).replace("@", f":{SECRET}@", 1)
    recorder = Recorder(url, path, "--interval", "0.5")
    admin = server.url()
    root = await asyncpg.connect(admin, server_settings={"application_name": "rec-root"})
    waiter = await asyncpg.connect(admin, server_settings={"application_name": "rec-waiter"})
    try:
        recorder.wait_for_sample(lambda d: bool(d["sessions"]), "a first sample")
        await root.execute("BEGIN; LOCK TABLE chain IN ACCESS EXCLUSIVE MODE")
        root_pid = await root.fetchval("SELECT pg_backend_pid()")
        blocked = asyncio.ensure_future(waiter.execute("SELECT * FROM chain"))
        inside = await asyncio.to_thread(
            recorder.wait_for_sample, has_edges, "a sample with the lock chain"
        )
        await root.execute("ROLLBACK")
        await blocked
        after = await asyncio.to_thread(
            recorder.wait_for_sample, lambda d: not has_edges(d), "a sample after it cleared"
        )
        # the server restarts under the recorder, which keeps recording
        await root.close()
        await waiter.close()
        restarted_at = time.time()
        await asyncio.to_thread(restart, server)
        # the module's server is young all along: a sample is from the restarted one
        # when the server it saw started after the restart began
        await asyncio.to_thread(
            recorder.wait_for_sample,
            lambda d: started_at(d) > restarted_at,
            "a sample from the restarted server",
        )
    finally:
        recorder.stop()
        for conn in (root, waiter):
            if not conn.is_closed():
                conn.terminate()

    during = replay_json(path, iso(inside))
    assert during["lock_waits"], during
    assert during["lock_roots"] == [str(root_pid)]
    assert {w["blocker"] for w in during["lock_waits"]} == {str(root_pid)}
    # exactly the snapshot --json shape, with rates over the recorded interval
    assert during["format"] == 1 and during["engine"] == "postgresql"
    assert during["rates"] is not None and 0.3 < during["rates"]["interval_s"] < 3

    later = replay_json(path, iso(after))
    assert later["lock_waits"] == [] and later["lock_roots"] == []

    info = replay(str(path), "--info")
    assert info.returncode == 0, info.stderr
    assert "gaps       1" in info.stdout or "gaps       2" in info.stdout, info.stdout
    assert "restarted" in info.stdout or "connection" in info.stdout.lower(), info.stdout
    assert f"{postgres.PASSWORD_ROLE}@127.0.0.1" in info.stdout
    assert_private_and_secret_free(path, SECRET)


def test_replay_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.dbtoprec"
    junk.write_text("hello")
    for args in (
        [str(tmp_path / "missing")],
        [str(junk), "--info"],
        [str(junk), "--json"],
    ):
        done = replay(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
