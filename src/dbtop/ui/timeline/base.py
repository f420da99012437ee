"""What the app reads snapshots from, and the time line the keys move along.

``SnapshotSource`` is what the screens ask of ``app.poller``: the live ``Poller`` is one,
a recording being replayed (``replay.RecordingTimeline``) another. ``Timeline`` is the
sequence of samples that can be shown and the position on it; ``None`` as the position
means "live" (the newest, as it arrives).
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from dbtop.analysis.load import LoadSample, sample
from dbtop.engines.base import Engine
from dbtop.poller import PollResult, PollStatus

T = TypeVar("T")

#: the replay speeds ``<`` and ``>`` step through
SPEEDS: tuple[float, ...] = (1.0, 10.0, 60.0)
#: the most samples the load view decodes for one window (a replay decodes frames)
LOAD_MAX_SAMPLES = 600
#: the actions that act on the server now: off while the screen shows the past
OFF_IN_THE_PAST = frozenset({"kill", "explain", "explain_analyze", "suggest", "profiler"})


class SnapshotSource(Protocol):
    @property
    def status(self) -> PollStatus: ...

    @property
    def engine(self) -> Engine | None: ...

    @property
    def interval_s(self) -> float: ...

    @property
    def paused(self) -> bool: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    def toggle_pause(self) -> bool: ...

    def step_interval(self, step: int) -> float: ...

    def refresh_now(self) -> None: ...

    async def call(self, action: Callable[[Engine], Awaitable[T]]) -> T: ...


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Timeline:
    """Samples by time, and which one the screen shows (None: the live one)."""

    #: a recording (replay) rather than the live history
    replay = False
    #: why kill, explain and suggest are off while the past is shown
    refusal = "you are looking at the past: L returns to live"

    def __init__(self) -> None:
        self.index: int | None = None
        #: the load of each sample seen, by its time (analysis.load)
        self._loads: dict[float, LoadSample] = {}

    # -- what subclasses hold -------------------------------------------------------------

    @property
    def times(self) -> Sequence[float]:
        raise NotImplementedError

    def result(self, index: int) -> PollResult:
        raise NotImplementedError

    def gaps(self) -> Sequence[tuple[float, float]]:
        return ()

    def keep(self, result: PollResult) -> bool:
        """A live result arrived: keep it; True when the screen must not show it (it shows
        the past)."""
        return False

    def live_result(self) -> PollResult | None:
        """What L shows."""
        return None

    def note(self, now: float) -> str | None:
        """The header's words for the position, or None when live."""
        return None

    # -- moving -----------------------------------------------------------------------------

    @property
    def in_past(self) -> bool:
        return self.index is not None

    def position(self) -> int | None:
        """The index shown (the newest one while live); None when nothing is there yet."""
        if self.index is not None:
            return self.index
        return len(self.times) - 1 if self.times else None

    def after_step(self, samples: int) -> int | None:
        here = self.position()
        if here is None:
            return None
        return min(max(here + samples, 0), len(self.times) - 1)

    def after_seconds(self, seconds: float) -> int | None:
        here = self.position()
        if here is None:
            return None
        return self.at_or_before(self.times[here] + seconds, forward=seconds > 0)

    def at_or_before(self, seconds: float, *, forward: bool = False) -> int | None:
        times = self.times
        if not times:
            return None
        found = bisect.bisect_right(times, seconds + 1e-6) - 1
        if forward and found < len(times) - 1 and times[found] < seconds - 1e-6:
            found += 1  # a jump forward never stays put when there is a sample ahead
        return min(max(found, 0), len(times) - 1)

    def load_at(self, index: int) -> LoadSample:
        at = self.times[index]
        found = self._loads.get(at)
        if found is None:
            found = self._loads[at] = sample(self.result(index).snapshot)
        return found

    def load_window(self, span_s: float) -> list[LoadSample]:
        """The load of the samples of the ``span_s`` seconds up to the one shown."""
        end = self.position()
        if end is None:
            return []
        times = self.times
        start = times[end] - span_s
        found: list[LoadSample] = []
        index = end
        while index >= 0 and times[index] >= start and len(found) < LOAD_MAX_SAMPLES:
            found.append(self.load_at(index))
            index -= 1
        found.reverse()
        return found

    def go(self, index: int) -> PollResult:
        """Show sample ``index``; the live history returns to live at its newest."""
        self.index = index
        return self.result(index)
