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
A session that just went idle shows again at the next full read. Even a full read does not
make the server send (and the client decode) the text of an idle row that has not changed
state since the last one: such a row comes as its pid, state time and wait event, and its
Session is made again (with its new ages) from what was decoded before.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, cast

import asyncpg

from dbtop.engines.postgresql.text import decode, raw, server_codec
from dbtop.errors import UsageError
from dbtop.model import EMPTY, Finding, Session, Severity, frozen

#: why a backend of another role shows nothing but its pid, user and database
HIDDEN_REASON = "needs pg_monitor"

#: idle rows are re-read this often, once the server has more than IDLE_CACHE_FROM sessions
IDLE_REFRESH_S = 5.0
IDLE_CACHE_FROM = 200
#: an idle-in-transaction session is worth a finding after this long
IDLE_IN_XACT_S = 60.0


#: the Session fields given positionally (see _Fixed), in the model's order
_POSITIONAL = (
    "id", "user", "database", "application", "client", "kind", "state", "is_idle",
    "in_transaction", "query", "query_start", "xact_start", "backend_start", "duration_s",
    "xact_age_s", "wait", "waiting_on_lock", "blocked_by", "is_self", "node", "hidden",
    "progress", "extra",
)  # fmt: skip
if tuple(f.name for f in dataclasses.fields(Session)) != _POSITIONAL:
    raise ImportError("model.Session's fields changed: update sessions._POSITIONAL and _Fixed")


#: Session's slots without its frozen ``__setattr__``: a Session is made as one of these and
#: then given its class (the same slots in the same order, so the same layout). A frozen
#: dataclass's ``__init__`` sets each field through ``object.__setattr__``: at 2,000
#: Sessions per full read that was most of what reading idle rows cost, and a plain slots
#: ``__init__`` is five times faster. The result is a Session like any other.
_Unfrozen = dataclasses.make_dataclass("_Unfrozen", [(n, Any) for n in _POSITIONAL], slots=True)


def _session(values: tuple[Any, ...]) -> Session:
    """``Session(*values)``, faster."""
    session = _Unfrozen(*values)
    session.__class__ = Session
    return cast(Session, session)


#: where each column is in a row of sessions_sql
_PID, _STATE, _WAIT_TYPE, _WAIT, _XID, _XMIN = 0, 8, 9, 10, 15, 16
_BLOCKED, _STATE_US, _FRESH = 21, 22, 23


@dataclass(frozen=True, slots=True)
class _Fixed:
    """What a pg_stat_activity row gives its Session apart from the ages (which follow the
    poll's clock): the fields before and after the ages (positional: a Session is built
    per row per full read, and keywords cost twice as much), the extra before and after
    ``state_age_s`` (in that order), and whether the session's statement is timed."""

    head: tuple[Any, ...]
    tail: tuple[Any, ...]
    before: tuple[tuple[str, Any], ...]
    after: tuple[tuple[str, Any], ...]
    query_start: datetime | None
    xact_start: datetime | None
    state_change: datetime | None
    timed: bool

    @property
    def is_self(self) -> bool:
        return bool(self.tail[3])

    def with_self(self, is_self: bool) -> _Fixed:
        tail = (*self.tail[:3], is_self, *self.tail[4:])
        return dataclasses.replace(self, tail=tail)


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
    #: the idle rows of the last full read by pid: what identifies the row's content
    #: (state_change and wait event) and what it was decoded to
    idle_rows: dict[int, tuple[tuple[Any, ...], _Fixed]] = field(default_factory=dict)
    #: the server's clock at the last full read: idle rows that changed state before it
    #: come without their text (the server skips them), the others in full
    server_now: datetime | None = None
    #: full reads whose skipped rows did not all match ``idle_rows`` (read again in full)
    misses: int = 0


def parse_pid(session_id: str) -> int:
    """A session id as a backend pid, or a UsageError for one that cannot be."""
    try:
        pid = int(str(session_id).strip())
    except ValueError:
        raise UsageError(f"not a PostgreSQL backend pid: {session_id!r}") from None
    if pid <= 0:
        raise UsageError(f"not a PostgreSQL backend pid: {session_id!r}")
    return pid


#: an idle row the server sends in full in a ``since`` read: it changed state after the
#: last full read (or has no state time), or it is not idle, or it holds an xid or xmin
#: (whose age moves with the server's transactions)
_FRESH_SQL = (
    "(s.state IS DISTINCT FROM 'idle' OR s.state_change IS NULL OR s.state_change >= $1"
    " OR s.backend_xid IS NOT NULL OR s.backend_xmin IS NOT NULL)"
)


