"""Sessions: the process list with each one's open InnoDB transaction.

With performance_schema on, the rows come from performance_schema.threads, which reads
without the global mutex that information_schema.PROCESSLIST takes per thread (MySQL
deprecates the latter); otherwise from information_schema.PROCESSLIST (MariaDB adds
TIME_MS, EXAMINED_ROWS, MEMORY_USED and PROGRESS there). Open transactions come from
information_schema.INNODB_TRX (needs PROCESS): their age, the rows they lock and modify,
and whether they wait for a row lock.

On a server with many connections most of them sleep, and sleeping rows change little
(as PostgreSQL's idle ones): past ``IDLE_CACHE_FROM`` sessions they are read in full every
``IDLE_REFRESH_S`` and only the others in between, merged with the last sleeping rows; a
session that just fell asleep shows again at the next full read. A sleeping row that is
the same row as last poll, with no transaction, blocker or new program name, keeps its
Session object.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dbtop.engines.mysql.flavor import Flavor
from dbtop.model import Session, frozen

PROCESSLIST_MARIADB = """
SELECT ID, CAST(USER AS BINARY) AS USER, CAST(HOST AS BINARY) AS HOST,
       CAST(DB AS BINARY) AS DB, CAST(COMMAND AS BINARY) AS COMMAND, TIME, TIME_MS,
       CAST(STATE AS BINARY) AS STATE, CAST(INFO AS BINARY) AS INFO,
       EXAMINED_ROWS, MEMORY_USED, PROGRESS, QUERY_ID
FROM information_schema.PROCESSLIST
"""

PROCESSLIST_MYSQL = """
SELECT ID, CAST(USER AS BINARY) AS USER, CAST(HOST AS BINARY) AS HOST,
       CAST(DB AS BINARY) AS DB, CAST(COMMAND AS BINARY) AS COMMAND, TIME,
       CAST(STATE AS BINARY) AS STATE, CAST(INFO AS BINARY) AS INFO
FROM information_schema.PROCESSLIST
"""

THREADS = """
SELECT PROCESSLIST_ID AS ID, CAST(PROCESSLIST_USER AS BINARY) AS USER,
       CAST(PROCESSLIST_HOST AS BINARY) AS HOST, CAST(PROCESSLIST_DB AS BINARY) AS DB,
       CAST(PROCESSLIST_COMMAND AS BINARY) AS COMMAND, PROCESSLIST_TIME AS TIME,
       CAST(PROCESSLIST_STATE AS BINARY) AS STATE, CAST(PROCESSLIST_INFO AS BINARY) AS INFO,
       THREAD_ID, TYPE
FROM performance_schema.threads
WHERE PROCESSLIST_ID IS NOT NULL
"""

#: the program name clients announce (connection attribute), performance_schema only
PROGRAM_NAMES = """
SELECT PROCESSLIST_ID AS ID, CAST(ATTR_VALUE AS BINARY) AS ATTR_VALUE
FROM performance_schema.session_connect_attrs
WHERE ATTR_NAME = 'program_name'
"""

TRANSACTIONS = """
SELECT trx_mysql_thread_id AS thread, trx_id, CAST(trx_state AS BINARY) AS trx_state,
       trx_started,
       TIMESTAMPDIFF(MICROSECOND, trx_started, NOW(6)) / 1000000 AS age_s,
       trx_wait_started,
       TIMESTAMPDIFF(MICROSECOND, trx_wait_started, NOW(6)) / 1000000 AS wait_s,
       trx_rows_locked, trx_rows_modified, trx_tables_locked,
       CAST(trx_isolation_level AS BINARY) AS trx_isolation_level,
       CAST(trx_query AS BINARY) AS trx_query,
       CAST(trx_operation_state AS BINARY) AS trx_operation_state
