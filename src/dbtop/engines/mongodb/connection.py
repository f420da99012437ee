"""The monitor's client: options that keep it cheap, the address shown, errors in one line.

``mongodb://`` and ``mongodb+srv://`` URLs go to ``pymongo.AsyncMongoClient`` as they are, so
credentials, ``authSource``, TLS options and ``replicaSet`` work as pymongo takes them; dbtop
only adds its own options (application name, timeouts, a small pool) on top.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import warnings
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

from bson.codec_options import DatetimeConversion
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    ConnectionFailure,
    ExecutionTimeout,
    InvalidURI,
    NetworkTimeout,
    OperationFailure,
    ProtocolError,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mongodb.owntraffic import OwnCounts
from dbtop.engines.mongodb.owntraffic import listeners as own_listeners
from dbtop.errors import (
    AuthError,
    ConnectError,
    DbtopError,
    PrivilegeError,
    QueryError,
    UsageError,
)
from dbtop.safetext import redact

T = TypeVar("T")

#: connections the monitor may open at once (commands run concurrently within a poll)
POOL_SIZE = 4
#: concurrent commands within one poll (the client's pool is this size too)
CONCURRENCY = POOL_SIZE
#: explain with executionStats runs the query: it gets this long, not the monitor's limit
ANALYZE_TIMEOUT_MS = 30_000
#: the default port when a URL names none
DEFAULT_PORT = 27017

#: server error codes
AUTHENTICATION_FAILED = 18
UNAUTHORIZED = 13
MAX_TIME_MS_EXPIRED = 50
COMMAND_NOT_FOUND = 59
NAMESPACE_NOT_FOUND = 26
COMMAND_NOT_SUPPORTED_ON_VIEW = 166

MONITOR_ROLE_HINT = (
    "grant the clusterMonitor role (it covers $currentOp of all users, serverStatus, "
    "$indexStats, $collStats and reading system.profile)"
)

_TIMEOUTS_NOTE = re.compile(r"\s*\(configured timeouts:[^)]*\)")


class HeartbeatLog(monitoring.ServerHeartbeatListener):
    """The handshake failures per server: the driver keeps only the latest, and after a
    port answered with something that is not MongoDB the retry only sees a closed
    connection; the first, telling, error is the one to show."""

    def __init__(self) -> None:
        self.errors: dict[str, BaseException] = {}

    def started(self, event: monitoring.ServerHeartbeatStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.ServerHeartbeatSucceededEvent) -> None:
        self.errors.pop(_host(event.connection_id), None)

    def failed(self, event: monitoring.ServerHeartbeatFailedEvent) -> None:
        host = _host(event.connection_id)
        if isinstance(event.reply, ProtocolError) or host not in self.errors:
            self.errors[host] = event.reply


def _host(address: object) -> str:
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


@dataclass(frozen=True, slots=True)
class UrlParts:
    scheme: str
    user: str | None
    hosts: tuple[str, ...]
    database: str | None
    options: str


def split_url(url: str) -> UrlParts:
    """The parts of a MongoDB URL that dbtop shows; never the password.

    Parsed by hand: pymongo's own parser resolves ``mongodb+srv`` names through DNS, and
    ``urllib`` cannot take several hosts.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UsageError("not a MongoDB URL: expected mongodb://host[:port][/database]")
    scheme = scheme.lower()
    if scheme not in ("mongodb", "mongodb+srv"):
        raise UsageError(f"not a MongoDB URL scheme: {scheme!r} (mongodb or mongodb+srv)")
    authority, _, tail = rest.partition("/")
    if "?" in authority:  # mongodb://host?opts without a slash
        authority, _, query = authority.partition("?")
        tail = "?" + query
    user: str | None = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        user = unquote(userinfo.partition(":")[0]) or None
    hosts = tuple(unquote(h) for h in authority.split(",") if h)
    if not hosts:
        raise UsageError("the MongoDB URL names no host: mongodb://host[:port][/database]")
    path, _, options = tail.partition("?")
    database = unquote(path) or None
    return UrlParts(scheme, user, hosts, database, options)


def address_of(parts: UrlParts) -> str:
    hosts = ",".join(parts.hosts)
    text = f"{parts.user}@{hosts}" if parts.user else hosts
    if parts.database:
        text += f"/{parts.database}"
    if parts.scheme == "mongodb+srv":
        text += " (srv)"
    return text