def sessions_sql(version_num: int, *, with_idle: bool = True, since: bool = False) -> str:
    """The sessions query: every row, or (``with_idle=False``) all but the idle ones.

    ``since`` (with idle rows): the query takes the server time of the last full read as
    ``$1`` and sends each idle row that did not change state since then as its pid, wait
    event and state time in microseconds only (``fresh`` false; no ``now`` either): at
    thousands of idle connections, decoding every row's text and times was most of a full
    read's cost on both sides. That such a row is the one read before is checked against
    the cache (:func:`_sessions`).
    """
    leader = "a.leader_pid" if version_num >= 130000 else "NULL::int"
    query_id = "a.query_id" if version_num >= 140000 else "NULL::bigint"

    def heavy(expr: str, alias: str) -> str:
        return f"CASE WHEN a.fresh THEN {expr} END AS {alias}" if since else f"{expr} AS {alias}"

    source = "pg_stat_activity a"
    if since:
        # OFFSET 0 keeps the subquery: the test is evaluated once per row, not per column
        source = f"(SELECT s.*, {_FRESH_SQL} AS fresh FROM pg_stat_activity s OFFSET 0) a"
    where = "" if with_idle else "WHERE a.state IS DISTINCT FROM 'idle'"
    return f"""
        SELECT /* dbtop */ a.pid, {heavy(raw("a.usename"), "usename")},
               {heavy(raw("a.datname"), "datname")},
               {heavy(raw("a.application_name"), "application_name")},
               {heavy("host(a.client_addr)", "client_addr")},
               {heavy(raw("a.client_hostname"), "client_hostname")},
               {heavy("a.client_port", "client_port")},
               {heavy(raw("a.backend_type"), "backend_type")}, {heavy("a.state", "state")},
               {raw("a.wait_event_type", "wait_event_type")}, {raw("a.wait_event", "wait_event")},
               {heavy("a.backend_start", "backend_start")}, {heavy("a.xact_start", "xact_start")},
               {heavy("a.query_start", "query_start")}, {heavy("a.state_change", "state_change")},
               {heavy("a.backend_xid::text", "backend_xid")},
               {heavy("a.backend_xmin::text", "backend_xmin")},
               {heavy("age(a.backend_xmin)", "xmin_age")}, {heavy(leader, "leader_pid")},
               {heavy(query_id, "query_id")}, {heavy(raw("a.query"), "query")},
               CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END
                   AS blocked_by,
               (extract(epoch FROM a.state_change) * 1000000)::int8 AS state_change_us,
               {"a.fresh" if since else "TRUE"} AS fresh, {heavy("now()", "now")}
        FROM {source}
        {where}
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
        blocked, _state_us, _fresh, _now,
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
    head = (
        str(pid),
        usename,
        datname,
        application_name or None,
        _client(client_hostname, client_addr, client_port, backend_type),
        backend_type,
        state,
        hidden is None and state in (None, "idle", "disabled"),
        in_xact,
        query or None,
        query_start,
        xact_start,
        backend_start,
    )
    tail = (
        f"{wait_type}:{wait}" if wait else None,
        wait_type == "Lock",
        tuple(str(b) for b in blocked) if blocked else (),
        pid in own_pids,
        None,
        hidden,
        None,
    )
    return _Fixed(
        head,
        tail,
        tuple((k, v) for k, v in before.items() if v is not None),
        tuple((k, v) for k, v in after.items() if v is not None),
        query_start,
        xact_start,
        state_change,
        bool(state and state != "idle"),
    )


def _dated(fixed: _Fixed, now: datetime) -> Session:
    extra = dict(fixed.before)
    state_change = fixed.state_change
    if state_change is not None:
        extra["state_age_s"] = max((now - state_change).total_seconds(), 0.0)
    extra.update(fixed.after)
    ages = (_age(now, fixed.query_start) if fixed.timed else None, _age(now, fixed.xact_start))
    return _session((*fixed.head, *ages, *fixed.tail, MappingProxyType(extra) if extra else EMPTY))


def _idle_key(values: Sequence[Any]) -> tuple[Any, ...] | None:
    """What identifies an idle row's content across full reads, for a row that has one.

    An idle backend's other columns (its last query, application name, client, user)
    change only with a new statement, which moves ``state_change``; an xid or xmin would
    move its age, so such rows are always read in full."""
    if not values[_FRESH]:  # sent without the rest: idle, no xid or xmin
        return (values[_STATE_US], values[_WAIT_TYPE], values[_WAIT])
    if values[_STATE] != "idle" or values[_STATE_US] is None or values[_XID] or values[_XMIN]:
        return None
    return (values[_STATE_US], values[_WAIT_TYPE], values[_WAIT])


def _sessions(
    rows: Sequence[asyncpg.Record],
    own: frozenset[int],
    codec: str | None,
    kept: dict[tuple[Any, ...], _Fixed] | None,
    into: dict[tuple[Any, ...], _Fixed] | None = None,
    idle: IdleCache | None = None,
    idle_into: dict[int, tuple[tuple[Any, ...], _Fixed]] | None = None,
) -> tuple[Session, ...] | None:
    """The rows as Sessions; a row equal to one of ``kept`` (all but the clock column)
    reuses what was decoded from it; what each row was decoded to goes ``into`` (``kept``
    itself when not given).

    At thousands of idle backends most rows are the same from one full read to the next;
    only their ages move with the clock. A row the server sent without the rest (see
    :func:`sessions_sql`) is taken from ``idle.idle_rows`` when its pid, state time and
    wait event are the ones kept there; when one is not, the answer is None (the caller
    reads again in full). Idle rows go ``idle_into`` by pid for the next full read.
    """
    now = _now(rows)
    if now is None:  # no row but rows sent without the rest: read again in full
        return None if rows else ()
    if kept is None:
        return tuple(_dated(_fixed(row, own, codec), now) for row in rows)
    into = kept if into is None else into
    idle_rows = idle.idle_rows if idle is not None else {}
    found = []
    for row in rows:
        values = tuple(row)
        if not values[_FRESH]:
            pid = values[_PID]
            entry = idle_rows.get(pid)
            if entry is None or entry[0] != _idle_key(values):
                return None
            fixed = entry[1]
            if fixed.is_self != (pid in own):
                fixed = fixed.with_self(pid in own)
        elif values[_BLOCKED] is not None:  # a lock waiter's blockers: a list, and it changes
            found.append(_dated(_fixed(values, own, codec), now))
            continue
        else:
            key = values[:-1]
            cached = kept.get(key)
            if cached is None or cached.is_self != (values[_PID] in own):
                cached = _fixed(values, own, codec)
            fixed = into[key] = cached
        if idle_into is not None and (idle_key := _idle_key(values)) is not None:
            idle_into[values[_PID]] = (idle_key, fixed)
        found.append(_dated(fixed, now))
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
    codec = server_codec(getattr(conn.get_settings(), "server_encoding", None))
    if idle is None:
        rows = await conn.fetch(sessions_sql(version_num))
        return _sessions(rows, own, codec, None) or (), _now(rows)
    if not full:
        rows = await conn.fetch(sessions_sql(version_num, with_idle=False))
        idle.partial_reads += 1
        found = _sessions(rows, own, codec, idle.decoded) or ()
        busy = {s.id for s in found}
        return found + tuple(s for s in idle.sessions if s.id not in busy), _now(rows)
    # a full read keeps what it decoded for the next one (and drops what went away)
    previous, idle.decoded = idle.decoded, {}
    idle_rows: dict[int, tuple[tuple[Any, ...], _Fixed]] = {}
    sessions: tuple[Session, ...] | None = None
    rows = []
    if idle.server_now is not None and idle.idle_rows:
        rows = await conn.fetch(sessions_sql(version_num, since=True), idle.server_now)
        sessions = _sessions(rows, own, codec, previous, idle.decoded, idle, idle_rows)
        if sessions is None:
            idle.misses += 1
            idle.decoded, idle_rows = {}, {}
    if sessions is None:
        rows = await conn.fetch(sessions_sql(version_num))
        sessions = _sessions(rows, own, codec, previous, idle.decoded, idle, idle_rows) or ()
    now = _now(rows)
    idle.idle_rows = idle_rows
    idle.server_now = now
    idle.sessions = tuple(s for s in sessions if s.state == "idle")
    idle.read_at = clock
    idle.total = len(sessions)
    return sessions, now


def _now(rows: Sequence[asyncpg.Record]) -> datetime | None:
    """The server's clock in a sessions read (rows sent without the rest have none)."""
    return next((row[-1] for row in rows if row[-1] is not None), None)


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
