"""Running ``dbtop record`` for real (a child process, as a DBA runs it) and reading what
it wrote, for the recording tests of every engine."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard

from dbtop.errors import DbtopError
from dbtop.recording.reader import Recording
from tests.waiting import wait_until_sync

SRC = Path(__file__).resolve().parents[2] / "src"


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("PGPASSWORD", None)
    return env


class Recorder:
    """``dbtop record URL --output FILE``, stopped with SIGTERM like a service manager."""

    def __init__(self, url: str, path: Path, *extra: str) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbtop.cli", "record", url, "--output", str(path), *extra],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def samples(self) -> int:
        if not self.path.exists():
            return 0
        try:
            with Recording(self.path) as rec:
                return len(rec)
        except Exception:
            return 0

    def wait_for_sample(self, check: Callable[[dict[str, Any]], bool], what: str) -> float:
        """The time of the first sample, after those already there, that passes ``check``."""
        seen = self.samples()

        def found() -> float | None:
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            try:
                rec = Recording(self.path)
            except DbtopError:  # not created yet, or its schema not yet written
                return None
            with rec:
                for index in range(seen, len(rec)):
                    if check(rec.document(index)):
                        return rec.times[index]
            return None

        return float(wait_until_sync(found, 20, what))

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return err


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbtop.cli", "replay", *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def replay_json(path: Path, at: str) -> dict[str, Any]:
    done = replay(str(path), "--at", at, "--json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


def assert_private_and_secret_free(path: Path, secret: str | None) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if secret is None:
        return
    import sqlite3

    assert secret.encode() not in path.read_bytes()
    db = sqlite3.connect(path)
    for (data,) in db.execute("SELECT data FROM frames"):
        assert secret.encode() not in zstandard.ZstdDecompressor().decompress(data)
    for row in db.execute("SELECT key, value FROM meta UNION ALL SELECT reason, '' FROM gaps"):
        assert secret not in " ".join(map(str, row))
    db.close()


def now() -> float:
    return time.time()