FROM information_schema.INNODB_TRX
"""

#: commands of sessions that do nothing a DBA acts on while they show no statement
_BACKGROUND = frozenset({"Sleep", "Daemon"})

#: sleeping rows are re-read this often, once the server has more than IDLE_CACHE_FROM
IDLE_REFRESH_S = 5.0
IDLE_CACHE_FROM = 200
_NOT_SLEEPING = {
    False: " WHERE COMMAND <> 'Sleep'",
    True: " AND (PROCESSLIST_COMMAND IS NULL OR PROCESSLIST_COMMAND <> 'Sleep')",
}


@dataclass
class IdleCache:
    """The sleeping rows of the last full read of the process list, and the Sessions made
    of sleeping rows (by session id: the row object, its program name, whether it is
    dbtop's own, the Session)."""

    rows: list[Mapping[str, Any]] = field(default_factory=list)
    read_at: float = -1e9
    total: int = 0
    partial_reads: int = 0
    kept: dict[str, tuple[Mapping[str, Any], str | None, bool, Session]] = field(
        default_factory=dict
    )

    def wants_full(self) -> bool:
        return self.total < IDLE_CACHE_FROM or time.monotonic() - self.read_at >= IDLE_REFRESH_S

    def merge(self, rows: Sequence[Mapping[str, Any]], *, full: bool) -> list[Mapping[str, Any]]:
        """This poll's rows: all of them after a full read (whose sleeping rows are kept),
        else the ones read and the kept sleeping rows of sessions not among them."""
        if full:
            self.rows = [r for r in rows if text(r.get("COMMAND")) == "Sleep"]
            self.read_at = time.monotonic()
            self.total = len(rows)
            return list(rows)
        self.partial_reads += 1
        seen = {r["ID"] for r in rows}
        return [*rows, *(r for r in self.rows if r["ID"] not in seen)]


@dataclass(frozen=True, slots=True)
class Transaction:
    thread: str
    trx_id: str
    state: str
    started: datetime | None
    age_s: float | None
    wait_s: float | None
    rows_locked: int | None
    rows_modified: int | None
    tables_locked: int | None
    isolation: str | None
    query: str | None

    @property
    def waiting(self) -> bool:
        return self.state == "LOCK WAIT"


def processlist_sql(flavor: Flavor, *, use_threads: bool, with_idle: bool = True) -> str:
    sql = THREADS if use_threads else PROCESSLIST_MARIADB if flavor.mariadb else PROCESSLIST_MYSQL
    return sql if with_idle else sql.rstrip() + _NOT_SLEEPING[use_threads]


def _utc(value: Any) -> datetime | None:
    # The session's time_zone is UTC (see connection.py), so naive server times are UTC.
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def text(value: Any) -> str | None:
    """A column read as BINARY (every text column above: a statement's bytes may be in any
    character set, or none, and the driver would fail on them) as text, U+FFFD for what
    is not UTF-8."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def transactions(rows: Iterable[Mapping[str, Any]]) -> dict[str, Transaction]:
    result: dict[str, Transaction] = {}
    for row in rows:
        thread = _int(row.get("thread"))
        if not thread:
            continue  # purge and background transactions have no thread
        result[str(thread)] = Transaction(
            thread=str(thread),
            trx_id=str(row.get("trx_id")),
            state=text(row.get("trx_state")) or "",
            started=_utc(row.get("trx_started")),
            age_s=_float(row.get("age_s")),
            wait_s=_float(row.get("wait_s")) if row.get("trx_wait_started") else None,
            rows_locked=_int(row.get("trx_rows_locked")),
            rows_modified=_int(row.get("trx_rows_modified")),
            tables_locked=_int(row.get("trx_tables_locked")),
            isolation=text(row.get("trx_isolation_level")),
            query=text(row.get("trx_query")),
        )
    return result


def is_lock_state(state: str | None) -> bool:
    """``Waiting for table metadata lock``, ``Waiting for table level lock`` …"""
    text = (state or "").lower()
    return text.startswith("waiting for") and "lock" in text


def build_sessions(
    rows: Sequence[Mapping[str, Any]],
    trx: Mapping[str, Transaction],
    *,
    own: frozenset[str],
    blocked_by: Mapping[str, Sequence[str]],
    programs: Mapping[str, str],
    now: datetime,
    idle: IdleCache | None = None,
) -> tuple[Session, ...]:
    sessions: list[Session] = []
    kept = idle.kept if idle is not None else {}
    keep: dict[str, tuple[Mapping[str, Any], str | None, bool, Session]] = {}
    for row in rows:
        sid = str(row["ID"])
        t = trx.get(sid)
        known = kept.get(sid)
        if (
            known is not None
            and known[0] is row
            and t is None
            and not blocked_by.get(sid)
            and known[1] == programs.get(sid)
            and known[2] == (sid in own)
        ):
            # the same sleeping row as last poll, nothing new around it: the same Session
            sessions.append(known[3])
            keep[sid] = known
            continue
        command = text(row.get("COMMAND")) or ""
        state_text = text(row.get("STATE")) or ""
        query = text(row.get("INFO"))
        time_ms = _float(row.get("TIME_MS"))
        duration = time_ms / 1000.0 if time_ms is not None else _float(row.get("TIME"))
        lock_state = is_lock_state(state_text)
        row_wait = t is not None and t.waiting
        wait: str | None
        if row_wait:
            wait = "InnoDB row lock"
        elif lock_state:
            wait = state_text
        else:
            wait = state_text if state_text.lower().startswith("waiting") else None
        extra: dict[str, Any] = {"command": command}
        for key in ("EXAMINED_ROWS", "MEMORY_USED", "PROGRESS", "QUERY_ID", "THREAD_ID", "TYPE"):
            if row.get(key) is not None:
                value = row[key]
                extra[key.lower()] = (
                    float(value)
                    if key == "PROGRESS"
                    else text(value)
                    if key == "TYPE"
                    else _int(value)
                )
        if t is not None:
            extra.update(
                trx_id=t.trx_id,
                trx_state=t.state,
                rows_locked=t.rows_locked,
                rows_modified=t.rows_modified,
                tables_locked=t.tables_locked,
                isolation=t.isolation,
            )
        session = Session(
            id=sid,
            user=text(row.get("USER")),
            database=text(row.get("DB")),
            application=programs.get(sid),
            client=text(row.get("HOST")),
            kind=command or None,
            state=state_text or command or None,
            is_idle=command in _BACKGROUND and not query,
            in_transaction=t is not None,
            query=query,
            query_start=(
                now - timedelta(seconds=duration)
                if duration is not None and command not in _BACKGROUND
                else None
            ),
            xact_start=t.started if t else None,
            duration_s=duration,
            xact_age_s=t.age_s if t else None,
            wait=wait,
            waiting_on_lock=row_wait or lock_state,
            blocked_by=tuple(blocked_by.get(sid, ())),
            is_self=sid in own,
            extra=frozen(extra),
        )
        sessions.append(session)
        if idle is not None and command == "Sleep":
            keep[sid] = (row, programs.get(sid), sid in own, session)
    if idle is not None:
        idle.kept = keep
    return tuple(sessions)


def with_blockers(
    sessions: Sequence[Session], blocked_by: Mapping[str, Sequence[str]]
) -> tuple[Session, ...]:
    """``sessions`` as :func:`build_sessions` makes them with ``blocked_by``, from the ones
    it made without (only the blocked sessions change)."""
    return tuple(
        dataclasses.replace(s, blocked_by=tuple(blocked_by[s.id])) if blocked_by.get(s.id) else s
        for s in sessions
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
