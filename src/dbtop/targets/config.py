"""The config file: named targets and groups.

``$DBTOP_CONFIG``, else ``user_config_dir("dbtop")/config.toml`` (``~/.config/dbtop/`` on
Linux)::

    [targets.prod-db]
    url = "postgresql://monitor@db1.internal/app"
    read_only = true
    interval = 5                 # seconds between polls (the UI's --interval)
    statement_timeout = 1.5      # seconds (--statement-timeout)
    password_env = "PROD_DB_PASSWORD"      # or:
    # password_file = "~/.secrets/prod-db" # 0600, first line
    # password_command = ["pass", "show", "db/prod"]   # no shell; first line of stdout

    [groups]
    prod = ["prod-db", "prod-cache"]

A password written in the file itself (``password = …`` or in a URL) makes dbtop refuse the
file unless it is 0600.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from dbtop.errors import UsageError
from dbtop.targets.secrets import require_private
from dbtop.targets.urls import split_password

ENV_VAR = "DBTOP_CONFIG"
_TARGET_KEYS = frozenset(
    {
        "url",
        "read_only",
        "interval",
        "statement_timeout",
        "password",
        "password_env",
        "password_file",
        "password_command",
    }
)
_PASSWORD_SOURCES = ("password", "password_env", "password_file", "password_command")


@dataclass(frozen=True, slots=True)
class TargetEntry:
    name: str
    url: str
    read_only: bool | None = None
    interval_s: float | None = None
    statement_timeout_s: float | None = None
    #: which password source is set (at most one) and its value; never shown
    password_source: str | None = None
    password_value: str | list[str] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    targets: dict[str, TargetEntry] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)


def default_path() -> Path:
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(user_config_dir("dbtop")) / "config.toml"


def load(path: Path | None = None) -> Config:
    """The config at ``path`` (default: :func:`default_path`); empty when the default file
    does not exist; UsageError (one line) when it is wrong or holds a readable password."""
    explicit = path is not None or bool(os.environ.get(ENV_VAR))
    path = default_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise UsageError(f"no config file {path} (from ${ENV_VAR})") from None
        return Config()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"targets", "groups"}
    if unknown:
        raise UsageError(f"{path}: unknown table {sorted(unknown)[0]!r} (targets, groups)")
    targets = {
        name: _entry(path, name, body) for name, body in _table(path, data, "targets").items()
    }
    if any(t.password_source == "password" or split_password(t.url)[1] for t in targets.values()):
        require_private(path, "holds a password")
    groups: dict[str, list[str]] = {}
    for name, members in _table(path, data, "groups").items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise UsageError(f"{path}: group {name!r} must be a list of target names or URLs")
        if name in targets:
            raise UsageError(f"{path}: {name!r} is both a target and a group")
        groups[name] = list(members)
    return Config(path=path, targets=targets, groups=groups)


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise UsageError(f"{path}: [{key}] must be a table")
    return value


def _entry(path: Path, name: str, body: Any) -> TargetEntry:
    where = f"{path}: [targets.{name}]"
    if not isinstance(body, dict):
        raise UsageError(f"{where} must be a table")
    unknown = set(body) - _TARGET_KEYS
    if unknown:
        raise UsageError(
            f"{where}: unknown key {sorted(unknown)[0]!r} ({', '.join(sorted(_TARGET_KEYS))})"
        )
    url = body.get("url")
    if not isinstance(url, str) or "://" not in url:
        raise UsageError(f'{where} needs url = "SCHEME://…"')
    sources = [k for k in _PASSWORD_SOURCES if k in body]
    if len(sources) > 1:
        raise UsageError(f"{where}: give one of {', '.join(sources)}, not several")
    value = body[sources[0]] if sources else None
    if sources and sources[0] == "password_command":
        if not (isinstance(value, str) or (isinstance(value, list) and value)):
            raise UsageError(f"{where}: password_command must be a string or a list")
    elif sources and not isinstance(value, str):
        raise UsageError(f"{where}: {sources[0]} must be a string")
    read_only = body.get("read_only")
    if read_only is not None and not isinstance(read_only, bool):
        raise UsageError(f"{where}: read_only must be true or false")
    return TargetEntry(
        name=name,
        url=url,
        read_only=read_only,
        interval_s=_seconds(where, body, "interval", 0.1),
        statement_timeout_s=_seconds(where, body, "statement_timeout", 0.001),
        password_source=sources[0] if sources else None,
        password_value=value,
    )


def _seconds(where: str, body: dict[str, Any], key: str, low: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{where}: {key} must be a number of seconds")
    if not low <= value <= 3600:
        raise UsageError(f"{where}: {key} must be between {low:g} and 3600")
    return float(value)
