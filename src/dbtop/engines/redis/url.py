"""Where to connect: ``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs, as redis-cli does.

The password comes from the URL or, like redis-cli, from ``REDISCLI_AUTH``; it is kept out of
``address`` and every message. The same settings (user, password, TLS options) serve every
node of a cluster, only host and port change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

from redis.asyncio.connection import Connection, parse_url

from dbtop.errors import UsageError

SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PORT = 6379


@dataclass(frozen=True, slots=True)
class Target:
    """One Redis server to connect to, with the driver's connection settings."""

    scheme: str
    host: str | None
    port: int | None
    path: str | None
    db: int
    username: str | None
    #: the driver's connection class and keyword arguments (TLS options, password …)
    connection_class: type
    kwargs: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def node(self) -> str:
        """host:port (or the socket path): how a cluster node is named on every row."""
        if self.path is not None:
            return self.path
        host = self.host or "localhost"
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"{host}:{self.port}"

    @property
    def address(self) -> str:
        """For display: ``user@host:port/db``, never the password."""
        user = f"{self.username}@" if self.username and self.username != "default" else ""
        if self.path is not None:
            return f"{user}unix:{self.path}?db={self.db}"
        tls = " (TLS)" if self.scheme == "rediss" else ""
        return f"{user}{self.node}/{self.db}{tls}"

    def at(self, host: str, port: int) -> Target:
        """The same settings pointed at another node of the cluster (always database 0)."""
        kwargs = {k: v for k, v in self.kwargs.items() if k != "path"}
        kwargs.update(host=host, port=port, db=0)
        connection_class = self.connection_class
        if self.path is not None:
            # Cluster nodes announce TCP addresses even when we reached one by its socket.
            connection_class = Connection
        return replace(
            self,
            scheme="redis" if self.scheme == "unix" else self.scheme,
            host=host,
            port=port,
            path=None,
            db=0,
            connection_class=connection_class,
            kwargs=kwargs,
        )


def parse_target(url: str, environ: dict[str, str] | None = None) -> Target:
    """The Target for ``url``; UsageError with one line for anything malformed."""
    env = os.environ if environ is None else environ
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"malformed Redis URL: {exc}") from None
    if scheme not in SCHEMES:
        raise UsageError(f"not a Redis URL: expected one of {', '.join(SCHEMES)}://…")
    try:
        kwargs: dict[str, Any] = dict(parse_url(url))
    except ValueError as exc:
        raise UsageError(f"malformed Redis URL: {exc}") from None
    connection_class = kwargs.pop("connection_class", Connection)
    if not kwargs.get("password") and env.get("REDISCLI_AUTH"):
        kwargs["password"] = env["REDISCLI_AUTH"]
    db = kwargs.get("db", 0)
    try:
        db = int(db)
    except (TypeError, ValueError):
        raise UsageError(f"the database in a Redis URL is a number, not {db!r}") from None
    if db < 0:
        raise UsageError(f"the database in a Redis URL is a number from 0, not {db}")
    kwargs["db"] = db
    if scheme == "unix":
        path = kwargs.get("path") or unquote(parts.path or "")
        if not path:
            raise UsageError("a unix:// URL needs the socket path: unix:///run/redis.sock?db=0")
        kwargs["path"] = path
        return Target(
            scheme=scheme,
            host=None,
            port=None,
            path=path,
            db=db,
            username=kwargs.get("username"),
            connection_class=connection_class,
            kwargs=kwargs,
        )
    kwargs.setdefault("host", "localhost")
    kwargs["port"] = port or DEFAULT_PORT
    return Target(
        scheme=scheme,
        host=kwargs["host"],
        port=kwargs["port"],
        path=None,
        db=db,
        username=kwargs.get("username"),
        connection_class=connection_class,
        kwargs=kwargs,
    )
