"""From the words of the command line to targets.

Each word is, in this order: a URL (``scheme://…``; a PostgreSQL URL's ``service=NAME`` is
expanded from the service file); ``service=NAME``; a group of the config file (its members
in order); a target of the config file; a service of PostgreSQL's service file. Anything
else is one line and exit status 2. The same target named twice is opened once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from dbtop.errors import UsageError
from dbtop.targets import config as config_file
from dbtop.targets import pg_service, secrets
from dbtop.targets.config import Config, TargetEntry
from dbtop.targets.model import Target
from dbtop.targets.urls import display_name, split_password


def resolve_targets(
    words: Sequence[str],
    config: Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Target]:
    env = os.environ if environ is None else environ
    loaded: list[Config] = [] if config is None else [config]

    def the_config() -> Config:
        if not loaded:
            loaded.append(config_file.load())
        return loaded[0]

    found: list[Target] = []
    for word in words:
        for target in _one(word, the_config, env):
            if all(t.name != target.name for t in found):
                found.append(target)
    return found


def needs_config(word: str) -> bool:
    return "://" not in word and not word.startswith("service=")


def _one(word: str, get: Callable[[], Config], env: Mapping[str, str]) -> list[Target]:
    """``get`` loads the config file only when a word needs a name from it."""
    if "://" in word:
        return [url_target(word, env)]
    if word.startswith("service="):
        return [_service(word.partition("=")[2], env)]
    config: Config = get()
    if word in config.groups:
        members: list[Target] = []
        for member in config.groups[word]:
            if "://" in member:
                members.append(url_target(member, env, origin=f"group {word}"))
            elif member in config.targets:
                members.append(entry_target(config.targets[member], config.path, env))
            else:
                raise UsageError(
                    f"group {word!r} names {member!r}, which is no target in {config.path}"
                )
        return members
    if word in config.targets:
        return [entry_target(config.targets[word], config.path, env)]
    if pg_service.is_service(word, env):
        return [_service(word, env)]
    where = str(config.path) if config.path else str(config_file.default_path())
    raise UsageError(
        f"{word!r} is not a URL, a target or group in {where}, nor a service in "
        f"{pg_service.service_files(env)[0]}"
    )


def url_target(url: str, env: Mapping[str, str], *, origin: str = "url") -> Target:
    if url.lower().startswith(("postgresql:", "postgres:")):
        url = pg_service.expand(url, env)
    bare, password = split_password(url)
    return Target(name=display_name(bare), url=bare, password=password, origin=origin)


def _service(name: str, env: Mapping[str, str]) -> Target:
    bare, password = split_password(pg_service.service_url(name, env))
    return Target(name=name, url=bare, password=password, origin="service")


def entry_target(entry: TargetEntry, path: Path | None, env: Mapping[str, str]) -> Target:
    url = entry.url
    if url.lower().startswith(("postgresql:", "postgres:")):
        url = pg_service.expand(url, env)
    bare, password = split_password(url)
    base = path.parent if path is not None else Path.cwd()
    value = entry.password_value
    if entry.password_source == "password" and isinstance(value, str):
        password = value
    elif entry.password_source == "password_env" and isinstance(value, str):
        password = secrets.from_env(value, env)
    elif entry.password_source == "password_file" and isinstance(value, str):
        password = secrets.from_file(value, base)
    elif entry.password_source == "password_command" and value is not None:
        password = secrets.from_command(value)
    return Target(
        name=entry.name,
        url=bare,
        password=password,
        read_only=entry.read_only,
        interval_s=entry.interval_s,
        statement_timeout_s=entry.statement_timeout_s,
        origin="config",
    )
