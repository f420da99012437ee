"""A private PostgreSQL for the tests and the benchmarks, never the machine's own.

The machine's PostgreSQL may be a DBA's or a shared host's: the tests must not write its
configuration nor restart it. So the tests' PostgreSQL (the Debian server binaries,
``/usr/lib/postgresql/15/bin`` here) is a cluster of their own: ``initdb`` into a temporary
directory, a free port on 127.0.0.1 and a unix socket directory inside that directory, and
the settings the tests need:

- ``shared_preload_libraries = 'pg_stat_statements'`` (tracking nested statements too) and
  ``track_io_timing``: the slow-query pane and the advisor read them; ``pg_wait_sampling``
  next to it when its library is installed (``postgresql-15-pg-wait-sampling``, which
  scripts/test-services.sh installs): the load view's high-resolution source
  (:attr:`PrivatePostgres.wait_sampling` says whether it is there, and why not);
- ``max_connections`` as asked (300 for the tests, more for the benchmarks);
- autovacuum off, as on the machine's server the tests were written against: statistics
  move only when a test moves them;
- trust for everyone on the socket and 127.0.0.1, except the role ``dbtop_it_pw`` that must
  give its password (scram-sha-256), so that a wrong password can be tested;
- hypopg created in the databases made here when the package (``postgresql-15-hypopg``,
  which scripts/test-services.sh installs) is there.

As root the server runs as the ``postgres`` system account (PostgreSQL refuses root), which
then owns the directory. :meth:`PrivatePostgres.stop` stops it (fast, then immediate) and
deletes the directory; it runs at the end of the test session, at interpreter exit, and, for
a session that ends any other way (Ctrl-C, SIGTERM, SIGKILL), a watchdog process does it
when the pipe from its parent closes.

    .venv/bin/python -m tests.servers.postgres [--max-connections N]

starts one by hand, prints its URL and keeps it until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: PostgreSQL binaries live in /usr/lib/postgresql/<major>/bin on Debian
PG_LIB = Path("/usr/lib/postgresql")
DEFAULT_MAJOR = "15"
#: the role the tests log in with a password (everyone else: trust)
PASSWORD_ROLE = "dbtop_it_pw"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30

# Runs in its own session (Ctrl-C on the terminal does not reach it) and waits for EOF on
# its stdin: the test process holds the other end, so EOF means it ended, however.
_WATCHDOG = r"""
import os, shutil, signal, subprocess, sys
for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(sig, signal.SIG_IGN)
root, pgdata, pg_ctl, uid, gid = sys.argv[1:6]
sys.stdin.buffer.read()
if os.path.exists(os.path.join(pgdata, "postmaster.pid")):
    who = {}
    if os.geteuid() == 0 and int(uid) != 0:
        who = {"user": int(uid), "group": int(gid), "extra_groups": []}
    subprocess.run(
        [pg_ctl, "-D", pgdata, "-m", "immediate", "-w", "-t", "30", "stop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/", **who,
    )
shutil.rmtree(root, ignore_errors=True)
"""


class Unavailable(RuntimeError):
    """No PostgreSQL server binaries here to start a private server from."""


def major_version() -> str:
    """``$DBTOP_TEST_PG_VERSION``, else the newest major in /usr/lib/postgresql with an
    ``initdb``, else 15 (scripts/test-services.sh derives it the same way)."""
    if os.environ.get("DBTOP_TEST_PG_VERSION"):
        return os.environ["DBTOP_TEST_PG_VERSION"]
    found = [p.parent.parent.name for p in PG_LIB.glob("*/bin/initdb")]
    numeric = sorted((v for v in found if v.isdigit()), key=int)
    return numeric[-1] if numeric else DEFAULT_MAJOR


def bin_dir(major: str | None = None) -> Path:
    if os.environ.get("DBTOP_TEST_PG_BINDIR"):
        return Path(os.environ["DBTOP_TEST_PG_BINDIR"])
    return PG_LIB / (major or major_version()) / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    """No PGDATA, PGPORT, PGHOST … of the caller's: they would steer initdb, pg_ctl, psql."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    return env


@dataclass
class PrivatePostgres:
    """One running private cluster; :meth:`stop` removes all of it."""

    root: Path
    bindir: Path
    port: int
    uid: int
    gid: int
    hypopg: bool = False
    #: None when pg_wait_sampling is preloaded, else why not (the tests that need it skip)
    wait_sampling_missing: str | None = None
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def wait_sampling(self) -> bool:
        return self.wait_sampling_missing is None

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def version(self) -> str:
        return self.bindir.parent.name

    def url(self, database: str = "test", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    # -- running commands as the server's account -----------------------------------------

    def _as_owner(self) -> dict[str, object]:
        if os.geteuid() == 0 and self.uid != 0:
            return {"user": self.uid, "group": self.gid, "extra_groups": []}
        return {}

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        """A server binary (initdb, pg_ctl) as the account that owns the cluster."""
        proc = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            env=_clean_env(),
            cwd=self.root,
            timeout=timeout,
            **self._as_owner(),  # type: ignore[arg-type]
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def psql(self, sql: str, database: str = "postgres") -> str:
        """One statement through psql over TCP (trust), as the superuser ``postgres``."""
        psql = self.bindir / "psql"
        proc = subprocess.run(
            [
                str(psql if psql.exists() else "psql"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
                *("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql),
            ],
            capture_output=True,
            text=True,
            env=_clean_env(),
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    # -- database setup ---------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """``name`` with pg_stat_statements, and hypopg and pg_wait_sampling when installed;
        its URL."""
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if not exists:
            self.psql(f'CREATE DATABASE "{name}"')
        self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database=name)
        if self.hypopg:
            self.psql("CREATE EXTENSION IF NOT EXISTS hypopg", database=name)
        if self.wait_sampling:
            self.psql("CREATE EXTENSION IF NOT EXISTS pg_wait_sampling", database=name)
        return self.url(name)

    # -- stopping and starting the same cluster ---------------------------------------------

    def shut_down(self) -> None:
        """Stop the server cleanly (a shutdown checkpoint) and keep its directory: for a
        test that changes the stopped cluster (pg_resetwal) before :meth:`start_again`."""
        self.run(
            *("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w"),
            *("-t", str(STOP_TIMEOUT_S), "stop"),
            timeout=STOP_TIMEOUT_S + 10,
        )

    def start_again(self) -> None:
        """Start the cluster :meth:`shut_down` stopped, on the same port."""
        proc = _pg_ctl_start(self)
        if proc.returncode != 0:
            raise RuntimeError(
                f"the private PostgreSQL did not start again: {proc.stderr.strip()}\n"
                f"{self.log_tail()}"
            )

    # -- the end ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and delete its directory; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            if (self.pgdata / "postmaster.pid").exists():
                for mode in ("fast", "immediate"):
                    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                        self.run(
                            *("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w"),
                            *("-t", str(STOP_TIMEOUT_S), "stop"),
                            timeout=STOP_TIMEOUT_S + 10,
                        )
                        break
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._watchdog is not None:
                with contextlib.suppress(OSError):
                    self._watchdog.stdin.close()  # type: ignore[union-attr]
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._watchdog.wait(STOP_TIMEOUT_S + 10)


HBA = f"""\
# written by tests/servers/postgres.py: the password role first, trust for everyone else
# (and for a standby's replication connection)
local all {PASSWORD_ROLE} scram-sha-256
host  all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256
host  all {PASSWORD_ROLE} ::1/128 scram-sha-256
local all all trust
host  all all 127.0.0.1/32 trust
host  all all ::1/128 trust
host  replication all 127.0.0.1/32 trust
"""


def wait_sampling_library(bindir: Path) -> Path:
    """Where Debian puts pg_wait_sampling's library for these server binaries."""
    return bindir.parent / "lib" / "pg_wait_sampling.so"


def _settings(
    socket_dir: Path, max_connections: int, preload: str, extra: Mapping[str, str] | None = None
) -> str:
    more = "".join(f"{name} = {value}\n" for name, value in (extra or {}).items())
    return f"""
# written by tests/servers/postgres.py (a private cluster for dbtop's tests)
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
max_connections = {max_connections}
# the health checks' tests prepare a transaction (two-phase commit)
max_prepared_transactions = 10
shared_preload_libraries = '{preload}'
pg_stat_statements.track = all
track_io_timing = on
autovacuum = off
# crash safety is not needed; synchronous_commit stays on: with it off, the fixtures' VACUUM
# leaves freshly loaded pages not all-visible and the advisor's index-only-scan costs change
fsync = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
""" + (f"# asked for by the caller (last: they win)\n{more}" if more else "")


def _account(bindir: Path) -> tuple[int, int]:
    """The uid and gid the cluster runs as (``postgres`` when the tests run as root)."""
    if not (bindir / "initdb").exists() or not (bindir / "pg_ctl").exists():
        raise Unavailable(
            f"no PostgreSQL server binaries in {bindir} "
            f"(apt-get install postgresql-{bindir.parent.name})"
        )
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise Unavailable("running as root and there is no 'postgres' account") from exc
        return account.pw_uid, account.pw_gid
    return os.geteuid(), os.getegid()


def _new_root(bindir: Path, uid: int, gid: int) -> PrivatePostgres:
    """A temporary directory for one cluster, its watchdog and its socket directory."""
    root = Path(tempfile.mkdtemp(prefix=f"dbtop-pg{bindir.parent.name}-"))
    server = PrivatePostgres(root, bindir, port=0, uid=uid, gid=gid)
    # The watchdog first: whatever happens from here on, the directory goes away.
    server._watchdog = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WATCHDOG,
            str(root),
            str(server.pgdata),
            str(bindir / "pg_ctl"),
            str(uid),
            str(gid),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    atexit.register(server.stop)
    try:
        server.socket_dir.mkdir()
        os.chown(root, uid, gid)
        os.chown(server.socket_dir, uid, gid)
        root.chmod(0o700)
    except BaseException:
        server.stop()
        raise
    return server


def start(
    max_connections: int = 300,
    databases: tuple[str, ...] = ("test",),
    settings: Mapping[str, str] | None = None,
) -> PrivatePostgres:
    """A new private cluster, running, with ``databases`` created; stop it with ``stop()``.

    ``settings`` are more postgresql.conf lines (name to value, as written there, quoted
    where the value needs it), after the defaults above so that they override them.

    Raises :class:`Unavailable` when there are no server binaries to start it from, and
    RuntimeError (with the server's log) when they are there but the server fails.
    """
    bindir = bin_dir()
    uid, gid = _account(bindir)
    server = _new_root(bindir, uid, gid)
    try:
        server.run(
            *("initdb", "-D", str(server.pgdata), "-U", "postgres", "--auth=trust"),
            *("--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"),
        )
        preload = "pg_stat_statements"
        library = wait_sampling_library(bindir)
        if library.exists():
            preload += ",pg_wait_sampling"
        else:
            server.wait_sampling_missing = (
                f"no {library} (apt-get install postgresql-{server.version}-pg-wait-sampling, "
                "as scripts/test-services.sh does)"
            )
        with (server.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(_settings(server.socket_dir, max_connections, preload, settings))
        (server.pgdata / "pg_hba.conf").write_text(HBA, encoding="utf-8")
        _start_on_a_free_port(server)
        server.hypopg = bool(
            server.psql("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'")
        )
        for database in databases:
            server.create_database(database)
    except BaseException:
        server.stop()
        raise
    return server


def start_standby(
    primary: PrivatePostgres, settings: Mapping[str, str] | None = None
) -> PrivatePostgres:
    """A streaming standby of ``primary`` (pg_basebackup -R, hot standby), running on a
    port of its own; ``settings`` as for :func:`start`. Stop it with ``stop()``."""
    server = _new_root(primary.bindir, primary.uid, primary.gid)
    try:
        server.run(
            *("pg_basebackup", "-D", str(server.pgdata), "-h", "127.0.0.1"),
            *("-p", str(primary.port), "-U", "postgres", "-R", "-X", "stream", "-c", "fast"),
        )
        more = "".join(f"{name} = {value}\n" for name, value in (settings or {}).items())
        with (server.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "# the standby's own (tests/servers/postgres.py start_standby)\n"
                f"unix_socket_directories = '{server.socket_dir}'\n{more}"
            )
        _start_on_a_free_port(server)
    except BaseException:
        server.stop()
        raise
    return server


def _start_on_a_free_port(server: PrivatePostgres) -> None:
    for _attempt in range(3):
        server.port = free_port()
        proc = _pg_ctl_start(server)
        if proc.returncode == 0:
            return
        log = server.log_tail()
        if "could not bind" not in log and "already in use" not in log:
            break
    raise RuntimeError(
        f"the private PostgreSQL {server.version} did not start: {proc.stderr.strip()}\n{log}"
    )


def _pg_ctl_start(server: PrivatePostgres) -> subprocess.CompletedProcess[str]:
    # Its own session: a Ctrl-C on the terminal goes to the tests, which then stop the
    # server in order, instead of straight to the postmaster.
    return subprocess.run(
        [
            str(server.bindir / "pg_ctl"),
            *("-D", str(server.pgdata), "-l", str(server.log), "-w"),
            *("-t", str(START_TIMEOUT_S), "-o", f"-p {server.port}", "start"),
        ],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=server.root,
        timeout=START_TIMEOUT_S + 10,
        start_new_session=True,
        **server._as_owner(),  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="a private PostgreSQL until Ctrl-C")
    parser.add_argument("--max-connections", type=int, default=300)
    args = parser.parse_args()
    server = start(max_connections=args.max_connections)
    print(server.url(), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
