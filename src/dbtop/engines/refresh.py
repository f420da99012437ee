"""Things a poll re-reads only every N seconds (a database's size, a big catalog, the
keyspace sample), kept between reads. One helper so every engine caches the same way."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Every(Generic[T]):
    """A value re-read at most every ``period_s`` seconds; the last one in between.

    A failed read is retried on the next poll (the time of a read is taken only once it
    has succeeded), so one timeout does not blank a figure for a whole period.
    """

    def __init__(
        self, period_s: float, initial: T, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.period_s = period_s
        self.value = initial
        self._clock = clock
        self._read_at: float | None = None

    @property
    def age_s(self) -> float | None:
        """Seconds since the last successful read; None before the first."""
        return None if self._read_at is None else self._clock() - self._read_at

    def due(self, period_s: float | None = None) -> bool:
        age = self.age_s
        return age is None or age >= (self.period_s if period_s is None else period_s)

    def set(self, value: T) -> None:
        """Keep ``value`` as read now: for a part read in the same round trip as others."""
        self.value = value
        self._read_at = self._clock()

    def invalidate(self) -> None:
        self._read_at = None

    async def get(self, fetch: Callable[[], Awaitable[T]], period_s: float | None = None) -> T:
        """The cached value, re-read with ``fetch`` when it is due (``period_s`` overrides
        the period for this call: 0 reads now)."""
        if self.due(period_s):
            self.value = await fetch()
            self._read_at = self._clock()
        return self.value
