"""How dbtop connects to Redis: where (the URL, ``Target``), and one monitor connection to
one node (``Link``): raw replies, no retries, a time limit on each; driver errors become
dbtop's one-line errors (``translate``).

Where to connect: ``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs, as redis-cli does.
The password comes from the URL or, like redis-cli, from ``REDISCLI_AUTH``; it is kept out of
``address`` and every message. The same settings (user, password, TLS options) serve every
node of a cluster, only host and port change.

dbtop holds exactly one connection per node and speaks to it through the driver's bare
``Connection``: no pool (so no surprise second connection), no reply callbacks (every reply
is the raw RESP2 value, parsed by our own pure modules), no retry (a monitor command that
timed out is not sent again to a struggling server). Redis has no server-side time limit
for a command, so the socket timeout stands in for one: a reply that does not come in time
drops the connection, and the next call opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,
    InvalidResponse,
    NoPermissionError,
    RedisError,
    ResponseError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from dbtop import __version__
from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis.owntraffic import OwnLedger
from dbtop.errors import (
    AuthError,
    ConnectError,
    DbtopError,
    PrivilegeError,
    QueryError,
    UsageError,
)

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
    _check_parts(scheme, parts.path, parts.query, port)
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


#: URL parameters redis-py honours the way redis-cli's options do; TLS ones need rediss://
_URL_PARAMETERS = frozenset({"db", "password", "username"})
_TLS_PARAMETERS = frozenset(
    {
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_path",
        "ssl_ca_data",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_password",
        "ssl_check_hostname",
        "ssl_min_version",
        "ssl_ciphers",
    }
)
#: parameters dbtop sets itself (one connection, no retry, its own time limits and name)
_DBTOP_SETS = {
    "socket_timeout": "--statement-timeout",
    "timeout": "--statement-timeout",
    "socket_connect_timeout": "--connect-timeout",
}


def _check_parts(scheme: str, path: str, query: str, port: int | None) -> None:
    """Refuse what redis-py would silently ignore: a database that is not a number (it
    falls back to 0), more path after it, port 0, and parameters dbtop does not pass on."""
    if scheme != "unix":
        if port == 0:
            raise UsageError("port 0 in a Redis URL: give the server's port (default 6379)")
        db_text = unquote(path)[1:] if path.startswith("/") else unquote(path)
        if "/" in db_text:
            raise UsageError(f"a Redis URL has one database number after the host, not {db_text!r}")
        if db_text and not db_text.isdigit():
            raise UsageError(f"the database in a Redis URL is a number, not {db_text!r}")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise UsageError(f"malformed query in the Redis URL: {query!r}") from None
    for key, _ in pairs:
        if key in _URL_PARAMETERS:
            continue
        if key in _TLS_PARAMETERS:
            if scheme != "rediss":
                raise UsageError(f"?{key}= is a TLS setting: use a rediss:// URL")
            continue
        if key in _DBTOP_SETS:
            raise UsageError(
                f"?{key}= in the Redis URL: dbtop sets its own time limits, use {_DBTOP_SETS[key]}"
            )
        raise UsageError(
            f"unknown Redis URL parameter ?{key}=: dbtop understands "
            + ", ".join(sorted(_URL_PARAMETERS | _TLS_PARAMETERS))
        )


#: The commands dbtop needs, for an ACL user that may not have +@admin (docs/engines/redis.md).
ACL_HINT = (
    "ACL SETUSER <user> +info +client|list +client|id +client|setname "
    "+slowlog|get +config|get +latency|latest +command|docs +command|info +command|getkeys "
    "+cluster|nodes +scan +type +pttl +memory|usage +object|encoding +select +hello"
)

Command = Sequence[Any]

# dbtop names its library itself (see _handshake); redis-py 7+ takes ``driver_info=None`` for
# "send no CLIENT SETINFO", older versions ``lib_name=None, lib_version=None``.
_NO_LIBRARY_INFO: dict[str, Any] = (
    {"driver_info": None}
    if "driver_info" in inspect.signature(AbstractConnection.__init__).parameters
    else {"lib_name": None, "lib_version": None}
)


class CommandError(QueryError):
    """The server answered a command with an error reply (kept in ``reply``)."""

    def __init__(self, where: str, reply: ResponseError) -> None:
        super().__init__(f"{where}: {reply}")
        self.reply = reply


def busy(exc: object) -> bool:
    """The server is running a script or function past busy-reply-threshold."""
    if isinstance(exc, CommandError):
        exc = exc.reply
    return isinstance(exc, ResponseError) and str(exc).startswith("BUSY")


def translate(exc: BaseException, where: str, timeout_s: float) -> DbtopError:
    """The driver's exception as one clear line naming the server, never the password."""
    text = " ".join(str(exc).split())
    if isinstance(exc, DbtopError):
        return exc
    if isinstance(exc, AuthenticationError):
        lowered = text.lower()
        code = str(getattr(exc, "status_code", "") or "")
        if code == "NOAUTH" or "authentication required" in lowered or "noauth" in lowered:
            return AuthError(
                f"{where} requires a password: give it in the URL "
                "(redis://[user]:PASSWORD@host) or in REDISCLI_AUTH"
            )
        if "without any password configured" in lowered:
            return AuthError(
                f"{where} has no password set for this user, but one was given: "
                "remove it from the URL and REDISCLI_AUTH"
            )
        return AuthError(f"{where} refused the user name or password ({text})")
    if isinstance(exc, NoPermissionError):
        return PrivilegeError(f"{where}: {text}; grant what dbtop needs: {ACL_HINT}")
    if isinstance(exc, BusyLoadingError):
        return ConnectError(f"{where} is loading its data set into memory: try again shortly")
    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return ConnectError(f"{where} did not answer within {timeout_s:g}s")
    if isinstance(exc, InvalidResponse):
        return ConnectError(f"{where} does not speak the Redis protocol ({text})")
    if isinstance(exc, ConnectionError):
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return ConnectError(
                f"{where}: the server's TLS certificate is not trusted ({text}); give its CA "
                "with ?ssl_ca_certs=PATH in the URL (or ?ssl_cert_reqs=none to skip the check)"
            )
        if "closed by server" in text.lower():
            return ConnectError(f"{where} closed the connection: is it a Redis server? ({text})")
        return ConnectError(f"cannot reach {where}: {text}")
    if isinstance(exc, ResponseError):
        return QueryError(f"{where}: {text}")
    if isinstance(exc, RedisError | OSError):
        return ConnectError(f"cannot talk to {where}: {text or type(exc).__name__}")
    return ConnectError(f"{where}: {type(exc).__name__}: {text}")


