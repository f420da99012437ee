"""The command line's targets: ``URL``, a config target or group, a PostgreSQL service,
several of them; what each connects with (its own read-only flag and statement timeout
over the command line's)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from dbtop.cli import options
from dbtop.cli.common import connect_options
from dbtop.cli.password import with_password
from dbtop.engines.base import ConnectOptions
from dbtop.targets import Target, resolve_targets
from dbtop.targets.urls import display_name


def add_targets_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url",
        nargs="*",
        metavar="URL|TARGET|GROUP",
        help="postgresql://user@host:port/db (and mysql://, mongodb://, redis:// where "
        "installed), a target or group of the config file (~/.config/dbtop/config.toml), "
        "a service of ~/.pg_service.conf, or several; without any, PostgreSQL from PGHOST, "
        "PGUSER, PGDATABASE … like psql",
    )


def targets_of(args: argparse.Namespace) -> list[Target]:
    words: list[str] = list(args.url or [])
    if not words:
        return [Target(name=display_name(None), url=None)]
    return resolve_targets(words)


def is_single_url(args: argparse.Namespace) -> bool:
    """One plain URL (or none): the command behaves exactly as before targets existed."""
    words = list(args.url or [])
    return len(words) == 0 or (len(words) == 1 and "://" in words[0] and "service=" not in words[0])


def connect_url(target: Target) -> str | None:
    """The URL with the password in it, in memory only, for the engine."""
    if target.url is None or target.password is None:
        return target.url
    return with_password(target.url, target.password)


def target_options(target: Target, args: argparse.Namespace) -> ConnectOptions:
    base = connect_options(args)
    changes: dict[str, object] = {}
    if target.read_only:  # the config can make a target read-only, never the reverse
        changes["read_only"] = True
    if target.statement_timeout_s is not None:
        changes["statement_timeout_ms"] = options.milliseconds(target.statement_timeout_s)
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]


def single(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` for one target, as the one-URL code path takes them: ``url`` a string."""
    if is_single_url(args):
        words = list(args.url or [])
        return argparse.Namespace(**{**vars(args), "url": words[0] if words else None})
    (target,) = targets_of(args)
    return for_target(target, args)


def for_target(target: Target, args: argparse.Namespace) -> argparse.Namespace:
    values = {**vars(args), "url": connect_url(target)}
    if target.read_only:
        values["read_only"] = True
    if target.statement_timeout_s is not None:
        values["statement_timeout"] = target.statement_timeout_s
    if target.interval_s is not None and "interval" in values:
        values["interval"] = target.interval_s
    return argparse.Namespace(**values)
