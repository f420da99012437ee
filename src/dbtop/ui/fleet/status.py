"""A target's status in words: live, stale (and why), reconnecting (and why), from its
poller's status and the clock. A poll that hangs leaves the poller "live" until its
deadline; the overview calls it stale as soon as the last answer is older than two
intervals, so a hung server is visible before its poll is cut off."""

from __future__ import annotations

from dbtop.humanize import human_seconds
from dbtop.poller import PollState, PollStatus

#: a live target with no answer for longer than this many intervals (plus one second) is
#: shown stale
STALE_AFTER_INTERVALS = 2.0


def status_word(status: PollStatus, now: float) -> str:
    """live, stale, reconnecting, connecting, paused or stopped."""
    if status.state is PollState.LIVE and _overdue(status, now) is not None:
        return "stale"
    return str(status.state)


def _overdue(status: PollStatus, now: float) -> float | None:
    if status.last_ok is None:
        return None
    age = now - status.last_ok
    return age if age > STALE_AFTER_INTERVALS * status.interval_s + 1 else None


def status_text(status: PollStatus, now: float) -> str:
    """One line: the state, and why while something is wrong."""
    state = status.state
    if state is PollState.LIVE:
        age = _overdue(status, now)
        if age is not None:
            return f"stale: no answer for {human_seconds(age)}"
        return "live"
    if state is PollState.RECONNECTING:
        if status.attempt_at is not None:
            when = f"connecting for {human_seconds(max(now - status.attempt_at, 0))}"
        elif status.retry_at is not None:
            when = f"retry in {human_seconds(max(status.retry_at - now, 0))}"
        else:
            when = "retrying"
        return f"reconnecting ({when}): {status.error or 'connection lost'}"
    if state is PollState.STALE:
        return f"stale: {status.error or 'the last poll failed'}"
    if state is PollState.CONNECTING:
        return "connecting"
    return str(state)
