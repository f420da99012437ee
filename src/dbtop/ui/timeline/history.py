"""The live TUI's history: the last 15 minutes, scrubbed with the replay keys.

Results are kept as they arrive (``recording.memory.MemoryRing``: compact frames, decoded
only when shown); the screen shows the past while ``index`` is set, and new polls go on
in the background, kept and not shown, until L (or stepping forward past the newest)
returns to live.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbtop.analysis.load import sample
from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.poller import PollResult
from dbtop.recording.memory import HISTORY_S, MemoryRing
from dbtop.ui.format import human_seconds
from dbtop.ui.timeline.base import Timeline, moment


class LiveHistory(Timeline):
    def __init__(self, span_s: float = HISTORY_S) -> None:
        super().__init__()
        self.ring = MemoryRing(span_s)
        self._newest: PollResult | None = None
        self._dropped_seen = 0

    @property
    def times(self) -> Sequence[float]:
        return self.ring.times

    def keep(self, result: PollResult) -> bool:
        self.ring.append(result.snapshot)
        self._newest = result
        # the load view's samples, computed once each (a pass over the sessions)
        self._loads[result.snapshot.taken_at.timestamp()] = sample(result.snapshot)
        if len(self._loads) > len(self.ring) + 64:
            first = self.ring.time_of(0)
            self._loads = {at: s for at, s in self._loads.items() if at >= first}
        if self.index is not None:
            # the front of the ring moves as old chains go: stay on the same sample
            moved = self.ring.dropped - self._dropped_seen
            self._dropped_seen = self.ring.dropped
            self.index = max(self.index - moved, 0)
            return True
        self._dropped_seen = self.ring.dropped
        return False

    def result(self, index: int) -> PollResult:
        if index == len(self.ring) - 1 and self._newest is not None:
            return self._newest
        snapshot = self.ring.snapshot(index)
        return PollResult(snapshot, build_lock_forest(snapshot.lock_waits), 0.0)

    def go(self, index: int) -> PollResult:
        if index >= len(self.ring) - 1 and self._newest is not None:
            self.index = None  # the newest is live
            return self._newest
        self._dropped_seen = self.ring.dropped
        return super().go(index)

    def live_result(self) -> PollResult | None:
        self.index = None
        return self._newest

    def note(self, now: float) -> str | None:
        if self.index is None:
            return None
        at = self.ring.time_of(self.index)
        back = max(self.ring.time_of(len(self.ring) - 1) - at, 0.0)
        when = moment(at).astimezone().strftime("%H:%M:%S")
        return f" HISTORY {when} · {human_seconds(back)} back · L live "
