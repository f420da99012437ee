"""The lock graph: InnoDB row-lock waits and metadata-lock waits as ``waiter -> blocker``.

Row locks: information_schema.INNODB_LOCK_WAITS (MariaDB, MySQL 5.7) or
performance_schema.data_lock_waits (MySQL 8), joined to INNODB_TRX for the blocking
transaction's age and statement.

Metadata locks: performance_schema.metadata_locks (MySQL 8 by default; MariaDB 10.5+ with the
``wait/lock/metadata/sql/mdl`` instrument enabled) lists granted and pending locks; MariaDB's
metadata_lock_info plugin lists granted ones only, so a waiter's request is inferred from its
statement and the state "Waiting for table metadata lock". The edges then follow the server's
own compatibility rules (sql/mdl.cc): a request waits for every conflicting granted lock, and
for every conflicting request queued ahead of it (a pending ALTER holds back new readers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from dbtop.model import LockWait, Session, frozen

INNODB_LOCK_WAITS = """
SELECT r.trx_mysql_thread_id AS waiter, b.trx_mysql_thread_id AS blocker,
       rl.lock_mode AS mode, rl.lock_type AS lock_type, rl.lock_table AS lock_table,
       rl.lock_index AS lock_index, rl.lock_data AS lock_data, bl.lock_mode AS held_mode,
       TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)) / 1000000 AS wait_s,
       r.trx_wait_started AS wait_started,
       TIMESTAMPDIFF(MICROSECOND, b.trx_started, NOW(6)) / 1000000 AS blocker_age_s,
       b.trx_query AS blocker_query, b.trx_state AS blocker_state,
       b.trx_rows_locked AS blocker_rows_locked
FROM information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
LEFT JOIN information_schema.INNODB_LOCKS rl ON rl.lock_id = w.requested_lock_id
LEFT JOIN information_schema.INNODB_LOCKS bl ON bl.lock_id = w.blocking_lock_id
"""

#: MySQL 8: data_locks is keyed by (ENGINE_LOCK_ID, ENGINE), threads by THREAD_ID, so the
#: joins are lookups even when thousands of row locks are held.
DATA_LOCK_WAITS = """
SELECT rt.PROCESSLIST_ID AS waiter, bt.PROCESSLIST_ID AS blocker,
       rl.LOCK_MODE AS mode, rl.LOCK_TYPE AS lock_type,
       CONCAT('`', rl.OBJECT_SCHEMA, '`.`', rl.OBJECT_NAME, '`') AS lock_table,
       rl.INDEX_NAME AS lock_index, rl.LOCK_DATA AS lock_data, bl.LOCK_MODE AS held_mode,
       TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)) / 1000000 AS wait_s,
       r.trx_wait_started AS wait_started,
       TIMESTAMPDIFF(MICROSECOND, b.trx_started, NOW(6)) / 1000000 AS blocker_age_s,
       b.trx_query AS blocker_query, b.trx_state AS blocker_state,
       b.trx_rows_locked AS blocker_rows_locked
FROM performance_schema.data_lock_waits w
JOIN performance_schema.threads rt ON rt.THREAD_ID = w.REQUESTING_THREAD_ID
JOIN performance_schema.threads bt ON bt.THREAD_ID = w.BLOCKING_THREAD_ID
LEFT JOIN performance_schema.data_locks rl
       ON rl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID AND rl.ENGINE = w.ENGINE
LEFT JOIN performance_schema.data_locks bl
       ON bl.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID AND bl.ENGINE = w.ENGINE
LEFT JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
LEFT JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
"""

#: pending metadata-lock requests first: almost always none, and then nothing else is read
MDL_PENDING = """
SELECT ml.OBJECT_TYPE, ml.OBJECT_SCHEMA, ml.OBJECT_NAME, ml.LOCK_TYPE, ml.LOCK_STATUS,
       ml.OWNER_EVENT_ID, t.PROCESSLIST_ID
