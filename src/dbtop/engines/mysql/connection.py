"""dbtop's own connections: opened with a deadline, limited server-side, errors in one line.

Every monitor connection is a read-only session whose statements are cut off by the server
(``max_statement_time`` on MariaDB; ``max_execution_time`` plus the ``MAX_EXECUTION_TIME``
optimizer hint on each SELECT on MySQL, where the variable covers SELECT only), that waits
at most a second for a metadata or row lock, and that keeps its own statements out of the
slow log where the server lets it.
"""

from __future__ import annotations

import asyncio
import math
import re
import ssl as ssl_lib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiomysql
import pymysql

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql.flavor import Flavor
from dbtop.engines.mysql.url import Target
from dbtop.errors import (
    AuthError,
    ConnectError,
    DbtopError,
    NotFoundError,
    PrivilegeError,
    QueryError,
)
from dbtop.model import Feature, Notice, Severity

# Server error codes dbtop reacts to (include/mysqld_error.h, errmsg.h).
ER_DBACCESS_DENIED = 1044
ER_ACCESS_DENIED = 1045
ER_BAD_DB = 1049
ER_CON_COUNT = 1040
ER_HOST_NOT_PRIVILEGED = 1130
ER_HOST_BLOCKED = 1129
ER_NO_SUCH_THREAD = 1094
ER_KILL_DENIED = 1095
ER_TABLE_ACCESS_DENIED = 1142
ER_COLUMN_ACCESS_DENIED = 1143
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_PROCACCESS_DENIED = 1370
ER_MARIADB_STATEMENT_TIMEOUT = 1969
ER_MYSQL_EXECUTION_TIME = 3024
ER_MARIADB_TARGET_NOT_EXPLAINABLE = 1933
CR_CONNECTION_ERROR = 2002
CR_CONN_HOST_ERROR = 2003
CR_SERVER_GONE = 2006
CR_SERVER_LOST = 2013

PRIVILEGE_CODES = frozenset(
    {
        ER_DBACCESS_DENIED,
        ER_SPECIFIC_ACCESS_DENIED,
        ER_TABLE_ACCESS_DENIED,
        ER_COLUMN_ACCESS_DENIED,
        ER_PROCACCESS_DENIED,
    }
)
TIMEOUT_CODES = frozenset({ER_MARIADB_STATEMENT_TIMEOUT, ER_MYSQL_EXECUTION_TIME})
LOST_CODES = frozenset({CR_SERVER_GONE, CR_SERVER_LOST, CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR})

T = TypeVar("T")

_SELECT_HEAD = re.compile(r"^\s*SELECT\b", re.IGNORECASE)


def error_code(exc: BaseException) -> int | None:
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def error_text(exc: BaseException) -> str:
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if len(args) >= 2:
        return str(args[1])
    return str(exc) or type(exc).__name__


def translate(exc: BaseException, target: Target | None = None) -> DbtopError:
    """One clear line for a driver error; the caller raises it ``from None``."""
    if isinstance(exc, DbtopError):
        return exc
    code = error_code(exc)
    text = error_text(exc)
    where = target.address if target else "the server"
    if code == ER_ACCESS_DENIED:
        source = (
            f" (password from {target.password_source})"
            if target and target.password_source
            else ""
        )
        return AuthError(f"{where}: {text}{source}")
    if code in (ER_HOST_NOT_PRIVILEGED, ER_HOST_BLOCKED):
        return AuthError(f"{where}: {text}")
    if code == ER_BAD_DB:
        return NotFoundError(f"{where}: {text}")
    if code in PRIVILEGE_CODES:
        return PrivilegeError(text)
    if code == ER_CON_COUNT:
        return ConnectError(f"{where}: {text}: the server is at max_connections")
    if code in TIMEOUT_CODES:
        return QueryError(f"cut off by the server-side time limit: {text}")
    if code == ER_NO_SUCH_THREAD:
        return NotFoundError(text)
    if code is not None and code >= 2000:
        return ConnectError(f"{where}: {text}")
    if isinstance(exc, OSError | asyncio.TimeoutError):
        return ConnectError(f"{where}: {text}")
    if isinstance(exc, pymysql.err.MySQLError) and code is None:
        return ConnectError(f"{where} did not answer like a MySQL server: {text}")
    return QueryError(text)


