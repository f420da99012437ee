"""A password given in a URL never shows in the process title (ps, /proc/PID/cmdline)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_until_sync


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_password_is_masked_in_the_process_title():
    # A server that accepts and never answers keeps dbtop connecting long enough to look.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dbtop.cli",
                "snapshot",
                f"postgresql://someone:hunter2secret@127.0.0.1:{port}/db",
                "--connect-timeout",
                "5",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:

            def masked() -> bytes | None:
                cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
                return cmdline if b"***" in cmdline else None

            cmdline = wait_until_sync(masked, what="the masked process title")
            assert b"hunter2secret" not in cmdline
            assert b"someone:***@127.0.0.1" in cmdline
        finally:
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert b"hunter2secret" not in out + err
    assert err.decode().startswith("dbtop: ")
