"""Where a target's password comes from: the environment, a file or a command.

A password is never written into a message: errors name the variable, the file or the
command's first word. A file holding a password must be readable by its owner only (0600),
like ~/.pgpass: a world-readable secret is refused rather than used. A command runs without
a shell (a list, or a string split like a shell would) and with a time limit; its stderr is
not echoed, since a secret manager's CLI may print the secret or a token there.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

from dbtop.errors import UsageError

#: seconds a password_command may take (a secret manager asking a server)
COMMAND_TIMEOUT_S = 15.0


def require_private(path: Path, what: str) -> None:
    """UsageError unless ``path`` is readable by its owner only (no group/other bits)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise UsageError(f"{path} {what} but has mode {mode:04o}: run chmod 600 {path}")


def from_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    value = env.get(name)
    if not value:
        raise UsageError(f"password_env names {name}, which is not set")
    return value


def from_file(text: str, base: Path) -> str:
    path = (
        (base / Path(text).expanduser())
        if not Path(text).expanduser().is_absolute()
        else (Path(text).expanduser())
    )
    require_private(path, "holds a password")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the password file {path}: {exc}") from None
    password = content.splitlines()[0] if content else ""
    if not password:
        raise UsageError(f"the password file {path} is empty")
    return password


def from_command(command: str | list[str]) -> str:
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not argv:
        raise UsageError("password_command is empty")
    name = Path(argv[0]).name
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(f"password_command: {argv[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"password_command {name} gave no answer within {COMMAND_TIMEOUT_S:g} s"
        ) from None
    except OSError as exc:
        raise UsageError(f"password_command {name}: {exc.strerror}") from None
    if done.returncode != 0:
        # Its stderr stays unread: it may hold the secret, a token or a session key.
        raise UsageError(f"password_command {name} failed (exit status {done.returncode})")
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    if not lines or not lines[0]:
        raise UsageError(f"password_command {name} printed no password")
    return lines[0]