def failure_notice(feature: Feature, what: str, exc: BaseException, timeout_ms: int) -> Notice:
    """The notice of one poll section that failed on its own (a timeout, a missing table)."""
    if error_code(exc) in TIMEOUT_CODES:
        return Notice(
            feature,
            f"{what}: cut off by the {timeout_ms / 1000:g}s server-side limit this time",
            "the server is busy; --statement-timeout allows more",
            Severity.WARNING,
        )
    return Notice(feature, f"{what}: {error_text(exc)}", None, Severity.WARNING)


def ssl_context(target: Target) -> ssl_lib.SSLContext | None:
    if target.ssl_mode == "disabled" or target.socket:
        return None
    context = ssl_lib.create_default_context(cafile=target.ssl_ca)
    if target.ssl_cert:
        context.load_cert_chain(target.ssl_cert, target.ssl_key)
    if target.ssl_mode in ("preferred", "required"):
        # PREFERRED and REQUIRED encrypt without checking who answers, like the client.
        context.check_hostname = False
        context.verify_mode = ssl_lib.CERT_NONE
    elif target.ssl_mode == "verify_ca":
        context.check_hostname = False
    return context


async def open_raw(target: Target, options: ConnectOptions) -> aiomysql.Connection:
    """A connected driver connection, or a DbtopError; the whole handshake has a deadline.

    aiomysql's own ``connect_timeout`` covers only the TCP connect: a server that accepts
    and never speaks MySQL (PostgreSQL, Redis) would hang the handshake without this.
    """
    timeout = options.connect_timeout_s
    try:
        conn = await asyncio.wait_for(
            aiomysql.connect(
                host=target.host or "localhost",
                port=target.port,
                unix_socket=target.socket,
                user=target.user,
                password=target.password or "",
                db=target.database,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=timeout,
                ssl=ssl_context(target),
                program_name=options.application_name,
            ),
            timeout=timeout,
        )
    except TimeoutError:
        raise ConnectError(
            f"{target.address} did not answer like a MySQL server within {timeout:g}s "
            "(is that the MySQL port? --connect-timeout waits longer)"
        ) from None
    except (pymysql.err.MySQLError, OSError) as exc:
        raise translate(exc, target) from None
    except (RuntimeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        # The driver's parser chokes on a server that speaks another protocol.
        raise ConnectError(
            f"{target.address} did not answer like a MySQL server: {type(exc).__name__}: {exc}"
        ) from None
    if target.ssl_mode in ("required", "verify_ca", "verify_identity") and not target.socket:
        rows = await fetch_raw(
            conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'", deadline_s=options.deadline_s
        )
        if not rows or not rows[0].get("Value"):
            conn.close()
            raise ConnectError(
                f"{target.address}: ssl-mode={target.ssl_mode} but the server has no TLS"
            )
    return conn


class _QuietDictCursor(aiomysql.DictCursor):
    """aiomysql answers each server warning with a SHOW WARNINGS round trip and a Python
    warning printed on stderr: a monitor query's warnings are nobody's business there (they
    broke the CLI's one-line errors), and the extra round trip is load on the server."""

    async def _show_warnings(self, conn: object) -> None:
        return None


class _QuietCursor(aiomysql.Cursor):
    __doc__ = _QuietDictCursor.__doc__

    async def _show_warnings(self, conn: object) -> None:
        return None


def abort(conn: aiomysql.Connection) -> None:
    """Close the socket at once: no QUIT, no flush of what the silent server never read."""
    writer = getattr(conn, "_writer", None)  # aiomysql's close() would wait for a flush
    if writer is not None:
        writer.transport.abort()
    conn.close()


async def bounded(conn: aiomysql.Connection, work: Awaitable[T], deadline_s: float) -> T:
    """``work`` (one round trip on ``conn``), or a lost-connection error at the deadline.

    The server's own limit (max_statement_time) never fires when the server stops
    answering. Cancelling aiomysql mid-read leaves the connection unusable (and its cursor's
    cleanup would read again), so at the deadline the socket is aborted instead: the pending
    read fails at once, and the error says why. The caller's lost-connection handling then
    drops the connection and the next poll reconnects.
    """
    fired = False

    def stall() -> None:
        nonlocal fired
        fired = True
        abort(conn)

    handle = asyncio.get_running_loop().call_later(deadline_s, stall)
    try:
        return await work
    except Exception:
        if fired:
            raise pymysql.err.OperationalError(
                CR_SERVER_LOST,
                f"the server did not answer within {deadline_s:g}s",
            ) from None
        raise
    finally:
        handle.cancel()


async def fetch_raw(
    conn: aiomysql.Connection,
    sql: str,
    args: Sequence[Any] | None = None,
    *,
    deadline_s: float | None = None,
) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        async with conn.cursor(_QuietDictCursor) as cur:
            await cur.execute(sql, args)
            rows = await cur.fetchall()
        return list(rows or ())

    if deadline_s is None:
        return await run()
    return await bounded(conn, run(), deadline_s)


def session_settings(
    flavor: Flavor, options: ConnectOptions, *, read_only: bool = True
) -> list[str]:
    """The SET statements that make a connection safe to monitor with."""
    lock_wait_s = max(1, math.ceil(options.lock_timeout_ms / 1000))
    statements = [
        # Server times (INNODB_TRX, the slow log) then read as UTC.
        "SET SESSION time_zone = '+00:00'",
        f"SET SESSION lock_wait_timeout = {lock_wait_s}",
        f"SET SESSION innodb_lock_wait_timeout = {lock_wait_s}",
    ]
    if flavor.has_statement_time:
        statements.append(
            f"SET SESSION max_statement_time = {options.statement_timeout_ms / 1000:.3f}"
        )
    elif flavor.has_execution_time_hint:
        statements.append(f"SET SESSION max_execution_time = {int(options.statement_timeout_ms)}")
    if read_only:
        statements.append("SET SESSION TRANSACTION READ ONLY")
    return statements


#: optional settings: the server may refuse them (privilege, version); dbtop works without
OPTIONAL_SETTINGS = (
    # MariaDB turns the slow log off per session; MySQL has only the threshold.
    "SET SESSION log_slow_query = 0",
    "SET SESSION long_query_time = 31536000",
)


def with_time_limit(sql: str, flavor: Flavor, timeout_ms: int) -> str:
    """``sql`` with MySQL's per-statement ``MAX_EXECUTION_TIME`` hint after SELECT.

    MariaDB's session ``max_statement_time`` already covers every statement; MySQL's
    ``max_execution_time`` covers top-level SELECTs only, and the hint states the limit where
    the statement is written so a reader sees it.
    """
    if not flavor.has_execution_time_hint or not _SELECT_HEAD.match(sql):
        return sql
    head = _SELECT_HEAD.match(sql)
    assert head is not None
    return f"{sql[: head.end()]} /*+ MAX_EXECUTION_TIME({int(timeout_ms)}) */{sql[head.end() :]}"


class Link:
    """One of dbtop's connections with the settings applied; one statement at a time."""

    def __init__(
        self, conn: aiomysql.Connection, flavor: Flavor, options: ConnectOptions, target: Target
    ) -> None:
        self.conn = conn
        self.flavor = flavor
        self.options = options
        self.target = target
        self.thread_id: int = conn.thread_id()
        self._lock = asyncio.Lock()
        #: the engine's record of the statements dbtop sent (owntraffic.py), if any
        self.sent: Callable[[str], None] | None = None

    @property
    def closed(self) -> bool:
        return bool(self.conn.closed)

    async def fetch(
        self,
        sql: str,
        args: Sequence[Any] | None = None,
        *,
        hint: bool = True,
        deadline_s: float | None = None,
    ) -> list[dict[str, Any]]:
        """Rows as dicts; driver errors propagate (callers decide what a failure disables).

        ``hint=False`` leaves the statement as given (a user's ANALYZE runs under a longer
        session limit instead, and passes the longer client ``deadline_s`` with it)."""
        limited = (
            with_time_limit(sql, self.flavor, self.options.statement_timeout_ms) if hint else sql
        )
        if self.sent is not None:
            self.sent(sql)
            if limited is not sql:
                self.sent(limited)
        async with self._lock:
            return await fetch_raw(
                self.conn, limited, args, deadline_s=deadline_s or self.options.deadline_s
            )

    async def execute(self, sql: str, args: Sequence[Any] | None = None) -> int:
        async def run() -> int:
            async with self.conn.cursor(_QuietCursor) as cur:
                return int(await cur.execute(sql, args) or 0)

        if self.sent is not None:
            self.sent(sql)
        async with self._lock:
            return await bounded(self.conn, run(), self.options.deadline_s)

    async def apply(self, statements: Sequence[str], optional: Sequence[str] = ()) -> None:
        for statement in statements:
            await self.execute(statement)
        for statement in optional:
            try:
                await self.execute(statement)
            except pymysql.err.MySQLError:
                continue

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()
