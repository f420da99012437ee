"""One target as the exporter sees it: the latest poll, the poller's status, and dbtop's
own counters (polls, errors, poll time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from dbtop.poller import PollResult, PollState, PollStatus


class TargetMetrics:
    """Fed from the poller's thread (the event loop), read by the scrape thread: each
    update replaces whole immutable values under a lock."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self.result: PollResult | None = None
        self.status: PollStatus | None = None
        self.polls_total = 0
        self.errors_total = 0
        self.poll_seconds_total = 0.0
        self.last_poll_seconds: float | None = None

    def observe_result(self, result: PollResult) -> None:
        with self._lock:
            self.result = result
            self.polls_total += 1
            self.poll_seconds_total += result.elapsed_s
            self.last_poll_seconds = result.elapsed_s

    def observe_status(self, status: PollStatus) -> None:
        with self._lock:
            previous = self.status.failures if self.status is not None else 0
            if status.failures > previous:
                self.errors_total += status.failures - previous
            self.status = status

    def read(self) -> tuple[PollResult | None, PollStatus | None, int, int, float, float | None]:
        with self._lock:
            return (
                self.result,
                self.status,
                self.polls_total,
                self.errors_total,
                self.poll_seconds_total,
                self.last_poll_seconds,
            )

    def is_up(self) -> bool:
        """Live, with an answer no older than two intervals (plus a second)."""
        status = self.status
        if status is None or status.state not in (PollState.LIVE, PollState.PAUSED):
            return False
        if status.last_ok is None:
            return False
        return self._clock() - status.last_ok <= 2 * status.interval_s + 1

    def snapshot_age_s(self) -> float | None:
        status = self.status
        if status is None or status.last_ok is None:
            return None
        return max(self._clock() - status.last_ok, 0.0)
