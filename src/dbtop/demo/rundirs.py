"""The demo's directories: the cache home, one run directory per run with the owner that
made it, and the sweep of runs whose owner died without cleaning up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from dbtop.demo.install import Account, DemoError, reachable_by_others

#: run directories younger than this are never swept, even without an owner file yet
SWEEP_GRACE_S = 60.0


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
    if account.switch and not reachable_by_others(home):
        raise DemoError(
            f"as root, the demo runs PostgreSQL as the user {account.name}, which cannot "
            f"reach {home}: choose a --cache-dir that every user can traverse"
        )
    return home


@contextmanager
def home_lock(home: Path) -> Iterator[None]:
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


def process_start(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def new_work_dir(home: Path, prefix: str, account: Account) -> Path:
    """A fresh run/build directory that records its owner, for the sweep of a later run."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=home))
    owner = {"pid": os.getpid(), "started": process_start(os.getpid())}
    (path / OWNER_FILE).write_text(json.dumps(owner))
    path.chmod(0o700)
    account.own(path)
    return path


def owner_alive(work_dir: Path) -> bool:
    try:
        owner = json.loads((work_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        try:
            return time.time() - work_dir.stat().st_mtime < SWEEP_GRACE_S
        except OSError:
            return False
    started = process_start(int(owner.get("pid", 0)))
    recorded = owner.get("started")
    if started is None:
        return False
    # A reused pid belongs to a process started later than the one that made the directory.
    return recorded is None or abs(started - float(recorded)) < 1.0


def postmaster_of(pgdata: Path) -> int | None:
    """The pid of a postmaster still serving ``pgdata``, checked against its command line."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    return pid if str(pgdata) in cmdline else None


def kill_postmaster(pid: int, timeout: float) -> None:
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
        if owner_alive(work_dir):
            continue
        pid = postmaster_of(work_dir / "pgdata")
        if pid is not None:
            kill_postmaster(pid, 5.0)
        with suppress(OSError, ValueError, KeyError, TypeError):
            socket_dir = json.loads((work_dir / OWNER_FILE).read_text())["socket_dir"]
            if Path(socket_dir).name.startswith("dbtop-demo-"):
                shutil.rmtree(socket_dir, ignore_errors=True)
        shutil.rmtree(work_dir, ignore_errors=True)
        removed.append(work_dir)
    return removed
