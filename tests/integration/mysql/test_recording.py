"""``dbtop record`` of MariaDB: a running statement is in the replay at its moment, and not
after it ended; the file is 0600."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pymysql

from tests.integration.recording_helpers import (
    Recorder,
    assert_private_and_secret_free,
    iso,
    replay,
    replay_json,
)

MARK = "dbtop_rec_sleep"


def running(document: dict) -> bool:
    return any(MARK in (s.get("query") or "") for s in document["sessions"])


async def test_a_mariadb_recording_replays_a_running_statement(
    shared_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "mariadb.dbtoprec"
    recorder = Recorder(shared_url, path, "--interval", "0.5")
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test")
    try:
        recorder.wait_for_sample(lambda d: bool(d["sessions"]), "a first sample")
        sleeping = asyncio.ensure_future(
            asyncio.to_thread(conn.query, f"SELECT SLEEP(2) AS {MARK}")
        )
        seen_at = await asyncio.to_thread(recorder.wait_for_sample, running, "the statement")
        await sleeping
        gone_at = await asyncio.to_thread(
            recorder.wait_for_sample, lambda d: not running(d), "the statement ended"
        )
    finally:
        recorder.stop()
        conn.close()
    during = replay_json(path, iso(seen_at))
    assert during["engine"] in ("mysql", "mariadb") and running(during)
    assert not running(replay_json(path, iso(gone_at)))
    info = replay(str(path), "--info")
    assert info.returncode == 0 and shared_url in info.stdout, info.stdout
    assert_private_and_secret_free(path, None)
