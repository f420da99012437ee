"""KILL QUERY / KILL CONNECTION, or the procedures managed services provide instead.

On Amazon RDS and Aurora the master user may not KILL other users' sessions but may call
mysql.rds_kill / mysql.rds_kill_query; Azure Database for MySQL has mysql.az_kill /
mysql.az_kill_query. dbtop uses them when they exist.

With ``expected`` (the session as the user confirmed it) the thread is read again right
before the KILL. MySQL and MariaDB show no connection start time; what they give is as
good: connection ids come from a counter that only goes up while the server runs (reused
only after a wrap-around at 2^32 connections, or after a restart), and the thread's USER
and HOST (with the client's port) must be those confirmed. A cancel also needs the same
statement: MariaDB's QUERY_ID (a server-wide counter), else a start (TIME) within the
slack of the one confirmed. The KILL itself cannot be made conditional; the window left is
one round trip, and an id is not given again within it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dbtop.engines import identity
from dbtop.errors import NotFoundError, RefusedError, UsageError
from dbtop.model import KillMode, Session

#: a PROCESSLIST TIME is in whole seconds (TIME_MS where MariaDB has it): two readings of
#: one statement's start differ by less than this
STARTED_SLACK_S = 2.0

IDENTITY_SQL = "SELECT * FROM information_schema.PROCESSLIST WHERE ID = %s"

#: routine names looked for in the mysql schema, by provider
PROCEDURES = {
    "rds": ("rds_kill_query", "rds_kill"),
    "azure": ("az_kill_query", "az_kill"),
}

PROCEDURES_SQL = """
SELECT ROUTINE_NAME FROM information_schema.ROUTINES
WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_TYPE = 'PROCEDURE'
  AND ROUTINE_NAME IN ('rds_kill', 'rds_kill_query', 'az_kill', 'az_kill_query')
"""


def thread_id(session_id: str) -> int:
    """The numeric processlist id, or a UsageError naming what is wrong."""
    text = session_id.strip()
    if not text.isdigit():
        raise UsageError(f"not a MySQL session id: {session_id!r} (the processlist Id, a number)")
    value = int(text)
    if value <= 0 or value >= 2**64:
        raise UsageError(f"not a MySQL session id: {session_id!r}")
    return value


def provider(routines: set[str]) -> str | None:
    for name, (cancel, terminate) in PROCEDURES.items():
        if cancel in routines and terminate in routines:
            return name
    return None


def kill_sql(tid: int, mode: KillMode, procedures: str | None = None) -> str:
    """The statement that cancels or terminates thread ``tid``."""
    if procedures is not None:
        cancel, terminate = PROCEDURES[procedures]
        routine = cancel if mode is KillMode.CANCEL else terminate
        return f"CALL mysql.{routine}({int(tid)})"
    verb = "KILL QUERY" if mode is KillMode.CANCEL else "KILL CONNECTION"
    return f"{verb} {int(tid)}"


def kill_grant_hint(mariadb: bool, version: tuple[int, int, int]) -> str:
    if mariadb:
        if version >= (10, 5, 2):
            return "GRANT CONNECTION ADMIN ON *.*"
        return "GRANT SUPER ON *.*"
    if version >= (8, 0, 0):
        return "GRANT CONNECTION_ADMIN ON *.*"
    return "GRANT SUPER ON *.*"


def _text(value: Any) -> str | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return None if value is None else str(value)


def _seconds(row: dict[str, Any]) -> float | None:
    for key, scale in (("TIME_MS", 1000.0), ("TIME", 1.0)):
        value = row.get(key)
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return float(value) / scale
        if value is not None:
            try:
                return float(str(value)) / scale
            except ValueError:
                continue
    return None


def check_same(
    tid: int, rows: list[dict[str, Any]], mode: KillMode, expected: Session, now: datetime
) -> None:
    """Refuse, with one line, a thread that is not the one confirmed (``now``: the clock
    the confirmed session's query_start was read with)."""
    if not rows:
        raise NotFoundError(f"no session {tid} on this server (it may have ended)")
    row = rows[0]
    sid = str(tid)
    user, host = _text(row.get("USER")), _text(row.get("HOST"))
    if expected.user and user != expected.user:
        raise identity.changed(sid, f"its user is {user}, the confirmed one's {expected.user}")
    if expected.client and host != expected.client:
        raise identity.changed(
            sid, f"it connects from {host}, the confirmed one from {expected.client}"
        )
    if mode is not KillMode.CANCEL:
        return
    confirmed_query = expected.extra.get("query_id")
    query_id = row.get("QUERY_ID")
    if confirmed_query is not None and query_id is not None:
        if int(query_id) != int(confirmed_query):
            raise RefusedError(
                f"session {sid} started another statement (query id {int(query_id)}, the "
                f"confirmed one {int(confirmed_query)}) since you confirmed: cancel refused, "
                "nothing was sent (look again and confirm the new one)"
            )
        return
    seconds = _seconds(row)
    if expected.query_start is not None and seconds is not None:
        started = now - timedelta(seconds=seconds)
        if abs((started - expected.query_start).total_seconds()) >= STARTED_SLACK_S:
            raise identity.new_statement(sid, started, expected.query_start)
