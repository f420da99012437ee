"""What a session is in an incident, from the session and the lock forest alone: idle in a
transaction, a root blocker, a blocker, a waiter, a long-running statement, dbtop's own.

Pure (no I/O, no Textual): the TUI's Sessions pane and the one-shot CLI both classify
with these, so a session is the same thing in both.

The one-letter flags, most urgent first: ``B`` root blocker, ``W`` waits on a lock, ``b``
blocks others, ``T`` idle in transaction, ``L`` long running, ``*`` dbtop's own connection
(``""`` none of these).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dbtop.analysis.lockgraph import LockForest
from dbtop.model import Session

ROOT_BLOCKER = "B"
WAITING = "W"
BLOCKER = "b"
IDLE_IN_TRANSACTION = "T"
LONG_RUNNING = "L"
OWN = "*"
NO_FLAG = ""

#: what each flag means, for a legend
FLAG_MEANINGS: Mapping[str, str] = {
    ROOT_BLOCKER: "root blocker",
    WAITING: "waits on a lock",
    BLOCKER: "blocks others",
    IDLE_IN_TRANSACTION: "idle in transaction",
    LONG_RUNNING: "long running",
    OWN: "dbtop's own connection",
}

#: how urgent each flag is (higher first when sorted by urgency); dbtop's own is last
_FLAG_RANK: Mapping[str, int] = {
    ROOT_BLOCKER: 6,
    WAITING: 5,
    BLOCKER: 4,
    IDLE_IN_TRANSACTION: 3,
    LONG_RUNNING: 2,
    NO_FLAG: 1,
    OWN: 0,
}


def is_hidden(session: Session) -> bool:
    """The role may not see what it does (``Session.hidden`` says why): never idle, never
    counted as active, never left out with the idle ones."""
    return session.hidden is not None


def counts_as_active(session: Session) -> bool:
    """A session of someone else that is known to be doing something."""
    return not session.is_idle and not session.is_self and session.hidden is None


def hidden_label(session: Session) -> str:
    """What the state column says of a hidden session."""
    return f"hidden: {session.hidden}"


def idle_in_transaction(session: Session) -> bool:
    """Engines differ on whether "idle in transaction" is idle; the state word settles it."""
    state = (session.state or "").casefold()
    return session.in_transaction and (session.is_idle or state.startswith("idle"))


def is_root_blocker(session: Session, forest: LockForest) -> bool:
    """It blocks others and waits for nobody: ending it releases its whole tree."""
    return session.id in forest.root_ids


def blocks_others(session: Session, forest: LockForest) -> bool:
    return session.id in forest.blocker_ids


def is_waiting(session: Session) -> bool:
    """It waits on a lock (the engine's own word, or the blockers it names)."""
    return session.waiting_on_lock or bool(session.blocked_by)


def is_long_running(session: Session, long_query_s: float) -> bool:
    """An active statement running at least ``long_query_s`` seconds."""
    return not session.is_idle and (session.duration_s or 0) >= long_query_s


def activity_counts(sessions: Iterable[Session]) -> tuple[int, int]:
    """(active, hidden): how many are known to be doing something, and how many the role
    may not see (which may be doing anything)."""
    active = hidden = 0
    for session in sessions:
        if is_hidden(session):
            hidden += 1
        elif counts_as_active(session):
            active += 1
    return active, hidden


def session_flag(session: Session, forest: LockForest, long_query_s: float) -> str:
    """The one-letter flag of ``session``: the most urgent of what it is (see module doc)."""
    if session.is_self:
        return OWN
    if is_root_blocker(session, forest):
        return ROOT_BLOCKER
    if is_waiting(session):
        return WAITING
    if blocks_others(session, forest):
        return BLOCKER
    if idle_in_transaction(session):
        return IDLE_IN_TRANSACTION
    if is_long_running(session, long_query_s):
        return LONG_RUNNING
    return NO_FLAG


def flag_rank(flag: str) -> int:
    """How urgent a flag is: higher is more urgent (unknown flags rank as none)."""
    return _FLAG_RANK.get(flag, _FLAG_RANK[NO_FLAG])


def hidden_when_idle_hidden(session: Session, forest: LockForest) -> bool:
    """Left out while idle sessions are hidden: idle, outside a transaction, blocking
    nobody (an idle session that holds locks others wait on always shows)."""
    return (
        session.is_idle
        and session.hidden is None
        and not session.in_transaction
        and not blocks_others(session, forest)
    )
