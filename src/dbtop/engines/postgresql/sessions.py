"""pg_stat_activity as Sessions, with the blockers of each lock waiter.

One scan of pg_stat_activity per poll. ``pg_blocking_pids()`` takes every lock-manager
partition lock while it runs, so it is evaluated (inside CASE, which PostgreSQL evaluates
lazily) only for backends that are waiting on a heavyweight lock, never for every row.
Every text column comes as raw bytes (``dbtop.engines.postgresql.text``): a backend in a
SQL_ASCII database can hold text that is not valid UTF-8, and that must not break the poll.
A role without pg_read_all_stats (pg_monitor) sees other roles' backends with no state, no
backend type and "<insufficient privilege>" for a query: those are ``hidden``, not idle.

On a server with many connections most of them are idle, and idle rows change little: they
are read in full every ``IDLE_REFRESH_S`` and only the others in between (the poll's cost is
then proportional to the busy sessions, as in pg_activity), merged with the last idle rows.
A session that just went idle shows again at the next full read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from dbtop.engines.postgresql.text import decode, raw, server_codec
from dbtop.errors import UsageError
from dbtop.model import Finding, Session, Severity, frozen

#: why a backend of another role shows nothing but its pid, user and database
HIDDEN_REASON = "needs pg_monitor"

#: idle rows are re-read this often, once the server has more than IDLE_CACHE_FROM sessions
IDLE_REFRESH_S = 5.0
IDLE_CACHE_FROM = 200
#: an idle-in-transaction session is worth a finding after this long
IDLE_IN_XACT_S = 60.0


#: what a pg_stat_activity row gives its Session apart from the ages (which follow the
#: poll's clock): the fields, the extra before and after ``state_age_s`` (in that order),
#: query_start, xact_start, state_change, and whether the session's statement is timed
_Fixed = tuple[
    dict[str, Any],
    dict[str, Any],
    dict[str, Any],
    datetime | None,
    datetime | None,
    datetime | None,
    bool,
]


@dataclass
class IdleCache:
    sessions: tuple[Session, ...] = ()
    read_at: float = -1e9
    total: int = 0
    #: full reads and partial ones, for the snapshot's extra
    partial_reads: int = 0
    #: each row of the last full read (and the partial reads since) as decoded, by its
    #: values but the clock: an unchanged row is not decoded again
    decoded: dict[tuple[Any, ...], _Fixed] = field(default_factory=dict)


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
        SELECT /* dbtop */ a.pid, {raw("a.usename", "usename")}, {raw("a.datname", "datname")},
               {raw("a.application_name", "application_name")},
               host(a.client_addr) AS client_addr,
               {raw("a.client_hostname", "client_hostname")}, a.client_port,
               {raw("a.backend_type", "backend_type")}, a.state,
               {raw("a.wait_event_type", "wait_event_type")}, {raw("a.wait_event", "wait_event")},
               a.backend_start, a.xact_start, a.query_start, a.state_change,
               a.backend_xid::text AS backend_xid, a.backend_xmin::text AS backend_xmin,
               age(a.backend_xmin) AS xmin_age, {leader} AS leader_pid, {query_id} AS query_id,
               {raw("a.query", "query")},
               CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END
                   AS blocked_by,
               now() AS now
        FROM pg_stat_activity a
        {"" if with_idle else "WHERE a.state IS DISTINCT FROM 'idle'"}
    """


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


def to_session(row: asyncpg.Record, own_pids: Iterable[int], codec: str | None = None) -> Session:
    return _dated(_fixed(row, own_pids, codec), row[-1])


def _fixed(row: Sequence[Any], own_pids: Iterable[int], codec: str | None) -> _Fixed:
    # Unpacked by position once: at thousands of backends per poll, named lookups of two
    # dozen columns per row are a measurable share of the snapshot.
    (
        pid, usename, datname, application_name, client_addr, client_hostname, client_port,
        backend_type, state, wait_type, wait, backend_start, xact_start, query_start,
        state_change, backend_xid, backend_xmin, xmin_age, leader_pid, query_id, query,
        blocked, _now,
    ) = row  # fmt: skip
    usename = decode(usename, codec)
    datname = decode(datname, codec)
    application_name = decode(application_name, codec)
    client_hostname = decode(client_hostname, codec)
    backend_type = decode(backend_type, codec)
    wait_type = decode(wait_type, codec)
    wait = decode(wait, codec)
    query = decode(query, codec)
    # Every backend the role may see has a backend type; only hidden ones have none.
    hidden = HIDDEN_REASON if backend_type is None and state is None else None
    in_xact = xact_start is not None or (state or "").startswith("idle in transaction")
    before = {"backend_xid": backend_xid, "backend_xmin": backend_xmin, "xmin_age": xmin_age}
    after = {
        "wait_event_type": wait_type,
        "wait_event": wait,
        "leader_pid": leader_pid,
        "query_id": query_id,
    }
    fields = {
        "id": str(pid),
        "user": usename,
        "database": datname,
        "application": application_name or None,
        "client": _client(client_hostname, client_addr, client_port, backend_type),
        "kind": backend_type,
        "state": state,
        "is_idle": hidden is None and state in (None, "idle", "disabled"),
        "in_transaction": in_xact,
        "query": query or None,
        "query_start": query_start,
        "xact_start": xact_start,
        "backend_start": backend_start,
        "wait": f"{wait_type}:{wait}" if wait else None,
        "waiting_on_lock": wait_type == "Lock",
        "blocked_by": tuple(str(b) for b in blocked) if blocked else (),
        "is_self": pid in own_pids,
        "hidden": hidden,
    }
    return (
        fields,
        {k: v for k, v in before.items() if v is not None},
        {k: v for k, v in after.items() if v is not None},
        query_start,
        xact_start,
        state_change,
        bool(state and state != "idle"),
    )