def client_options(
    options: ConnectOptions, app_name: str, analyze_timeout_ms: int
) -> dict[str, Any]:
    """What dbtop sets on top of the URL's own options."""
    connect_ms = max(int(options.connect_timeout_s * 1000), 1)
    return {
        "appname": app_name,
        "serverSelectionTimeoutMS": connect_ms,
        # A little shorter than the selection timeout, so that a server that does not
        # answer is reported as such (its error is recorded before selection gives up).
        "connectTimeoutMS": max(int(connect_ms * 0.8), 1),
        # Every command carries maxTimeMS; the socket timeout is the backstop for a server
        # that stops answering, long enough for an explain that runs the query.
        "socketTimeoutMS": max(options.statement_timeout_ms, analyze_timeout_ms) + connect_ms,
        "maxPoolSize": POOL_SIZE,
        "minPoolSize": 0,
        "retryWrites": False,
        # Dates outside Python's range (year 0, year 20000) come back as DatetimeMS instead
        # of failing the whole reply; broken UTF-8 in a string is replaced, not fatal.
        "datetime_conversion": DatetimeConversion.DATETIME_AUTO,
        "unicode_decode_error_handler": "replace",
    }


def unknown_options(url: str) -> list[str]:
    """The query parameters of ``url`` pymongo has no option for (names only, never values)."""
    from pymongo import common

    known = {
        *common.URI_OPTIONS_VALIDATOR_MAP,
        *common.URI_OPTIONS_ALIAS_MAP,
        *common.URI_OPTIONS_DEPRECATION_MAP,
    }
    known = {k.lower() for k in known}
    query = url.partition("?")[2]
    names = [part.partition("=")[0] for part in query.replace(";", "&").split("&") if part]
    return [unquote(n) for n in names if unquote(n).lower() not in known]


def make_client(
    url: str,
    options: ConnectOptions,
    app_name: str,
    analyze_timeout_ms: int,
    heartbeats: HeartbeatLog | None = None,
    own: OwnCounts | None = None,
) -> Any:
    """The client (not yet connected); an invalid URL or option is a UsageError.

    pymongo only warns about an invalid option value and then ignores it: dbtop says so
    instead, since a silently ignored ``tls=ture`` or ``readPreference`` changes what the
    user gets.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            client = AsyncMongoClient(
                url,
                # pymongo takes a list here and refuses None
                event_listeners=[
                    *([heartbeats] if heartbeats is not None else []),
                    *(own_listeners(own) if own is not None else []),
                ],
                **client_options(options, app_name, analyze_timeout_ms),
            )
        except (ConfigurationError, InvalidURI, ValueError, TypeError, OSError) as exc:
            raise UsageError(f"bad MongoDB URL: {redact_message(str(exc))}") from None
    problems = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    unknown = unknown_options(url)
    if unknown and any(p.startswith("Unknown option") for p in problems):
        # pymongo does not name an option that came from the URL (and then ignores it).
        raise UsageError(f"unknown MongoDB URL option {', '.join(unknown)}")
    if problems:
        raise UsageError(f"bad MongoDB URL option: {redact_message(problems[0])}")
    return client


def redact_message(text: str) -> str:
    """Driver messages may quote the URL: hide any password in it."""
    return redact(text)


def _reason(error: BaseException | None, timeout_s: float) -> str:
    if error is None:
        return "no answer"
    text = _TIMEOUTS_NOTE.sub("", str(error)).strip()
    text = re.sub(r"^[^\s:]+:\d+:\s*", "", text)  # "host:port: " prefix
    lowered = text.lower()
    if isinstance(error, ProtocolError) or "message length" in lowered:
        return f"it is not a MongoDB server (it answered with something else: {text})"
    if "connection is already closed" in lowered or "connection closed" in lowered:
        return (
            "it closed the connection during the MongoDB handshake: not a MongoDB port, "
            "or the server requires TLS (add tls=true to the URL)"
        )
    if isinstance(error, NetworkTimeout) or "timed out" in lowered:
        return f"no answer to the MongoDB handshake within {timeout_s:g}s: is this a MongoDB port?"
    if "refused" in lowered or "connect call failed" in lowered:
        return "connection refused: is mongod or mongos running on this port?"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "the host name does not resolve"
    if "ssl" in lowered or "tls" in lowered or "certificate" in lowered:
        return f"TLS handshake failed: {text}"
    return text


def describe_selection_failure(
    client: Any, timeout_s: float, heartbeats: HeartbeatLog | None = None
) -> str:
    """Why no server could be selected, per server, from the driver's topology view."""
    try:
        topology = client.topology_description
        servers = topology.server_descriptions()
    except Exception:
        return "no server answered"
    reasons = []
    logged = heartbeats.errors if heartbeats is not None else {}
    for address, server in servers.items():
        host = _host(address)
        error = logged.get(host, server.error)
        if error is not None:
            reasons.append(f"{host}: {_reason(error, timeout_s)}")
    if reasons:
        return "; ".join(reasons)
    silent = [_host(a) for a, server in servers.items() if server.server_type_name == "Unknown"]
    if silent:
        return (
            f"{', '.join(silent)}: no answer to the MongoDB handshake within {timeout_s:g}s: "
            "is this a MongoDB port (or does a firewall drop the packets)?"
        )
    kind = getattr(topology, "topology_type_name", "")
    if kind == "ReplicaSetNoPrimary":
        return "the replica set has no primary (add readPreference=secondaryPreferred)"
    return f"no suitable server ({kind or 'unknown topology'})"


