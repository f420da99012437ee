"""A recording as the app's snapshot source: ``dbtop replay FILE``.

It stands where the live Poller stands (``app.poller``) and is the app's time line too: it
hands the screen the sample at the position (with its rates over the recorded interval
and its lock forest), plays forward at 1×, 10× or 60× the recorded pace, and refuses
every action on a server (kill, explain, suggest: this is history). Space plays and
pauses (the live UI's pause key); it opens paused on the first sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.engines.base import Engine
from dbtop.errors import RefusedError
from dbtop.poller import PollResult, PollState, PollStatus
from dbtop.recording.reader import Recording
from dbtop.ui.timeline.base import SPEEDS, Timeline, moment

T = TypeVar("T")

#: the most one step of play waits, whatever the recorded pace (a gap of an hour at 1×
#: would otherwise look like a hang)
MAX_STEP_WAIT_S = 2.0
MIN_STEP_WAIT_S = 0.02

ResultCallback = Callable[[PollResult], None]
StatusCallback = Callable[[PollStatus], None]


class RecordingTimeline(Timeline):
    replay = True
    refusal = "replay: this is history, kill, explain and suggest are off"

    def __init__(
        self,
        recording: Recording,
        *,
        on_result: ResultCallback,
        on_status: StatusCallback,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.recording = recording
        self.index = 0
        self.speed = SPEEDS[0]
        self._on_result = on_result
        self._on_status = on_status
        self._clock = clock
        self._playing = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = False
        interval = recording.interval_s() or 1.0
        self._status = PollStatus(PollState.PAUSED, interval, connected_once=True)
        self._gaps = tuple((g.start.timestamp(), g.end.timestamp()) for g in recording.gaps())

    # -- the time line ------------------------------------------------------------------

    @property
    def times(self) -> Sequence[float]:
        return self.recording.times

    def gaps(self) -> Sequence[tuple[float, float]]:
        return self._gaps

    @property
    def in_past(self) -> bool:
        return True

    def result(self, index: int) -> PollResult:
        snapshot = self.recording.snapshot(index)
        return PollResult(snapshot, build_lock_forest(snapshot.lock_waits), 0.0)

    def go(self, index: int) -> PollResult:
        self.index = index
        self._wake.set()  # a play step waiting restarts its wait from here
        return self.result(index)

    def live_result(self) -> PollResult | None:
        """L in a replay: the last sample (the file is re-read: it may still be growing)."""
        self.recording.reload()
        self._gaps = tuple((g.start.timestamp(), g.end.timestamp()) for g in self.recording.gaps())
        return self.go(len(self.recording) - 1) if len(self.recording) else None

    def note(self, now: float) -> str | None:
        if not len(self.recording):
            return " REPLAY (empty) "
        at = moment(self.recording.times[self.index or 0]).astimezone()
        state = "playing" if self.playing else "paused"
        return f" REPLAY {at:%Y-%m-%d %H:%M:%S} {state} {self.speed:g}× "

    def cycle_speed(self, step: int) -> float:
        here = SPEEDS.index(self.speed) if self.speed in SPEEDS else 0
        self.speed = SPEEDS[min(max(here + step, 0), len(SPEEDS) - 1)]
        self._wake.set()
        return self.speed

    @property
    def playing(self) -> bool:
        return self._playing.is_set()

    # -- standing in for the poller -----------------------------------------------------

    @property
    def status(self) -> PollStatus:
        return self._status

    @property
    def engine(self) -> Engine | None:
        return None

    @property
    def interval_s(self) -> float:
        return self._status.interval_s

    @property
    def paused(self) -> bool:
        return not self.playing

    async def run(self) -> None:
        self._emit()
        while not self._stopping:
            await self._playing.wait()
            if self._stopping:
                break
            self._wake.clear()
            index = self.index or 0
            if index >= len(self.recording) - 1:
                self._set_playing(False)  # the end of the recording: stop there
                continue
            pace = self.recording.times[index + 1] - self.recording.times[index]
            wait = min(max(pace / self.speed, MIN_STEP_WAIT_S), MAX_STEP_WAIT_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
                continue  # moved, sped up or paused meanwhile: wait again from there
            if self.playing and not self._stopping:
                self.index = min(index + 1, len(self.recording) - 1)
                self._emit()

    def _emit(self) -> None:
        if not len(self.recording):
            return
        self._on_result(self.result(self.index or 0))
        self._status = replace(self._status, last_ok=self._clock())

    async def stop(self) -> None:
        self._stopping = True
        self._playing.set()
        self._wake.set()
        self._set(PollState.STOPPED)

    def toggle_pause(self) -> bool:
        self._set_playing(not self.playing)
        return not self.playing

    def _set_playing(self, playing: bool) -> None:
        if playing and (self.index or 0) >= len(self.recording) - 1:
            self.index = 0  # play from the end starts over
            self._emit()
        if playing:
            self._playing.set()
        else:
            self._playing.clear()
        self._wake.set()
        self._set(PollState.LIVE if playing else PollState.PAUSED)

    def _set(self, state: PollState) -> None:
        self._status = replace(self._status, state=state)
        self._on_status(self._status)

    def step_interval(self, step: int) -> float:
        return self.interval_s

    def refresh_now(self) -> None:
        self._emit()

    async def call(self, action: Callable[[Engine], Awaitable[T]]) -> T:
        raise RefusedError(self.refusal)