def _dated(fixed: _Fixed, now: datetime) -> Session:
    fields, before, after, query_start, xact_start, state_change, timed = fixed
    extra = dict(before)
    state_age = _age(now, state_change)
    if state_age is not None:
        extra["state_age_s"] = state_age
    extra.update(after)
    return Session(
        **fields,
        duration_s=_age(now, query_start) if timed else None,
        xact_age_s=_age(now, xact_start),
        extra=frozen(extra),
    )


def _sessions(
    rows: Sequence[asyncpg.Record],
    own: frozenset[int],
    codec: str | None,
    kept: dict[tuple[Any, ...], _Fixed] | None,
    into: dict[tuple[Any, ...], _Fixed] | None = None,
) -> tuple[Session, ...]:
    """The rows as Sessions; a row equal to one of ``kept`` (all but the clock column)
    reuses what was decoded from it; what each row was decoded to goes ``into`` (``kept``
    itself when not given).

    At thousands of idle backends most rows are the same from one full read to the next;
    only their ages move with the clock.
    """
    if kept is None:
        return tuple(_dated(_fixed(row, own, codec), row[-1]) for row in rows)
    into = kept if into is None else into
    found = []
    for row in rows:
        values = tuple(row)
        if values[21] is not None:  # a lock waiter's blockers: a list, and it changes
            found.append(_dated(_fixed(values, own, codec), values[-1]))
            continue
        key = values[:-1]
        fixed = kept.get(key)
        if fixed is None or fixed[0]["is_self"] != (values[0] in own):
            fixed = _fixed(values, own, codec)
        into[key] = fixed
        found.append(_dated(fixed, values[-1]))
    return tuple(found)


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
    codec = server_codec(getattr(conn.get_settings(), "server_encoding", None))
    if idle is None:
        return _sessions(rows, own, codec, None), now
    if full:
        # a full read keeps what it decoded for the next one (and drops what went away)
        previous, idle.decoded = idle.decoded, {}
        sessions = _sessions(rows, own, codec, previous, idle.decoded)
        idle.sessions = tuple(s for s in sessions if s.state == "idle")
        idle.read_at = clock
        idle.total = len(sessions)
        return sessions, now
    idle.partial_reads += 1
    sessions = _sessions(rows, own, codec, idle.decoded)
    busy = {s.id for s in sessions}
    return sessions + tuple(s for s in idle.sessions if s.id not in busy), now


def findings(sessions: Iterable[Session]) -> tuple[Finding, ...]:
    """A finding for each session idle in a transaction for IDLE_IN_XACT_S or more."""
    return tuple(
        Finding(
            "idle_in_transaction",
            s.id,
            f"session {s.id} ({describe_backend(s.user, s.database, s.kind)}) has been idle "
            "in a transaction "
            f"for {age:.0f} s: it holds its locks and holds back vacuum",
            Severity.WARNING,
            extra=frozen(xact_age_s=s.xact_age_s, backend_xmin=s.extra.get("backend_xmin")),
        )
        for s in sessions
        if (s.state or "").startswith("idle in transaction")
        and (age := s.extra.get("state_age_s") or 0) >= IDLE_IN_XACT_S
    )


def describe_backend(usename: str | None, datname: str | None, backend_type: str | None) -> str:
    """``user@database`` for a message, with no "None" in it whatever the role may see."""
    who = usename or backend_type or "a backend hidden from this role"
    return f"{who}@{datname}" if datname else who


def is_hidden_row(state: str | None, backend_type: str | None) -> bool:
    """A pg_stat_activity row of a backend this role may not see the details of."""
    return backend_type is None and state is None


async def signal_refusal(conn: asyncpg.Connection, pid: int, verb: str, owner: str | None) -> str:
    """Why this role may not signal backend ``pid``, naming the privilege it lacks."""
    if owner is None:
        return f"cannot {verb} session {pid}: it is a server process; only a superuser may"
    try:
        is_super = await conn.fetchval(
            "SELECT /* dbtop */ rolsuper FROM pg_roles WHERE rolname = $1", owner
        )
    except asyncpg.PostgresError:
        is_super = None
    if is_super:
        return (
            f"cannot {verb} session {pid}: it belongs to superuser {owner}; "
            "only a superuser may signal it (pg_signal_backend does not reach superusers)"
        )
    return (
        f"cannot {verb} session {pid}: it belongs to role {owner}; "
        f"needs pg_signal_backend or membership in {owner}"
    )
