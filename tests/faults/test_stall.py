"""A server that stops answering after the connection is made, or refuses connections.

Through the loopback proxy in front of real servers: dbtop must turn the silence into an
error (the engine: a DbtopError; the CLI: one line and exit 2), never a hang, and pick the
server up again when it answers. No times are asserted: an outer bound (``asyncio.wait_for``
of ``BOUND_S``, the subprocess timeout) turns a hang into a failure.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dbtop.engines.base import ConnectOptions, Engine
from dbtop.engines.registry import create_engine
from dbtop.errors import DbtopError
from dbtop.model import KillMode
from tests.faults.conftest import Faulty

#: far above connect timeout + statement timeout + margin: only a hang reaches it
BOUND_S = 30.0
OPTIONS = ConnectOptions(connect_timeout_s=2.0, statement_timeout_ms=1000)
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
async def engine(faulty: Faulty) -> AsyncIterator[Engine]:
    made = create_engine(faulty.url, OPTIONS)
    await asyncio.wait_for(made.connect(), BOUND_S)
    try:
        yield made
    finally:
        faulty.proxy.resume()
        await asyncio.wait_for(made.close(), BOUND_S)


async def test_stalled_server_fails_the_snapshot(faulty: Faulty, engine: Engine) -> None:
    await asyncio.wait_for(engine.snapshot(), BOUND_S)
    faulty.proxy.stall()
    with pytest.raises(DbtopError) as caught:
        await asyncio.wait_for(engine.snapshot(), BOUND_S)
    assert "\n" not in str(caught.value)
    assert "did not answer" in str(caught.value)


async def test_snapshot_works_again_after_a_stall(faulty: Faulty, engine: Engine) -> None:
    await asyncio.wait_for(engine.snapshot(), BOUND_S)
    faulty.proxy.stall()
    with pytest.raises(DbtopError):
        await asyncio.wait_for(engine.snapshot(), BOUND_S)
    faulty.proxy.resume()
    snapshot = await asyncio.wait_for(_first_good(engine), BOUND_S)
    assert snapshot.engine == faulty.engine


async def test_refused_server_is_one_line_then_back(faulty: Faulty, engine: Engine) -> None:
    await asyncio.wait_for(engine.snapshot(), BOUND_S)
    faulty.proxy.refuse()
    with pytest.raises(DbtopError) as caught:
        await asyncio.wait_for(_until_fails(engine), BOUND_S)
    assert "\n" not in str(caught.value)
    faulty.proxy.resume()
    await asyncio.wait_for(_first_good(engine), BOUND_S)


async def test_stalled_explain_fails(faulty: Faulty, engine: Engine) -> None:
    if faulty.engine == "redis":
        pytest.skip("redis explains a command without a round trip of its own")
    # After the connect: MySQL opens its action connection for the EXPLAIN.
    faulty.proxy.stall_on(b"4242")
    with pytest.raises(DbtopError) as caught:
        await asyncio.wait_for(engine.explain(query="SELECT 4242"), BOUND_S)
    assert "did not answer" in str(caught.value)


async def test_stalled_kill_fails(faulty: Faulty, engine: Engine) -> None:
    await asyncio.wait_for(engine.snapshot(), BOUND_S)
    if faulty.engine == "mysql":
        faulty.proxy.stall_on(b"999999")  # KILL QUERY, after its action connection opened
    else:
        faulty.proxy.stall()
    with pytest.raises(DbtopError):
        await asyncio.wait_for(engine.kill("999999", KillMode.CANCEL), BOUND_S)


async def test_stalled_suggest_fails(faulty: Faulty, engine: Engine) -> None:
    await asyncio.wait_for(engine.snapshot(), BOUND_S)
    faulty.proxy.stall()
    with pytest.raises(DbtopError):
        await asyncio.wait_for(engine.suggest(), BOUND_S)


async def _first_good(engine: Engine):  # type: ignore[no-untyped-def]
    """The next snapshot that succeeds: the first after a fault may still see it."""
    while True:
        try:
            return await engine.snapshot()
        except DbtopError:
            await asyncio.sleep(0.2)


async def _until_fails(engine: Engine) -> None:
    """A refused server fails the poll once the open connection notices the reset."""
    while True:
        await engine.snapshot()
        await asyncio.sleep(0.1)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    # The tree under test: $PYTHONPATH when given (the brief's way), else this checkout's.
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(SRC)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dbtop.cli",
            "--connect-timeout",
            "2",
            "--statement-timeout",
            "1",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=BOUND_S + 15,
        env=env,
        check=False,
    )


def _one_line_exit_2(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dbtop: ")
    assert "Traceback" not in proc.stderr


def test_cli_snapshot_on_a_stalled_server_exits_2(faulty: Faulty) -> None:
    faulty.proxy.stall()
    _one_line_exit_2(_cli("snapshot", "--interval", "0", faulty.url))


def test_cli_snapshot_stalled_after_connect_exits_2(faulty: Faulty) -> None:
    faulty.proxy.stall_on(faulty.snapshot_marker)
    proc = _cli("snapshot", "--interval", "0", faulty.url)
    _one_line_exit_2(proc)
    assert "did not answer" in proc.stderr


def test_cli_explain_stalled_after_connect_exits_2(faulty: Faulty) -> None:
    if faulty.engine == "redis":
        pytest.skip("redis explains a command without a round trip of its own")
    faulty.proxy.stall_on(b"4242")
    proc = _cli("explain", faulty.url, "--query", "SELECT 4242")
    _one_line_exit_2(proc)
    assert "did not answer" in proc.stderr


def test_cli_stalled_right_after_the_handshake_exits_2(faulty: Faulty) -> None:
    markers = {"postgresql": b"pg_read_all_stats", "mysql": b"SHOW GLOBAL VARIABLES"}
    if faulty.engine not in markers:
        pytest.skip("the connect's first command is the handshake itself")
    faulty.proxy.stall_on(markers[faulty.engine])
    proc = _cli("snapshot", "--interval", "0", faulty.url)
    _one_line_exit_2(proc)
    assert "did not answer" in proc.stderr


def test_cli_snapshot_on_a_refused_server_exits_2(faulty: Faulty) -> None:
    faulty.proxy.refuse()
    _one_line_exit_2(_cli("snapshot", "--interval", "0", faulty.url))
