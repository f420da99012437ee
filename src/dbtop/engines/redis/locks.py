"""The Blocked pane: what waits on what in Redis, as edges of the lock graph.

Redis has no locks; a client waits for data (BLPOP, BZPOPMIN, XREAD …), for replicas (WAIT),
for CLIENT PAUSE to end, or for a busy script that holds the whole server.

A busy script and CLIENT PAUSE are real states of the server, drawn as a node that stands
for them (``script``, ``pause``; ``k`` on it kills the script or unpauses). A wait for data
has no holder at all: no session holds the list a BLPOP waits on. Its clients are grouped by
command under a node that says so (``list:BLPOP``, ``stream:XREAD``, ``replicas:WAIT``,
``module:FT.SEARCH``; prefixed by the node in a cluster), each edge carrying ``no_holder``
("waiting on a list (BLPOP)") so no view draws the group as a blocker, and the JSON says
the same. Two BLPOPs on different keys share the group: the keys are not known (Redis
reports none for a blocked client: ``commands.KEYS_UNKNOWN``), so ``object`` stays empty
and ``extra.keys`` says why, rather than a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from dbtop.engines.redis.commands import (
    KEYS_UNKNOWN,
    PAUSE,
    SCRIPT,
    BlockingKind,
    wait_node,
    wait_phrase,
)
from dbtop.model import LockWait, Session, frozen


def blocked_edges(
    blocked: Iterable[tuple[Session, BlockingKind]], *, now: datetime, prefix: str
) -> list[LockWait]:
    edges: list[LockWait] = []
    for session, kind in blocked:
        wait_s = session.duration_s
        cmd = session.query or ""
        facts: dict[str, object] = {"waits_for": kind.waits_for}
        if kind.group is not None:
            facts.update(no_holder=wait_phrase(kind, cmd), keys=None, keys_unknown=KEYS_UNKNOWN)
        edges.append(
            LockWait(
                waiter=session.id,
                blocker=f"{prefix}{wait_node(kind, cmd)}",
                mode=session.query,
                lock_type=kind.lock_type,
                object=None,
                wait_start=now - timedelta(seconds=wait_s) if wait_s is not None else None,
                wait_s=wait_s,
                node=session.node,
                extra=frozen(facts),
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
