"""Opening the monitor's connections: URL or libpq environment, safety settings, and every
driver failure turned into one clear line.

The URL goes to asyncpg as it is, so everything libpq users expect keeps working: a URL
without parts takes PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ~/.pgpass and the local
Unix socket, like psql; ``?host=/run/postgresql`` and ``sslmode=`` are understood.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg

from dbtop.engines.base import ConnectOptions
from dbtop.errors import (
    AuthError,
    ConnectError,
    DbtopError,
    NotFoundError,
    PrivilegeError,
    QueryError,
    UsageError,
)

SCHEMES = ("postgresql", "postgres")


class StalledError(TimeoutError):
    """A round trip ran past the client-side deadline; the connection was terminated."""


class DeadlineConnection(asyncpg.Connection):
    """An asyncpg connection whose every round trip ends at the client-side deadline.

    ``command_timeout`` bounds each call; on a timeout asyncpg leaves a cancel request in
    flight and the protocol mid-message, and a graceful close would wait on the same silent
    server. So the connection is terminated at once, and every later call on it (the
    ROLLBACK of a ``finally``) fails at once with the same ``StalledError`` instead of
    waiting out another deadline.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stalled_s: float | None = None

    async def _bounded(self, call: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.stalled_s is not None:
            raise StalledError(self.stalled_s)
        try:
            return await call(*args, **kwargs)
        except TimeoutError:
            self.stalled_s = float(kwargs.get("timeout") or self._config.command_timeout or 0)
            self.terminate()
            raise StalledError(self.stalled_s) from None

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().execute, args, kwargs)

    async def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().executemany, args, kwargs)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().fetch, args, kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().fetchrow, args, kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().fetchval, args, kwargs)

    async def prepare(self, *args: Any, **kwargs: Any) -> Any:
        return await self._bounded(super().prepare, args, kwargs)


async def close_connection(conn: asyncpg.Connection) -> None:
    """Close gracefully when the server answers, terminate when it does not."""
    if conn.is_closed():
        return
    try:
        await conn.close(timeout=2)
    except Exception:
        conn.terminate()


def monitor_settings(options: ConnectOptions) -> dict[str, str]:
    """Session settings sent in the startup packet, so they hold from the first query.

    The monitor is read-only whatever the user's mode (its own queries never write; kill is
    a function call, allowed in a read-only transaction), never waits long on a lock, and
    gives up server-side before the UI would notice a stall. JIT is off: compiling a
    catalog query would cost more than running it.
    """
    return {
        "application_name": options.application_name,
        "statement_timeout": str(options.statement_timeout_ms),
        "lock_timeout": str(options.lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(max(options.statement_timeout_ms * 5, 10000)),
        "jit": "off",
        "default_transaction_read_only": "on",
    }


#: libpq's URL parameters that asyncpg honours as libpq does (connect_timeout is dbtop's)
URL_PARAMETERS = frozenset(
    {
        "host",
        "port",
        "dbname",
        "database",
        "user",
        "password",
        "passfile",
        "options",
        "service",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslcrl",
        "sslpassword",
        "sslnegotiation",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "connect_timeout",
    }
)
#: libpq parameters refused, with why: asyncpg would send them to the server as settings
_REFUSED = {
    "application_name": "dbtop names its connections itself, to tell them from the rest",
    "fallback_application_name": "dbtop names its connections itself",
}


def validate_url(url: str | None) -> None:
    """Reject what asyncpg would misreport (or crash on) before any network traffic: like
    libpq, an unknown parameter is an error (asyncpg would pass it to the server as a
    setting), and so is a port that is not 1-65535."""
    prepare_url(url)


def prepare_url(url: str | None) -> tuple[str | None, float | None]:
    """The URL to give asyncpg, and libpq's ``connect_timeout`` (seconds) if it has one.

    As in libpq, ``?host=`` and ``?port=`` override the host and port before the path
    (asyncpg would let the earlier ones win), so the query moves them all into the query.
    """
    if not url:
        return url, None
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise UsageError(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise UsageError(f"not a PostgreSQL URL: {parts.scheme}://")
    userinfo, at, hostspec = parts.netloc.rpartition("@")
    hosts, ports = _hostlist(unquote(hostspec))
    values: dict[str, str] = {}
    for key, value in query:
        if key in _REFUSED:
            raise UsageError(f"?{key}= is not taken: {_REFUSED[key]}")
        if key not in URL_PARAMETERS:
            raise UsageError(f"invalid URL query parameter ?{key}= (libpq refuses it too)")
        values[key] = value  # the last one wins, as in libpq and asyncpg
    for port in [*ports, *values.get("port", "").split(",")]:
        if port:
            _check_port(port)
    timeout = _connect_timeout(values.pop("connect_timeout", None))
    if (values.get("host") or values.get("port")) and hostspec:
        values.setdefault("host", ",".join(f"[{h}]" if ":" in h else h for h in hosts))
        if any(ports):
            values.setdefault("port", ",".join(p or "5432" for p in ports))
        hostspec = ""
    netloc = f"{userinfo}{at}{hostspec}" if userinfo or hostspec else ""
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(list(values.items())))), timeout


