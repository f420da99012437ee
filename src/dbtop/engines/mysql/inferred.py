"""Metadata-lock waits with no view of the holder (MariaDB's default: performance_schema's
MDL instrument off and metadata_lock_info not installed): the probable holders.

A metadata lock taken inside a transaction is held until the transaction ends, so every
session whose transaction began before the wait may hold the lock; an earlier waiter asking
for a conflicting lock on the same table is queued ahead. LOCK TABLES opens no InnoDB
transaction and leaves nothing to infer from. Every edge is marked inferred, with why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC

from dbtop.engines.mysql.locks import (
    mdl_edges,
    plugin_mdl_locks,
    requested_mdl,
    statement_tables,
    with_wait_order,
)
from dbtop.model import LockWait, Session, frozen

#: probable holders drawn per waiter (a busy server has many open transactions)
MAX_INFERRED = 10


def _since(session: Session) -> str:
    start = session.xact_start
    return f" since {start.astimezone(UTC):%H:%M:%S}" if start is not None else ""


def inferred_mdl_edges(
    waiters: Sequence[Session], sessions: Sequence[Session], waited_s: Mapping[str, float]
) -> list[LockWait]:
    """Edges for metadata-lock waits when no view names the holder."""
    edges: list[LockWait] = []
    requests = plugin_mdl_locks([], waiters)
    queued = mdl_edges(with_wait_order(requests, waited_s))
    for edge in queued:
        edges.append(
            LockWait(
                waiter=edge.waiter,
                blocker=edge.blocker,
                mode=edge.mode,
                lock_type=edge.lock_type,
                object=edge.object,
                held_mode=edge.held_mode,
                wait_s=waited_s.get(edge.waiter),
                extra=frozen(
                    edge.extra,
                    relation="queued ahead",
                    inferred_reason=f"queued ahead, asking for {edge.held_mode}",
                ),
            )
        )
    wanted = {w.id: statement_tables(w.query, w.database) for w in waiters}

    def waited_for(session: Session) -> float:
        return waited_s.get(session.id, session.duration_s or 0.0)

    def may_hold(holder: Session, waiter: Session) -> bool:
        if holder.id not in wanted:
            return True
        # A session waiting for the same table does not hold it; one waiting elsewhere may,
        # but MariaDB breaks metadata-lock deadlocks at once, so only the later waiter is
        # drawn as the holder (never a ring the server would not let stand).
        same_table = set(wanted[holder.id]) & set(wanted[waiter.id])
        return not same_table and waited_for(holder) < waited_for(waiter)

    for waiter in waiters:
        waited = waited_for(waiter)
        tables = wanted[waiter.id]
        obj = ", ".join(".".join(p for p in t if p) for t in tables) or None
        holders = [
            s
            for s in sessions
            if s.id != waiter.id
            and not s.is_self
            and s.in_transaction
            and s.xact_age_s is not None
            and s.xact_age_s >= waited
            and may_hold(s, waiter)
        ]
        # The same schema first (the likelier holder), then the oldest transaction.
        holders.sort(key=lambda s: (s.database != waiter.database, -(s.xact_age_s or 0.0), s.id))
        for holder in holders[:MAX_INFERRED]:
            edges.append(
                LockWait(
                    waiter=waiter.id,
                    blocker=holder.id,
                    mode=requested_mdl(waiter.query),
                    lock_type="metadata",
                    object=obj,
                    wait_s=waited,
                    extra=frozen(
                        object_type="TABLE",
                        blocker_pending=False,
                        inferred=True,
                        relation="open transaction",
                        inferred_reason=f"open transaction{_since(holder)}",
                        more_blockers=max(len(holders) - MAX_INFERRED, 0),
                    ),
                )
            )
    return edges
