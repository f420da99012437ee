"""A target's status in words (the overview's Status column), from the poller's status."""

from __future__ import annotations

from dbtop.poller import PollState, PollStatus
from dbtop.ui.fleet.status import status_text, status_word


def test_a_live_target_without_an_answer_for_two_intervals_is_stale():
    status = PollStatus(PollState.LIVE, 2.0, last_ok=100.0, connected_once=True)
    assert (status_word(status, 104.0), status_text(status, 104.0)) == ("live", "live")
    assert status_word(status, 106.0) == "stale"
    assert status_text(status, 106.0) == "stale: no answer for 6.0s"


def test_reconnecting_says_when_and_why():
    status = PollStatus(
        PollState.RECONNECTING, 2.0, error="cannot reach db1:5432", retry_at=110.0, failures=2
    )
    assert status_text(status, 106.0) == "reconnecting (retry in 4.0s): cannot reach db1:5432"
    attempt = PollStatus(PollState.RECONNECTING, 2.0, error="x", attempt_at=100.0, failures=3)
    assert status_text(attempt, 103.0) == "reconnecting (connecting for 3.0s): x"


def test_a_failed_poll_is_stale_with_its_error():
    status = PollStatus(PollState.STALE, 2.0, error="canceling statement", failures=1)
    assert status_text(status, 0.0) == "stale: canceling statement"