def translate(
    exc: BaseException,
    *,
    action: str,
    address: str,
    client: Any = None,
    timeout_s: float = 5.0,
    user: str | None = None,
    hint: str | None = None,
    heartbeats: HeartbeatLog | None = None,
) -> DbtopError:
    """A driver exception as one clear line (``action`` says what dbtop was doing)."""
    if isinstance(exc, DbtopError):
        return exc
    if isinstance(exc, ServerSelectionTimeoutError):
        why = (
            describe_selection_failure(client, timeout_s, heartbeats)
            if client is not None
            else str(exc)
        )
        return ConnectError(f"cannot reach MongoDB at {address}: {why}")
    if isinstance(exc, ExecutionTimeout):
        return QueryError(f"{action}: the server stopped it at its time limit (maxTimeMS)")
    if isinstance(exc, OperationFailure):
        code = exc.code
        message = redact_message(_errmsg(exc))
        if code == AUTHENTICATION_FAILED:
            who = f" for user {user!r}" if user else ""
            return AuthError(
                f"authentication failed{who} at {address}: check the user name, the password "
                "and authSource (the database the user was created in)"
            )
        if "requires authentication" in message.lower():
            return AuthError(
                f"MongoDB at {address} requires authentication: put the user in the URL "
                "(mongodb://USER:PASSWORD@host/?authSource=admin)"
            )
        if code == UNAUTHORIZED or "not authorized" in message.lower():
            return PrivilegeError(f"{action}: {message}; {hint or MONITOR_ROLE_HINT}")
        if code == MAX_TIME_MS_EXPIRED:
            return QueryError(f"{action}: the server stopped it at its time limit (maxTimeMS)")
        code_name = _details(exc).get("codeName")
        name = f" ({code_name})" if code_name else ""
        return QueryError(f"{action}: {message}{name}")
    if isinstance(exc, ProtocolError):
        return ConnectError(f"MongoDB at {address}: {_reason(exc, timeout_s)}")
    if isinstance(exc, AutoReconnect | ConnectionFailure):
        return ConnectError(
            f"lost the connection to MongoDB at {address} ({action}): {_reason(exc, timeout_s)}"
        )
    if isinstance(exc, ConfigurationError):
        text = redact_message(str(exc))
        if "dns" in text.lower():  # a mongodb+srv name that does not resolve
            return ConnectError(f"cannot reach MongoDB at {address}: {text}")
        return UsageError(f"MongoDB configuration: {text}")
    if isinstance(exc, PyMongoError):
        return QueryError(f"{action}: {redact_message(str(exc))}")
    if isinstance(exc, TimeoutError):
        return ConnectError(f"MongoDB at {address} gave no answer in time ({action})")
    raise exc


def _details(exc: OperationFailure) -> Mapping[str, Any]:
    details = exc.details
    return details if isinstance(details, Mapping) else {}