def _hostlist(hostspec: str) -> tuple[list[str], list[str]]:
    """``h1:5432,[::1]:5433,h3`` -> hosts and ports ('' where none is given)."""
    hosts: list[str] = []
    ports: list[str] = []
    for spec in hostspec.split(",") if hostspec else []:
        if spec.startswith("["):
            host, _, rest = spec[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif spec.startswith("/"):
            host, port = spec, ""
        else:
            host, _, port = spec.partition(":")
        hosts.append(host)
        ports.append(port)
    return hosts, ports


def _check_port(text: str) -> None:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"not a port number in the PostgreSQL URL: {text!r} (1 to 65535)")


def _connect_timeout(text: str | None) -> float | None:
    """libpq's rule: whole seconds, 1 counts as 2; dbtop refuses 0 and below (libpq's "wait
    forever"), since a monitor that waits forever is what must never happen."""
    if text is None:
        return None
    try:
        seconds = int(text.strip())
    except ValueError:
        raise UsageError(f"?connect_timeout= takes whole seconds, not {text!r}") from None
    if seconds <= 0:
        raise UsageError(
            f"?connect_timeout={text}: dbtop never waits without a limit; give seconds, e.g. 10"
        )
    return float(max(seconds, 2))


def describe(url: str | None, *, database: str | None = None) -> str:
    """``user@host:port/db`` for display, from the URL or libpq's environment; no password."""
    parts = urlsplit(url) if url else None
    query = parse_qs(parts.query) if parts else {}
    host = (
        (parts.hostname if parts else None) or _first(query.get("host")) or os.environ.get("PGHOST")
    )
    port: int | str | None = None
    if parts is not None:
        try:
            port = parts.port
        except ValueError:
            port = None
    port = port or _first(query.get("port")) or os.environ.get("PGPORT")
    user = (
        (unquote(parts.username) if parts and parts.username else None)
        or _first(query.get("user"))
        or os.environ.get("PGUSER")
    )
    path_db = unquote(parts.path.lstrip("/")) if parts and parts.path.strip("/") else None
    db = database or path_db or _first(query.get("dbname")) or os.environ.get("PGDATABASE")
    where = host or "local socket"
    if port:
        where = f"{where}:{port}"
    text = f"{user}@{where}" if user else where
    return f"{text}/{db}" if db else text


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


async def open_connection(
    url: str | None,
    options: ConnectOptions,
    *,
    database: str | None = None,
) -> asyncpg.Connection:
    """A new connection with the monitor's settings, or a DbtopError that says why not."""
    url, url_timeout = prepare_url(url)
    if url_timeout is not None:
        options = replace(options, connect_timeout_s=url_timeout)
    where = describe(url, database=database)
    kwargs: dict[str, Any] = {
        "timeout": options.connect_timeout_s,
        "server_settings": monitor_settings(options),
        # The monitor's queries are few and fixed; caching them as prepared statements is
        # what makes a poll cheap.
        "statement_cache_size": 100,
        # The client-side deadline of every round trip (fetch, execute, transaction
        # statements): the statement timeout is the server's, and a server that stops
        # answering never sends it. A call with a longer server-side limit (ANALYZE) passes
        # its own ``timeout=``.
        "command_timeout": options.deadline_s,
        "connection_class": DeadlineConnection,
    }
    if database:
        kwargs["database"] = database
    try:
        # The whole connect (DNS, TCP, TLS, auth) is bounded: a black-holed host must not
        # hang the UI past the timeout.
        return await asyncio.wait_for(
            asyncpg.connect(url or None, **kwargs), options.connect_timeout_s + 1
        )
    except DbtopError:
        raise
    except Exception as exc:
        raise connect_error(exc, where) from None


