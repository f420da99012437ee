"""One server's figures at a glance, from one snapshot and its lock forest: what the fleet
overview shows in a row and what the Prometheus exporter publishes.

Pure (no I/O, no Textual): the overview and the metrics read the same numbers, so a server
is the same thing on screen and in Prometheus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from dbtop.analysis import load
from dbtop.analysis.lockgraph import LockForest
from dbtop.analysis.sessions import counts_as_active
from dbtop.model import Finding, Session, Severity, Snapshot

_SEVERITY_RANK: Mapping[Severity, int] = {
    Severity.CRITICAL: 2,
    Severity.WARNING: 1,
    Severity.INFO: 0,
}
#: the wait class of a session that is doing nothing (idle, hidden, dbtop's own)
NO_WAIT = "none"


@dataclass(frozen=True, slots=True)
class RootBlocker:
    session_id: str
    #: sessions released, directly or not, if it ended
    frees: int
    user: str | None = None
    query: str | None = None


@dataclass(frozen=True, slots=True)
class FleetFigures:
    engine: str
    address: str
    role: str | None
    #: per second of the engine's throughput counter (TPS, ops/s …), None without rates
    throughput: float | None
    throughput_label: str
    active_sessions: int
    #: distinct sessions waiting on a lock
    lock_waiters: int
    root_blockers: tuple[RootBlocker, ...]
    replication_lag_s: float | None
    #: the active session of someone else running longest now
    slowest: Session | None
    worst_finding: Finding | None
    #: (state, wait class) -> sessions, dbtop's own left out
    sessions_by_state: Mapping[tuple[str, str], int] = field(default_factory=dict)
    findings_by_kind: Mapping[tuple[str, str], int] = field(default_factory=dict)


def wait_class(engine: str, session: Session) -> str:
    """What an active session is doing, in the Load view's classes (analysis.load: CPU,
    Lock, LWLock/latch, I/O, Client, Other), so Prometheus and the screen agree and the
    label stays one of six whatever the engine's own wait words; ``none`` for the rest."""
    return load.wait_class(engine, session) if counts_as_active(session) else NO_WAIT


def session_state(session: Session) -> str:
    if session.hidden is not None:
        return "hidden"
    if session.is_idle:
        return "idle in transaction" if session.in_transaction else "idle"
    return session.state or "active"


def figures(snapshot: Snapshot, forest: LockForest) -> FleetFigures:
    server = snapshot.server
    rates = snapshot.rates
    throughput = (
        rates.server.get(server.throughput_counter)
        if rates is not None and server.throughput_counter and not rates.reset
        else None
    )
    others = [s for s in snapshot.sessions if not s.is_self]
    active = [s for s in others if counts_as_active(s)]
    slowest = max(
        (s for s in active if s.duration_s is not None),
        key=lambda s: s.duration_s or 0.0,
        default=None,
    )
    roots = []
    for node in forest.roots:
        session = snapshot.session(node.session_id)
        roots.append(
            RootBlocker(
                node.session_id,
                forest.frees(node.session_id)[1],
                session.user if session else None,
                session.query if session else None,
            )
        )
    roots.sort(key=lambda r: -r.frees)
    worst = max(
        snapshot.findings,
        key=lambda f: _SEVERITY_RANK.get(f.severity, 0),
        default=None,
    )
    states = Counter((session_state(s), wait_class(snapshot.engine, s)) for s in others)
    kinds = Counter((f.kind, str(f.severity)) for f in snapshot.findings)
    return FleetFigures(
        engine=snapshot.engine,
        address=server.address,
        role=server.role,
        throughput=throughput,
        throughput_label=server.throughput_label,
        active_sessions=len(active),
        lock_waiters=len(forest.waiter_ids),
        root_blockers=tuple(roots),
        replication_lag_s=server.replication_lag_s,
        slowest=slowest,
        worst_finding=worst,
        sessions_by_state=dict(states),
        findings_by_kind=dict(kinds),
    )
