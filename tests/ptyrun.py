"""Run the dbtop command on a pseudo-terminal, as a user at a terminal would: what a
``getpass`` prompt needs (it reads /dev/tty, the controlling terminal)."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class PtyRun:
    code: int
    output: str
    #: /proc/PID/cmdline, read when the prompt was on screen and again after the answer
    cmdlines: list[bytes]


def _read_until(fd: int, wanted: str, seen: list[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if wanted and wanted.encode() in b"".join(seen):
            return True
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        seen.append(chunk)
    return False


def run_with_answer(
    args: list[str],
    answer: str,
    *,
    prompt: str = "Password:",
    env: dict[str, str] | None = None,
    timeout: float = 60,
    on_prompt: Callable[[int], None] | None = None,
) -> PtyRun:
    """``python -m dbtop.cli ARGS`` on a new terminal; ``answer`` typed at ``prompt``."""
    environ = {**os.environ, **(env or {})}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "dbtop.cli", *args], environ)
    seen: list[bytes] = []
    cmdlines: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        if _read_until(fd, prompt, seen, deadline):
            cmdlines.append(_cmdline(pid))
            if on_prompt is not None:
                on_prompt(pid)
            os.write(fd, answer.encode() + b"\n")
            cmdlines.append(_cmdline(pid))
        _read_until(fd, "", seen, deadline)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return PtyRun(
        os.waitstatus_to_exitcode(status), b"".join(seen).decode(errors="replace"), cmdlines
    )


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""
