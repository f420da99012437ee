"""The Blocked pane: what waits on what in Redis, as edges of the lock graph.

Redis has no locks; a client waits for data (BLPOP, BZPOPMIN, XREAD …), for replicas (WAIT),
for CLIENT PAUSE to end, or for a busy script that holds the whole server. Each of those is a
node of the graph with a word for an id (``list-push``, ``replica-ack``, ``pause``,
``script``; prefixed by the node in a cluster), so the tree reads "list-push ← 12 clients".
Redis does not report which keys a blocked client waits on, so ``object`` stays empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from dbtop.engines.redis.commands import PAUSE, SCRIPT, BlockingKind
from dbtop.model import LockWait, Session, frozen


def blocked_edges(
    blocked: Iterable[tuple[Session, BlockingKind]], *, now: datetime, prefix: str
) -> list[LockWait]:
    edges: list[LockWait] = []
    for session, kind in blocked:
        wait_s = session.duration_s
        edges.append(
            LockWait(
                waiter=session.id,
                blocker=f"{prefix}{kind.blocker}",
                mode=session.query,
                lock_type=kind.lock_type,
                object=None,
                wait_start=now - timedelta(seconds=wait_s) if wait_s is not None else None,
                wait_s=wait_s,
                node=session.node,
                extra=frozen(waits_for=kind.waits_for),
            )
        )
    return edges


def pause_session(paused: int, *, node: str | None, prefix: str) -> Session:
    """A row standing for CLIENT PAUSE, so that ``k`` on it runs CLIENT UNPAUSE."""
    return Session(
        id=f"{prefix}{PAUSE.blocker}",
        kind="pause",
        state="clients paused",
        query="CLIENT PAUSE",
        wait=f"{paused} client(s) postponed",
        node=node,
        extra=frozen(synthetic=True, postponed=paused),
    )


def script_session(
    *,
    node: str | None,
    prefix: str,
    command: str | None,
    name: str | None,
    duration_s: float | None,
    now: datetime,
) -> Session:
    """A row standing for the busy script or function; ``k``/``K`` on it kill the script."""
    return Session(
        id=f"{prefix}{SCRIPT.blocker}",
        kind="script",
        state="busy script",
        query=command or "EVAL / FCALL (Redis does not say which while it is busy)",
        application=name,
        duration_s=duration_s,
        query_start=now - timedelta(seconds=duration_s) if duration_s is not None else None,
        node=node,
        extra=frozen(synthetic=True, function=name),
    )


def script_edges(waiters: Iterable[Session], *, prefix: str) -> list[LockWait]:
    """Every other client waits while a script runs: Redis answers them BUSY."""
    return [
        LockWait(
            waiter=session.id,
            blocker=f"{prefix}{SCRIPT.blocker}",
            mode=session.query,
            lock_type=SCRIPT.lock_type,
            node=session.node,
            extra=frozen(waits_for=SCRIPT.waits_for),
        )
        for session in waiters
        if not session.is_self and session.kind not in ("script", "pause")
    ]