def _errmsg(exc: OperationFailure) -> str:
    message = _details(exc).get("errmsg")
    return str(message) if message else str(exc).split(", full error:")[0]


def is_code(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, OperationFailure) and exc.code in codes


def is_unauthorized(exc: BaseException) -> bool:
    return isinstance(exc, OperationFailure) and (
        exc.code == UNAUTHORIZED or "not authorized" in _errmsg(exc).lower()
    )


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, ServerSelectionTimeoutError | AutoReconnect | ConnectionFailure)


class Connection:
    """The monitor's client and the way every round trip goes through it: the server's
    maxTimeMS, a client-side deadline, at most ``CONCURRENCY`` at once, errors in one line."""

    def __init__(self, url: str, options: ConnectOptions, app_name: str) -> None:
        self.url = url
        self.options = options
        self.parts = split_url(url)
        self.address = address_of(self.parts)
        self.app_name = app_name
        self.client: Any = None
        self.heartbeats = HeartbeatLog()
        #: every command dbtop's client sends, to leave out of opcounters (owntraffic.py)
        self.own = OwnCounts()
        self.hello: Mapping[str, Any] = {}
        self.node: str | None = None
        self._semaphore = asyncio.Semaphore(CONCURRENCY)

    @property
    def is_mongos(self) -> bool:
        return self.hello.get("msg") == "isdbgrid"

    @property
    def topology(self) -> str:
        if self.is_mongos:
            return "sharded"
        if self.hello.get("setName"):
            return "replicaSet"
        return "standalone"

    @property
    def default_database(self) -> str | None:
        db = self.parts.database
        return db if db and db != "admin" else None

    async def open(self) -> None:
        if self.client is not None:
            return
        client = make_client(
            self.url, self.options, self.app_name, ANALYZE_TIMEOUT_MS, self.heartbeats, self.own
        )
        try:
            try:
                hello = await client.admin.command("hello")
            except PyMongoError as exc:
                if not is_code(exc, COMMAND_NOT_FOUND):
                    raise
                hello = await client.admin.command("isMaster")  # servers before 4.4.2
        except BaseException as exc:
            await client.close()
            if not isinstance(exc, Exception):  # cancelled, interrupted: not an error to word
                raise
            raise self.translate(exc, "connecting", client=client) from None
        self.client = client
        self.hello = hello
        self.node = hello.get("me") if isinstance(hello.get("me"), str) else None

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    def require(self) -> Any:
        if self.client is None:
            raise ConnectError(f"not connected to MongoDB at {self.address}")
        return self.client

    def translate(
        self, exc: BaseException, action: str, *, client: Any = None, hint: str | None = None
    ) -> DbtopError:
        return translate(
            exc,
            action=action,
            address=self.address,
            client=client if client is not None else self.client,
            timeout_s=self.options.connect_timeout_s,
            user=self.parts.user,
            hint=hint,
            heartbeats=self.heartbeats,
        )

    def _deadline_s(self) -> float:
        return self.options.statement_timeout_ms / 1000 + self.options.connect_timeout_s

    async def timed(self, awaitable: Awaitable[T], limit_s: float | None = None) -> T:
        """Client-side backstop to the server's maxTimeMS (a server that stops answering)."""
        try:
            async with self._semaphore:
                async with asyncio.timeout((limit_s or 0) + self._deadline_s()):
                    return await awaitable
        finally:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started when cancelled while queued: no warning

    async def command(self, database: str, command: dict[str, Any]) -> dict[str, Any]:
        command = {**command, "maxTimeMS": self.options.statement_timeout_ms}
        reply: dict[str, Any] = await self.timed(self.require()[database].command(command))
        return reply

    async def aggregate(
        self,
        database: str,
        collection: str | None,
        pipeline: list[dict[str, Any]],
        batch_size: int | None = None,
    ) -> list[dict[str, Any]]:
        client = self.require()
        target = client[database] if collection is None else client[database][collection]
        extra = {"batchSize": batch_size} if batch_size else {}

        async def run() -> list[dict[str, Any]]:
            cursor = await target.aggregate(
                pipeline, maxTimeMS=self.options.statement_timeout_ms, **extra
            )
            docs: list[dict[str, Any]] = await cursor.to_list(None)
            return docs

        return await self.timed(run())
