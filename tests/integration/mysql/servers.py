"""Private MariaDB servers for the tests and benchmarks: a fresh data directory in a temp
folder, a free port, a socket of their own; never the shared server on 3306.

``start_private(options)`` returns a running server or raises ``Unavailable`` with the
reason (no mariadbd binary, install or start-up failed), for a clear skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pymysql

from tests.waiting import wait_until_sync


class Unavailable(Exception):
    """A private server could not be started; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateServer:
    folder: Path
    port: int
    socket: Path
    process: subprocess.Popen[bytes]

    def url(self, database: str = "", user: str = "root", password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"mysql://{auth}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str | None = None, **kwargs: object) -> pymysql.Connection:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user=str(kwargs.pop("user", "root")),
            password=str(kwargs.pop("password", "")),
            database=database,
            autocommit=True,
            **kwargs,  # type: ignore[arg-type]
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
        )
        if found:
            return found
    return None


def start_private(options: Sequence[str] = (), *, label: str = "dbtop") -> PrivateServer:
    """Install a data directory and start mariadbd on it with ``options`` (``--name=value``)."""
    server = _binary("mariadbd", "mysqld")
    install = _binary("mariadb-install-db", "mysql_install_db")
    if server is None or install is None:
        raise Unavailable("mariadbd / mariadb-install-db are not installed")
    folder = Path(tempfile.mkdtemp(prefix=f"{label}-mariadb-"))
    data = folder / "data"
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user_args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise Unavailable(f"mariadb-install-db failed: {' '.join(tail)}")
    port = free_port()
    sock = folder / "mysqld.sock"
    log = folder / "error.log"
    process = subprocess.Popen(
        [
            server,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--socket={sock}",
            f"--pid-file={folder / 'mysqld.pid'}",
            f"--log-error={log}",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=16M",
            "--skip-log-bin",
            "--skip-name-resolve",
            *user_args,
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    private = PrivateServer(folder, port, sock, process)

    def accepts() -> bool:
        if process.poll() is not None:
            reason = (
                log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            )
            raise Unavailable("mariadbd exited at start-up: " + " | ".join(reason))
        try:
            private.connect().close()
        except pymysql.err.MySQLError:
            return False
        return True

    try:
        wait_until_sync(accepts, timeout=60, what="mariadbd accepting connections")
    except Unavailable:
        private.stop()
        raise
    except AssertionError as exc:
        private.stop()
        raise Unavailable(str(exc)) from exc
    return private
