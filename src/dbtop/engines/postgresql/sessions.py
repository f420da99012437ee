"""pg_stat_activity as Sessions, with the blockers of each lock waiter.

One scan of pg_stat_activity per poll. ``pg_blocking_pids()`` takes every lock-manager
partition lock while it runs, so it is evaluated (inside CASE, which PostgreSQL evaluates
lazily) only for backends that are waiting on a heavyweight lock, never for every row.
The query text comes through ``textsend`` as bytes: a backend in a SQL_ASCII database can
hold text that is not valid UTF-8, and that must not break the poll.

On a server with many connections most of them are idle, and idle rows change little: they
are read in full every ``IDLE_REFRESH_S`` and only the others in between (the poll's cost is
then proportional to the busy sessions, as in pg_activity), merged with the last idle rows.
A session that just went idle shows again at the next full read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dbtop.errors import UsageError
from dbtop.model import Finding, Session, Severity, frozen

#: idle rows are re-read this often, once the server has more than IDLE_CACHE_FROM sessions
IDLE_REFRESH_S = 5.0
IDLE_CACHE_FROM = 200
#: an idle-in-transaction session is worth a finding after this long
IDLE_IN_XACT_S = 60.0


@dataclass
class IdleCache:
    sessions: tuple[Session, ...] = ()
    read_at: float = -1e9
    total: int = 0
    #: full reads and partial ones, for the snapshot's extra
    partial_reads: int = 0


def parse_pid(session_id: str) -> int:
    """A session id as a backend pid, or a UsageError for one that cannot be."""
    try:
        pid = int(str(session_id).strip())
    except ValueError:
        raise UsageError(f"not a PostgreSQL backend pid: {session_id!r}") from None
    if pid <= 0:
        raise UsageError(f"not a PostgreSQL backend pid: {session_id!r}")
    return pid


def sessions_sql(version_num: int, *, with_idle: bool = True) -> str:
    leader = "a.leader_pid" if version_num >= 130000 else "NULL::int"
    query_id = "a.query_id" if version_num >= 140000 else "NULL::bigint"
    return f"""
        SELECT /* dbtop */ a.pid, a.usename, a.datname, a.application_name,
               host(a.client_addr) AS client_addr, a.client_hostname, a.client_port,
               a.backend_type, a.state, a.wait_event_type, a.wait_event,
               a.backend_start, a.xact_start, a.query_start, a.state_change,
               a.backend_xid::text AS backend_xid, a.backend_xmin::text AS backend_xmin,
               age(a.backend_xmin) AS xmin_age, {leader} AS leader_pid, {query_id} AS query_id,
               textsend(a.query) AS query,
               CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END
                   AS blocked_by,
               now() AS now
        FROM pg_stat_activity a
        {"" if with_idle else "WHERE a.state IS DISTINCT FROM 'idle'"}
    """


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.decode("utf-8", "replace")


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


def _client(
    hostname: str | None, addr: str | None, port: int | None, backend_type: str | None
) -> str | None:
    addr = hostname or addr
    if addr is None:
        # A client backend without an address came through the Unix socket.
        return "local" if backend_type == "client backend" else None
    return f"{addr}:{port}" if port not in (None, -1) else addr


def to_session(row: asyncpg.Record, own_pids: Iterable[int]) -> Session:
    # Unpacked by position once: at thousands of backends per poll, named lookups of two
    # dozen columns per row are a measurable share of the snapshot.
    (
        pid, usename, datname, application_name, client_addr, client_hostname, client_port,
        backend_type, state, wait_type, wait, backend_start, xact_start, query_start,
        state_change, backend_xid, backend_xmin, xmin_age, leader_pid, query_id, query,
        blocked, now,
    ) = row  # fmt: skip
    in_xact = xact_start is not None or (state or "").startswith("idle in transaction")
    extra = {
        "backend_xid": backend_xid,
        "backend_xmin": backend_xmin,
        "xmin_age": xmin_age,
        "state_age_s": _age(now, state_change),
        "wait_event_type": wait_type,
        "wait_event": wait,
        "leader_pid": leader_pid,
        "query_id": query_id,
    }
    return Session(
        id=str(pid),
        user=usename,
        database=datname,
        application=application_name or None,
        client=_client(client_hostname, client_addr, client_port, backend_type),
        kind=backend_type,
        state=state,
        is_idle=state in (None, "idle", "disabled"),
        in_transaction=in_xact,
        query=_text(query) or None,
        query_start=query_start,
        xact_start=xact_start,
        backend_start=backend_start,
        duration_s=_age(now, query_start) if state and state != "idle" else None,
        xact_age_s=_age(now, xact_start),
        wait=f"{wait_type}:{wait}" if wait else None,
        waiting_on_lock=wait_type == "Lock",
        blocked_by=tuple(str(b) for b in blocked) if blocked else (),
        is_self=pid in own_pids,
        extra=frozen({k: v for k, v in extra.items() if v is not None}),
    )


async def fetch_sessions(
    conn: asyncpg.Connection,
    version_num: int,
    own_pids: Iterable[int],
    idle: IdleCache | None = None,
) -> tuple[tuple[Session, ...], datetime | None]:
    own = frozenset(own_pids)
    clock = time.monotonic()
    full = idle is None or idle.total < IDLE_CACHE_FROM or clock - idle.read_at >= IDLE_REFRESH_S
    rows = await conn.fetch(sessions_sql(version_num, with_idle=full))
    now = rows[0]["now"] if rows else None
    sessions = tuple(to_session(row, own) for row in rows)
    if idle is None:
        return sessions, now
    if full:
        idle.sessions = tuple(s for s in sessions if s.state == "idle")
        idle.read_at = clock
        idle.total = len(sessions)
        return sessions, now
    idle.partial_reads += 1
    busy = {s.id for s in sessions}
    return sessions + tuple(s for s in idle.sessions if s.id not in busy), now


def findings(sessions: Iterable[Session]) -> tuple[Finding, ...]:
    """A finding for each session idle in a transaction for IDLE_IN_XACT_S or more."""
    return tuple(
        Finding(
            "idle_in_transaction",
            s.id,
            f"session {s.id} ({s.user}@{s.database}) has been idle in a transaction "
            f"for {age:.0f} s: it holds its locks and holds back vacuum",
            Severity.WARNING,
            extra=frozen(xact_age_s=s.xact_age_s, backend_xmin=s.extra.get("backend_xmin")),
        )
        for s in sessions
        if (s.state or "").startswith("idle in transaction")
        and (age := s.extra.get("state_age_s") or 0) >= IDLE_IN_XACT_S
    )