FROM performance_schema.metadata_locks ml
JOIN performance_schema.threads t ON t.THREAD_ID = ml.OWNER_THREAD_ID
WHERE ml.LOCK_STATUS = 'PENDING'
"""

#: every lock on the objects someone waits for ({objects} is filled with literals)
MDL_ON_OBJECTS = """
SELECT ml.OBJECT_TYPE, ml.OBJECT_SCHEMA, ml.OBJECT_NAME, ml.LOCK_TYPE, ml.LOCK_STATUS,
       ml.OWNER_EVENT_ID, t.PROCESSLIST_ID
FROM performance_schema.metadata_locks ml
JOIN performance_schema.threads t ON t.THREAD_ID = ml.OWNER_THREAD_ID
WHERE ml.LOCK_STATUS IN ('GRANTED', 'PENDING') AND ({objects})
"""

#: MariaDB: millisecond wait times of the sessions waiting for a metadata lock
MDL_WAIT_TIMES = """
SELECT ID, TIME_MS FROM information_schema.PROCESSLIST
WHERE STATE LIKE 'Waiting for%metadata lock'
"""

#: MariaDB's metadata_lock_info plugin: granted table locks ({objects} as above)
MDL_PLUGIN = """
SELECT THREAD_ID, LOCK_MODE, LOCK_DURATION, LOCK_TYPE, TABLE_SCHEMA, TABLE_NAME
FROM information_schema.METADATA_LOCK_INFO
WHERE LOCK_TYPE = 'Table metadata lock' AND ({objects})
"""

# -- metadata-lock compatibility (sql/mdl.cc, MDL_lock::m_granted_incompatible and
# m_waiting_incompatible for object locks) ------------------------------------------------

_ORDER = ("S", "SH", "SR", "SW", "SWLP", "SU", "SRO", "SNW", "SNRW", "X")
_NAMES = {
    "SHARED": "S",
    "SHARED_HIGH_PRIO": "SH",
    "SHARED_READ": "SR",
    "SHARED_WRITE": "SW",
    "SHARED_WRITE_LOW_PRIO": "SWLP",
    "SHARED_UPGRADABLE": "SU",
    "SHARED_READ_ONLY": "SRO",
    "SHARED_NO_WRITE": "SNW",
    "SHARED_NO_READ_WRITE": "SNRW",
    "EXCLUSIVE": "X",
}
# Row: requested type; columns in _ORDER; "-" = must wait.
_GRANTED = {
    "S": "+++++++++-",
    "SH": "+++++++++-",
    "SR": "++++++++--",
    "SW": "++++++----",
    "SWLP": "++++++----",
    "SU": "+++++-+---",
    "SRO": "+++--+++--",
    "SNW": "+++---+---",
    "SNRW": "++--------",
    "X": "----------",
}
_PENDING = {
    "S": "+++++++++-",
    "SH": "++++++++++",
    "SR": "++++++++--",
    "SW": "+++++++---",
    "SWLP": "++++++----",
    "SU": "+++++++++-",
    "SRO": "+++-++++--",
    "SNW": "+++++++++-",
    "SNRW": "+++++++++-",
    "X": "++++++++++",
}


def mdl_short(lock_type: str | None) -> str | None:
    """``MDL_SHARED_READ`` / ``SHARED_READ`` -> ``SR``; None for types not in the matrix."""
    name = (lock_type or "").upper().removeprefix("MDL_")
    return _NAMES.get(name)


def _conflicts(requested: str | None, other: str | None, table: Mapping[str, str]) -> bool:
    req, oth = mdl_short(requested), mdl_short(other)
    if req is None or oth is None:
        # Scoped locks (schema, global): intention-exclusive only conflicts with shared and
        # exclusive ones; anything exclusive conflicts with everything.
        names = {
            (requested or "").upper().removeprefix("MDL_"),
            (other or "").upper().removeprefix("MDL_"),
        }
        return "EXCLUSIVE" in names or names == {"INTENTION_EXCLUSIVE", "SHARED"}
    return table[req][_ORDER.index(oth)] == "-"


def conflicts_with_granted(requested: str | None, granted: str | None) -> bool:
    return _conflicts(requested, granted, _GRANTED)


def conflicts_with_pending(requested: str | None, pending: str | None) -> bool:
    return _conflicts(requested, pending, _PENDING)


@dataclass(frozen=True, slots=True)
class MdlLock:
    """One metadata lock, granted or pending, held or asked for by a session."""

    session: str
    object_type: str
    schema: str | None
    name: str | None
    lock_type: str
    pending: bool
    #: order of the request among the pending ones (smaller: asked earlier); None unknown
    order: float | None = None
    inferred: bool = False

    @property
    def object(self) -> str:
        parts = [p for p in (self.schema, self.name) if p]
        return ".".join(parts) if parts else self.object_type.lower()


def mdl_edges(locks: Iterable[MdlLock]) -> list[LockWait]:
    """Edges from each pending request to the granted locks and earlier pending requests
    on the same object that it must wait for."""
    by_object: dict[tuple[str, str | None, str | None], list[MdlLock]] = {}
    for lock in locks:
        by_object.setdefault((lock.object_type, lock.schema, lock.name), []).append(lock)
    edges: list[LockWait] = []
    seen: set[tuple[str, str, str]] = set()
    for group in by_object.values():
        for waiter in (lk for lk in group if lk.pending):
            for other in group:
                if other.session == waiter.session or other is waiter:
                    continue
                if other.pending:
                    # Same wait time (a clock in whole seconds): the matrix is one-way for
                    # the pairs that matter (a reader behind a pending ALTER), so a tie
                    # counts as earlier without drawing a false ring.
                    earlier = (
                        waiter.order is not None
                        and other.order is not None
                        and other.order <= waiter.order
                    )
                    if not earlier or not conflicts_with_pending(waiter.lock_type, other.lock_type):
                        continue
                elif not conflicts_with_granted(waiter.lock_type, other.lock_type):
                    continue
                key = (waiter.session, other.session, waiter.object)
                if key in seen:
                    continue
                seen.add(key)
                edges.append(
                    LockWait(
                        waiter=waiter.session,
                        blocker=other.session,
                        mode=waiter.lock_type,
                        lock_type="metadata",
                        object=waiter.object,
                        held_mode=other.lock_type,
                        extra=frozen(
                            object_type=waiter.object_type,
                            blocker_pending=other.pending,
                            inferred=waiter.inferred,
                        ),
                    )
                )
    return edges


def pfs_mdl_locks(rows: Iterable[Mapping[str, Any]]) -> list[MdlLock]:
    locks = []
    for row in rows:
        if row.get("PROCESSLIST_ID") is None:
            continue
        pending = str(row.get("LOCK_STATUS")).upper() == "PENDING"
        locks.append(
            MdlLock(
                session=str(row["PROCESSLIST_ID"]),
                object_type=str(row.get("OBJECT_TYPE") or ""),
                schema=row.get("OBJECT_SCHEMA"),
                name=row.get("OBJECT_NAME"),
                lock_type=str(row.get("LOCK_TYPE") or ""),
                pending=pending,
            )
        )
    # Event ids count per thread and cannot order two sessions' requests: the caller orders
    # pending requests by their sessions' wait time (``with_wait_order``).
    return locks


def with_wait_order(locks: Iterable[MdlLock], waited_s: Mapping[str, float]) -> list[MdlLock]:
    """Order pending requests by how long their session has waited (longest: first)."""
    out = []
    for lk in locks:
        if lk.pending and lk.session in waited_s:
            out.append(
                MdlLock(
                    lk.session,
                    lk.object_type,
                    lk.schema,
                    lk.name,
                    lk.lock_type,
                    True,
                    -waited_s[lk.session],
                    lk.inferred,
                )
            )
        else:
            out.append(lk)
    return out


def objects_filter(
    objects: Iterable[tuple[str | None, str | None]], schema_col: str, name_col: str
) -> tuple[str, list[Any]]:
    """``(schema_col = %s AND name_col = %s) OR …`` and its arguments."""
    parts: list[str] = []
    args: list[Any] = []
    for schema, name in sorted(set(objects), key=lambda o: (o[0] or "", o[1] or "")):
        if name is None:
            continue
        if schema is None:
            parts.append(f"{name_col} = %s")
            args.append(name)
        else:
            parts.append(f"({schema_col} = %s AND {name_col} = %s)")
            args.extend((schema, name))
    return (" OR ".join(parts) or "FALSE"), args


# -- MariaDB's metadata_lock_info: waiters inferred from the process list -------------------


def mdl_waiters(sessions: Sequence[Session]) -> list[Session]:
    return [s for s in sessions if s.wait and "metadata lock" in s.wait.lower() and not s.is_self]


def requested_mdl(query: str | None) -> str:
    """The metadata lock a statement waits for, from its kind (sql/sql_parse.cc)."""
    head = (query or "").lstrip().split(None, 3)
    verb = head[0].upper() if head else ""
    if verb in ("ALTER", "DROP", "RENAME", "TRUNCATE", "OPTIMIZE", "REPAIR", "CREATE"):
        return "EXCLUSIVE"
    if verb in ("INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD"):
        return "SHARED_WRITE"
    if verb == "LOCK":
        return "SHARED_NO_READ_WRITE" if " WRITE" in (query or "").upper() else "SHARED_READ_ONLY"
    return "SHARED_READ"


def statement_tables(query: str | None, default_schema: str | None) -> list[tuple[str | None, str]]:
    """The tables a statement names, schema-qualified with the session's database."""
    if not query:
        return []
    try:
        tree = sqlglot.parse_one(query, read="mysql")
    except (SqlglotError, ValueError, RecursionError):
        return []
    if tree is None:
        return []
    found: dict[tuple[str | None, str], None] = {}
    for table in tree.find_all(exp.Table):
        name = table.name
        if not name:
            continue
        schema = table.db or default_schema
        found.setdefault((schema, name), None)
    return list(found)


