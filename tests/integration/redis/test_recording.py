"""``dbtop record`` of a Redis with a password: a client blocked on a key is in the replay
(its blocked edge), the file is 0600 and holds no password."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path

from tests.integration.recording_helpers import (
    Recorder,
    assert_private_and_secret_free,
    iso,
    replay,
    replay_json,
)
from tests.integration.redis.conftest import PASSWORD, Server
from tests.servers.postgres import free_port
from tests.waiting import wait_until_sync


async def test_a_redis_recording_replays_a_blocked_client(private: Server, tmp_path: Path) -> None:
    path = tmp_path / "redis.dbtoprec"
    recorder = Recorder(private.url(9), path, "--interval", "0.5")
    blocker = private.client(9)
    waiting = asyncio.ensure_future(asyncio.to_thread(blocker.blpop, ["dbtop-test:rec:queue"], 30))
    try:
        blocked_at = await asyncio.to_thread(
            recorder.wait_for_sample, lambda d: bool(d["lock_waits"]), "a blocked client"
        )
        private.client(9).rpush("dbtop-test:rec:queue", "go")
        await waiting
        freed_at = await asyncio.to_thread(
            recorder.wait_for_sample, lambda d: not d["lock_waits"], "the client freed"
        )
    finally:
        recorder.stop()
        blocker.close()
    during = replay_json(path, iso(blocked_at))
    assert during["engine"] == "redis"
    assert any("BLPOP" in (s.get("query") or "").upper() for s in during["sessions"])
    assert during["lock_waits"]
    assert replay_json(path, iso(freed_at))["lock_waits"] == []
    info = replay(str(path), "--info")
    assert info.returncode == 0 and "redis://" in info.stdout, info.stdout
    assert_private_and_secret_free(path, PASSWORD)


def test_record_serves_what_it_records_as_metrics(private: Server, tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "metered.dbtoprec"
    recorder = Recorder(private.url(9), path, "--interval", "0.5", "--metrics", f"127.0.0.1:{port}")

    def scraped() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                text: str = answer.read().decode("utf-8")
        except OSError:
            return None
        return text if re.search(r'^dbtop_up\{target="redis://[^"]*"\} 1', text, re.M) else None

    try:
        text = wait_until_sync(scraped, 20, "dbtop_up 1 on record's endpoint")
        recorder.wait_for_sample(lambda d: d["engine"] == "redis", "a recorded sample")
    finally:
        recorder.stop()
    assert "dbtop_connections{" in text
    assert PASSWORD not in text
    assert_private_and_secret_free(path, PASSWORD)
