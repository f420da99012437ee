"""The one-line refusals of a kill whose target is not the session the user confirmed.

Every engine checks, right before it sends a cancel or terminate, that the id still names
the session shown in the confirmation (``expected``): ids are reused (a PostgreSQL pid as
soon as the process is gone), and polls go on while the user reads the question. The
words are the same on every engine so that a refusal reads alike everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dbtop.errors import RefusedError


def clock(at: datetime, other: datetime | None = None) -> str:
    """A time of day in UTC, with microseconds when the second alone would not tell the
    two apart (a pid reused within the same second)."""
    mine = at.astimezone(UTC) if at.tzinfo else at
    if other is not None:
        theirs = other.astimezone(UTC) if other.tzinfo else other
        if mine.replace(microsecond=0) == theirs.replace(microsecond=0):
            return mine.strftime("%H:%M:%S.%f")
    return mine.strftime("%H:%M:%S")


def started_elsewhen(session_id: str, now: datetime, confirmed: datetime) -> RefusedError:
    """The id belongs to a newer session (a reused pid, a restarted server)."""
    return RefusedError(
        f"session {session_id} is no longer the one you confirmed: it started at "
        f"{clock(now, confirmed)}, the confirmed one at {clock(confirmed, now)}; "
        "nothing was sent"
    )


def changed(session_id: str, what: str) -> RefusedError:
    """Anything else that tells the two apart, said as ``what`` (e.g. "its user is b, the
    confirmed one's a")."""
    return RefusedError(
        f"session {session_id} is no longer the one you confirmed: {what}; nothing was sent"
    )


def new_statement(session_id: str, now: datetime, confirmed: datetime) -> RefusedError:
    """A cancel would stop a statement the user has not seen."""
    return RefusedError(
        f"session {session_id} started another statement at {clock(now, confirmed)} since "
        f"you confirmed cancelling the one of {clock(confirmed, now)}: cancel refused, "
        "nothing was sent (look again and confirm the new one)"
    )