def plugin_mdl_locks(
    rows: Iterable[Mapping[str, Any]], waiters: Sequence[Session]
) -> list[MdlLock]:
    """Granted locks from METADATA_LOCK_INFO plus one inferred pending request per table
    each waiting session's statement names."""
    locks = [
        MdlLock(
            session=str(row["THREAD_ID"]),
            object_type="TABLE",
            schema=row.get("TABLE_SCHEMA"),
            name=row.get("TABLE_NAME"),
            lock_type=str(row.get("LOCK_MODE") or "").upper().removeprefix("MDL_"),
            pending=False,
        )
        for row in rows
    ]
    for session in waiters:
        mode = requested_mdl(session.query)
        for schema, name in statement_tables(session.query, session.database):
            locks.append(
                MdlLock(
                    session=session.id,
                    object_type="TABLE",
                    schema=schema,
                    name=name,
                    lock_type=mode,
                    pending=True,
                    order=-(session.duration_s or 0.0),
                    inferred=True,
                )
            )
    return locks


# -- InnoDB row locks ------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def row_lock_edges(rows: Iterable[Mapping[str, Any]]) -> list[LockWait]:
    edges = []
    for row in rows:
        if row.get("waiter") is None or row.get("blocker") is None:
            continue
        table = row.get("lock_table")
        index = row.get("lock_index")
        obj = f"{table} index {index}" if table and index else table
        kind = str(row.get("lock_type") or "").upper()
        started = row.get("wait_started")
        edges.append(
            LockWait(
                waiter=str(row["waiter"]),
                blocker=str(row["blocker"]),
                mode=row.get("mode"),
                lock_type="row" if kind == "RECORD" else (kind.lower() or "row"),
                object=obj,
                held_mode=row.get("held_mode"),
                wait_start=started.replace(tzinfo=UTC) if isinstance(started, datetime) else None,
                wait_s=_float(row.get("wait_s")),
                extra=frozen(
                    table=table,
                    index=index,
                    lock_data=row.get("lock_data"),
                    blocker_age_s=_float(row.get("blocker_age_s")),
                    blocker_query=row.get("blocker_query"),
                    blocker_state=row.get("blocker_state"),
                    blocker_rows_locked=row.get("blocker_rows_locked"),
                ),
            )
        )
    return edges


def blocked_by(edges: Iterable[LockWait]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for edge in edges:
        ids = result.setdefault(edge.waiter, [])
        if edge.blocker not in ids:
            ids.append(edge.blocker)
    return result