def connect_error(exc: BaseException, where: str) -> DbtopError:
    """The one line a user sees for a failed connect."""
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return AuthError(f"password authentication failed for {where}")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return AuthError(f"{where}: {exc}")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return NotFoundError(f"{where}: {exc}")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return PrivilegeError(f"{where}: {exc}")
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return ConnectError(
            f"{where}: {exc} (the server is full: try again, or use a reserved slot)"
        )
    if isinstance(exc, asyncpg.PostgresError):
        return ConnectError(f"{where}: {exc}")
    if isinstance(exc, socket.gaierror):
        return ConnectError(f"cannot resolve host of {where}: {exc.strerror or exc}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ConnectError(f"timed out connecting to {where}")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(f"connection refused by {where} (is the server running?)")
    if isinstance(exc, ssl.SSLError):
        return ConnectError(f"TLS failed with {where}: {exc.reason or exc}")
    if isinstance(exc, OSError):
        return ConnectError(f"cannot connect to {where}: {exc.strerror or exc}")
    if isinstance(exc, asyncpg.exceptions.ClientConfigurationError | ValueError):
        return UsageError(f"bad connection settings for {where}: {exc}")
    if isinstance(exc, asyncpg.InterfaceError | ConnectionError):
        return ConnectError(f"{where}: {exc}")
    return ConnectError(f"cannot connect to {where}: {type(exc).__name__}: {exc}")


def query_error(exc: BaseException, what: str) -> DbtopError:
    """The one line for a statement the server refused (or a connection that went away)."""
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return PrivilegeError(f"{what}: {exc}")
    if isinstance(exc, asyncpg.PostgresSyntaxError):
        return QueryError(f"{what}: syntax error: {exc}")
    if isinstance(exc, asyncpg.QueryCanceledError):
        return QueryError(f"{what}: cancelled by the statement timeout ({exc})")
    if isinstance(exc, asyncpg.PostgresError):
        return QueryError(f"{what}: {exc}")
    if isinstance(exc, UnicodeDecodeError):
        return QueryError(f"{what}: the server sent text that is not UTF-8")
    return ConnectError(f"{what}: lost the connection ({type(exc).__name__}: {exc})")


def is_stalled(exc: BaseException) -> bool:
    """The client-side deadline ran out: the server holds the connection and says nothing.

    asyncpg then has a cancel request in flight and the protocol mid-message: the connection
    is terminated (a graceful close would wait on the same silent server) and reopened."""
    return stalled_cause(exc) is not None


def stalled_cause(exc: BaseException) -> BaseException | None:
    """The timeout behind ``exc``: a ``finally`` that ran on the terminated connection (a
    transaction's rollback: "connection is closed") hides it as its context."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, TimeoutError):
            return seen
        seen = seen.__context__
    return None


def stalled_error(where: str, exc: BaseException, what: str | None = None) -> ConnectError:
    exc = stalled_cause(exc) or exc
    deadline = exc.args[0] if exc.args and isinstance(exc.args[0], float) else None
    within = f" within {deadline:g}s" if deadline else " in time"
    during = f" ({what})" if what else ""
    return ConnectError(
        f"{where}: the server did not answer{within}{during}; the connection is dropped"
    )


def is_connection_lost(exc: BaseException) -> bool:
    return isinstance(
        exc,
        asyncpg.ConnectionDoesNotExistError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.CannotConnectNowError
        | ConnectionError
        | OSError,
    )