def _no_such_database(exc: ResponseError) -> bool:
    text = str(exc).lower()
    return "out of range" in text or "invalid db index" in text


class Link:
    """One connection to one node; calls are serialized, replies are raw.

    Every command sent is counted per commandstats name (``own_calls``) so that the figures
    dbtop shows can leave its own traffic out (docs/engines/redis.md, "Own traffic")."""

    def __init__(self, target: Target, options: ConnectOptions) -> None:
        self.target = target
        self.node = target.node
        self.timeout_s = options.statement_timeout_ms / 1000
        self.client_id: int | None = None
        self.client_name = options.application_name
        kwargs = dict(target.kwargs)
        # The handshake is ours (see _handshake): the driver only authenticates, so that a
        # connection can be opened while a busy script refuses CLIENT SETNAME and SELECT.
        kwargs.update(
            db=0,
            socket_timeout=self.timeout_s,
            socket_connect_timeout=options.connect_timeout_s,
            client_name=None,
            **_NO_LIBRARY_INFO,
            retry=None,
            retry_on_error=[],
            decode_responses=False,
            protocol=2,
        )
        try:
            self._conn: AbstractConnection = target.connection_class(**kwargs)
        except TypeError as exc:
            raise UsageError(f"unsupported option in the Redis URL: {exc}") from None
        self._lock = asyncio.Lock()
        #: every command this link sent, counted to leave dbtop's own traffic out of the
        #: server's figures (owntraffic.py)
        self.ledger = OwnLedger()

    def _count(self, args: Sequence[Any]) -> None:
        self.ledger.count(args)

    @property
    def where(self) -> str:
        return self.target.address

    def error(self, exc: BaseException) -> DbtopError:
        return translate(exc, self.where, self.timeout_s)

    async def open(self) -> None:
        """Connect (if not connected) and learn our own client id; DbtopError on failure."""
        async with self._lock:
            await self._ensure()

    async def _ensure(self) -> None:
        if self._conn.is_connected and self.client_id is not None:
            return
        try:
            await self._conn.connect()
            self.client_id = await self._handshake()
        except DbtopError:
            raise
        except (RedisError, OSError, TimeoutError) as exc:
            await self._drop()
            raise self.error(exc) from None

    async def _handshake(self) -> int:
        """Name the connection and learn its id with HELLO, which even a busy server answers;
        Redis before 6.0 has no HELLO and gets CLIENT SETNAME and CLIENT ID."""
        conn = self._conn
        try:
            self._count(("HELLO",))
            await conn.send_command("HELLO", 2, "SETNAME", self.client_name, check_health=False)
            hello = await conn.read_response()
            fields = dict(zip(hello[0::2], hello[1::2], strict=False))
            client_id = int(fields[b"id"])
        except ResponseError as exc:
            refused = isinstance(exc, NoPermissionError) or "unknown command" in str(exc).lower()
            if busy(exc) or not refused:
                raise
            self._count(("CLIENT", "SETNAME"))
            await conn.send_command("CLIENT", "SETNAME", self.client_name, check_health=False)
            await conn.read_response()
            self._count(("CLIENT", "ID"))
            await conn.send_command("CLIENT", "ID", check_health=False)
            client_id = int(await conn.read_response())
        # The library name shows in CLIENT LIST on Redis 7.2+; older servers refuse it. The
        # URL's database is selected for the looks of CLIENT LIST only: every key command
        # dbtop sends selects its database itself, and a busy server refuses SELECT.
        tail: list[tuple[Any, ...]] = [
            ("CLIENT", "SETINFO", "LIB-NAME", "dbtop"),
            ("CLIENT", "SETINFO", "LIB-VER", __version__),
        ]
        if self.target.db:
            tail.append(("SELECT", self.target.db))
        for command in tail:
            self._count(command)
        await conn.send_packed_command(conn.pack_commands(tail), check_health=False)
        refused_db: ResponseError | None = None
        for command in tail:
            try:
                await conn.read_response()
            except ResponseError as exc:
                if command[0] == "SELECT" and _no_such_database(exc):
                    refused_db = exc
        if refused_db is not None:
            # An empty keyspace with no notice would read as "this database is empty".
            await self._drop()
            raise UsageError(
                f"{self.where}: the server has no database {self.target.db} ({refused_db}); "
                "see CONFIG GET databases"
            )
        return client_id

    async def _drop(self) -> None:
        self.client_id = None
        with contextlib.suppress(RedisError, OSError):
            await self._conn.disconnect(nowait=True)

    async def call(self, *args: Any) -> Any:
        """One command. An error reply raises CommandError (PrivilegeError for NOPERM); a
        failed link any other DbtopError."""
        async with self._lock:
            await self._ensure()
            try:
                self._count(args)
                await self._conn.send_command(*args, check_health=False)
                return await self._conn.read_response()
            except NoPermissionError as exc:
                raise self.error(exc) from None
            except ResponseError as exc:
                raise CommandError(self.where, exc) from None
            except (RedisError, OSError, TimeoutError) as exc:
                await self._drop()
                raise self.error(exc) from None
            except asyncio.CancelledError:
                # A reply may be half read: the connection cannot be trusted any more.
                await self._drop()
                raise

    async def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """Several commands in one round trip; an error reply is returned in its place."""
        if not commands:
            return []
        async with self._lock:
            await self._ensure()
            replies: list[Any] = []
            try:
                packed = self._conn.pack_commands([tuple(c) for c in commands])
                for command in commands:
                    self._count(command)
                await self._conn.send_packed_command(packed, check_health=False)
                for _ in commands:
                    try:
                        replies.append(await self._conn.read_response())
                    except ResponseError as exc:
                        replies.append(exc)
            except (RedisError, OSError, TimeoutError) as exc:
                await self._drop()
                raise self.error(exc) from None
            except asyncio.CancelledError:
                await self._drop()
                raise
            return replies

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
