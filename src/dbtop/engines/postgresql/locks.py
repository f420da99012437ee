"""Lock waits as edges waiter -> blocker, with what is waited for.

The blockers come from ``pg_blocking_pids()`` (collected with the sessions, only for lock
waiters), which is right with several blockers and with waiters queued ahead. pg_locks is
read once, and only when someone waits, for the waiter's ungranted lock (mode, type,
object, ``waitstart`` on 14+) and the mode each blocker holds on the same object. A blocker
that holds nothing there is queued ahead of the waiter with a conflicting request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from dbtop.engines.postgresql.text import decode, raw
from dbtop.model import LockWait, Session, frozen

_TARGET = (
    "locktype",
    "database",
    "relation",
    "page",
    "tuple",
    "virtualxid",
    "transactionid",
    "classid",
    "objid",
    "objsubid",
)


def locks_sql(version_num: int) -> str:
    waitstart = "l.waitstart" if version_num >= 140000 else "NULL::timestamptz"
    return f"""
        SELECT /* dbtop */ l.pid, l.granted, l.mode, l.locktype, l.database, l.relation,
               CASE WHEN l.relation IS NOT NULL
                    AND l.database IN (0, (SELECT oid FROM pg_database
                                           WHERE datname = current_database()))
                    THEN {raw("l.relation::regclass")} END AS relname,
               l.page, l.tuple, l.virtualxid, l.transactionid::text AS transactionid,
               l.classid, l.objid, l.objsubid, {waitstart} AS waitstart
        FROM pg_locks l
        WHERE l.pid = ANY($1::int[])
    """


def describe_object(lock: Mapping[str, Any]) -> str:
    kind = lock["locktype"]
    rel = lock["relname"] or (f"relation {lock['relation']}" if lock["relation"] else None)
    if kind == "relation":
        return rel or "relation"
    if kind == "tuple":
        return f"row ({lock['page']},{lock['tuple']}) of {rel}"
    if kind == "page":
        return f"page {lock['page']} of {rel}"
    if kind == "extend":
        return f"extension of {rel}"
    if kind == "transactionid":
        return f"transaction {lock['transactionid']}"
    if kind == "virtualxid":
        return f"virtual transaction {lock['virtualxid']}"
    if kind == "advisory":
        return f"advisory lock ({lock['classid']},{lock['objid']})"
    return f"{kind} ({lock['classid']},{lock['objid']},{lock['objsubid']})"


def _target(lock: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(lock[k] for k in _TARGET)


def build_edges(
    sessions: Sequence[Session], locks: Sequence[Mapping[str, Any]], now: datetime | None
) -> tuple[LockWait, ...]:
    waiting: dict[int, Mapping[str, Any]] = {}
    held: dict[int, dict[tuple[Any, ...], str]] = {}
    for row in locks:
        if row["granted"]:
            held.setdefault(row["pid"], {})[_target(row)] = row["mode"]
        else:
            waiting.setdefault(row["pid"], row)
    edges: list[LockWait] = []
    for session in sessions:
        if not session.blocked_by:
            continue
        lock = waiting.get(int(session.id))
        start: datetime | None = lock["waitstart"] if lock is not None else None
        if start is None and session.waiting_on_lock:
            # Before 14 the wait began, at the latest, when the state last changed.
            age = session.extra.get("state_age_s")
            start = None if age is None or now is None else now - timedelta(seconds=age)
        target = _target(lock) if lock is not None else None
        for blocker in session.blocked_by:
            held_mode = held.get(int(blocker), {}).get(target) if target else None
            edges.append(
                LockWait(
                    waiter=session.id,
                    blocker=blocker,
                    mode=lock["mode"] if lock else None,
                    lock_type=lock["locktype"] if lock else None,
                    object=describe_object(lock) if lock else None,
                    held_mode=held_mode,
                    wait_start=start,
                    wait_s=(now - start).total_seconds() if start and now else None,
                    extra=frozen(queued_ahead=True) if lock and held_mode is None else frozen(),
                )
            )
    return tuple(edges)


async def fetch_lock_waits(
    conn: asyncpg.Connection,
    version_num: int,
    sessions: Sequence[Session],
    now: datetime | None,
) -> tuple[LockWait, ...]:
    waiters = [s for s in sessions if s.blocked_by]
    if not waiters:
        return ()
    pids = {int(s.id) for s in waiters} | {int(b) for s in waiters for b in s.blocked_by}
    rows = await conn.fetch(locks_sql(version_num), sorted(pids))
    locks = [{**dict(row), "relname": decode(row["relname"])} for row in rows]
    return build_edges(sessions, locks, now)
