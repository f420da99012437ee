"""Engines are found by URL scheme through the ``dbtop.engines`` entry-point group.

Only the adapter for the scheme in use is imported, so ``dbtop redis://…`` never loads
asyncpg, and a third-party package can add an engine by declaring an entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import cast
from urllib.parse import urlsplit

from dbtop.engines.base import ConnectOptions, Engine
from dbtop.errors import UsageError

GROUP = "dbtop.engines"
DEFAULT_SCHEME = "postgresql"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def known_schemes() -> list[str]:
    return sorted(_entry_points())


def scheme_of(url: str | None) -> str:
    """The URL's scheme, lower-cased; no URL means PostgreSQL from libpq's environment."""
    if not url:
        return DEFAULT_SCHEME
    if "://" not in url:
        raise UsageError(
            f"not a database URL: expected SCHEME://…, e.g. postgresql://user@host/db "
            f"(schemes: {', '.join(known_schemes())})"
        )
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise UsageError(f"malformed URL: {exc}") from None
    return scheme


# What an entry point of the group loads: an engine class, called with the URL and options.
EngineFactory = Callable[[str | None, ConnectOptions], Engine]


def engine_class(scheme: str) -> EngineFactory:
    eps = _entry_points()
    ep = eps.get(scheme)
    if ep is None:
        raise UsageError(
            f"unknown URL scheme {scheme!r}: dbtop knows {', '.join(sorted(eps)) or 'none'}"
        )
    return cast(EngineFactory, ep.load())


def create_engine(url: str | None, options: ConnectOptions | None = None) -> Engine:
    """Build (not yet connect) the engine for ``url``; raises UsageError for bad URLs."""
    cls = engine_class(scheme_of(url))
    return cls(url, options or ConnectOptions())
