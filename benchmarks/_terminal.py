"""A command in a real terminal (a pty) for the UI benchmarks: spawn, read, measure."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence


class Terminal:
    def __init__(
        self,
        argv: Sequence[str],
        *,
        size: tuple[int, int] = (200, 50),
        env: dict[str, str] | None = None,
    ) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            start_new_session=True,
            preexec_fn=controlling_tty,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, needle: bytes, seconds: float = 30.0) -> float | None:
        """Seconds from the start until ``needle`` appeared on the screen, or None."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            if needle in self.output:
                return None
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return None
                self.output += chunk
                if needle in self.output:
                    return time.perf_counter() - self.started
            elif self.proc.poll() is not None:
                return None
        return None

    def drain(self, seconds: float) -> None:
        """Keep reading (as a terminal would) for ``seconds``."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):
                    self.output = (self.output + os.read(self.master, 65536))[-200_000:]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        with contextlib.suppress(OSError):
            os.close(self.master)
