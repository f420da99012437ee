"""The background collector: one engine, one snapshot per interval, never two at once.

Engine-neutral and Textual-free, so the UI, the benchmarks and the tests share it. Lessons
kept from dolphie and pg_activity:

- the next poll is armed only after the previous one finished, so a slow server never piles
  up overlapping polls (the pause between two polls is the interval minus the time the poll
  took, and never less than ``MIN_GAP_S``);
- a poll that hangs (a black-holed TCP connection) is cut off after ``poll_timeout_s`` and
  treated as a lost connection;
- a lost connection is re-opened with exponential backoff on a *new* engine object from
  ``engine_factory``, so no half-closed driver state survives;
- the user's actions (kill, explain, suggest) go through :meth:`Poller.call`, which never
  overlaps a poll: the protocol does not promise that an engine may run two operations at
  once on its connection.

Results and state changes are reported through plain callbacks; the UI turns them into its
own messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from dbtop.analysis.lockgraph import LockForest, build_lock_forest
from dbtop.analysis.rates import RateWindow
from dbtop.engines.base import ConnectOptions, Engine
from dbtop.errors import ConnectError, DbtopError
from dbtop.model import Snapshot
from dbtop.safetext import redact

T = TypeVar("T")

#: The refresh intervals ``+`` and ``-`` step through.
INTERVALS: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
#: Never poll closer than this, however long the previous poll took.
MIN_GAP_S = 0.1
#: Reconnect delays grow from the first to the last, doubling.
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
#: How long a user action (kill, explain, suggest) may take before the connection is
#: considered lost.
ACTION_TIMEOUT_S = 120.0
#: How long ``close()`` of an engine may take before it is abandoned.
CLOSE_TIMEOUT_S = 3.0


class PollState(enum.StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    PAUSED = "paused"
    #: the last poll failed (a query error, a timeout); the connection is kept
    STALE = "stale"
    #: the connection was lost; waiting ``retry_in_s`` before the next attempt
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PollStatus:
    state: PollState
    interval_s: float
    #: one line saying what went wrong last, while it is still wrong
    error: str | None = None
    #: the failure of the last connection attempt (the UI gives up on a first one that
    #: fails: a wrong password will not fix itself)
    exception: BaseException | None = None
    #: when the next connection attempt happens (monotonic clock), while reconnecting
    retry_at: float | None = None
    #: consecutive failures (0 while all is well)
    failures: int = 0
    #: when the connection attempt in flight began (monotonic clock), while one is: the
    #: header counts it, so a connect that hangs is not a frozen "reconnecting in 0s"
    attempt_at: float | None = None
    #: monotonic time of the last successful snapshot
    last_ok: float | None = None
    #: True once a first connection succeeded
    connected_once: bool = False


@dataclass(frozen=True, slots=True)
class PollResult:
    """One poll: the snapshot with its rates filled in, and its lock forest."""

    snapshot: Snapshot
    forest: LockForest
    #: how long ``engine.snapshot()`` took, seconds (client side)
    elapsed_s: float


ResultCallback = Callable[[PollResult], None]
StatusCallback = Callable[[PollStatus], None]


def next_interval(current: float, step: int) -> float:
    """The interval one step faster (-1) or slower (+1) on the ``INTERVALS`` ladder."""
    if step > 0:
        return next((i for i in INTERVALS if i > current + 1e-9), INTERVALS[-1])
    return next((i for i in reversed(INTERVALS) if i < current - 1e-9), INTERVALS[0])


def backoff_delay(failures: int) -> float:
    """1, 2, 4, 8 … seconds, capped at ``BACKOFF_MAX_S``."""
    return min(BACKOFF_FIRST_S * 2.0 ** max(failures - 1, 0), BACKOFF_MAX_S)


class Poller:
    """Collects snapshots from an engine in the background until :meth:`stop`."""

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        *,
        interval_s: float = 2.0,
        on_result: ResultCallback,
        on_status: StatusCallback,
        poll_timeout_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = engine_factory
        self._on_result = on_result
        self._on_status = on_status
        self._clock = clock
        self._poll_timeout_s = poll_timeout_s
        self._engine: Engine | None = None
        self._previous: Snapshot | None = None
        self._rates = RateWindow()
        self._gate = asyncio.Lock()
        self._wake = asyncio.Event()
        self._retime = asyncio.Event()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._stopping = False
        self._status = PollStatus(PollState.CONNECTING, interval_s)

    # -- state the UI reads -------------------------------------------------------------

    @property
    def status(self) -> PollStatus:
        return self._status

    @property
    def interval_s(self) -> float:
        return self._status.interval_s

    @property
    def paused(self) -> bool:
        return not self._resumed.is_set()

    @property
    def engine(self) -> Engine | None:
        """The connected engine, or None while (re)connecting."""
        return self._engine

    @property
    def latest(self) -> Snapshot | None:
        return self._previous

    # -- the user's controls ------------------------------------------------------------

    def pause(self) -> None:
        self._resumed.clear()
        self._set(state=PollState.PAUSED)

    def resume(self) -> None:
        if self.paused:
            self._resumed.set()
            self._set(state=PollState.LIVE if self._engine else PollState.CONNECTING)
            self._wake.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    def set_interval(self, seconds: float) -> None:
        self._set(interval_s=max(seconds, MIN_GAP_S))
        # The new interval applies to the wait already running, without a poll of its own:
        # tapping - five times must not fire five polls.
        self._retime.set()

    def step_interval(self, step: int) -> float:
        self.set_interval(next_interval(self.interval_s, step))
        return self.interval_s

    def refresh_now(self) -> None:
        self._wake.set()

    async def call(self, action: Callable[[Engine], Awaitable[T]]) -> T:
        """Run a user action on the engine between two polls (never during one).

        Bounded in time like a poll (more generously: an advisor run or an EXPLAIN ANALYZE
        takes a while): an action that hangs on a dead connection must not stop polling
        for good. A timeout or a driver failure that is not a DbtopError counts as a lost
        connection: it is closed, the poll loop reconnects, and the caller gets one line.
        """
        lost: str | None = None
        async with self._gate:
            engine = self._engine
            if engine is None:
                raise ConnectError(self._status.error or "not connected (reconnecting)")
            bound = max(ACTION_TIMEOUT_S, self._timeout())
            try:
                return await asyncio.wait_for(action(engine), bound)
            except (asyncio.CancelledError, DbtopError):
                raise
            except TimeoutError:
                lost = f"no answer from the server within {bound:.0f}s"
            except Exception as exc:  # a driver error an engine did not translate
                lost = f"{type(exc).__name__}: {_one_line(exc)}"
        await self._close_engine()
        self._wake.set()  # the loop sees no engine and reconnects now
        raise ConnectError(f"{lost}; reconnecting")

    async def stop(self) -> None:
        """Stop polling and close the connection (bounded in time)."""
        self._stopping = True
        self._wake.set()
        self._resumed.set()
        # Never close under a poll or an action still using the connection; a wait for the
        # gate that goes on too long (a hung server) gives up and closes anyway.
        acquired = False
        with contextlib.suppress(TimeoutError):
            acquired = await asyncio.wait_for(self._gate.acquire(), CLOSE_TIMEOUT_S)
        try:
            await self._close_engine()
        finally:
            if acquired:
                self._gate.release()
        self._set(state=PollState.STOPPED)

    # -- the loop -----------------------------------------------------------------------

    def _stop_asked(self) -> bool:
        # a call, not the attribute: the type checker would take ``_stopping`` as still
        # False after the ``while`` test, though stop() sets it while this task awaits
        return self._stopping

    async def run(self) -> None:
        """Connect, then poll until :meth:`stop`; re-raises only CancelledError."""
        try:
            while not self._stopping:
                if self._engine is None:
                    await self._connect()
                    continue
                await self._resumed.wait()
                if self._stop_asked():  # stop() may have run while paused
                    break
                # This poll answers every refresh asked for until now.
                self._wake.clear()
                started = self._clock()
                if await self._poll_once() is None:
                    continue
                await self._wait_next_poll(started, self._clock())
        finally:
            await self._close_engine()

    async def _connect(self) -> None:
        if self._status.failures:  # a reconnect (a first connect is reported as it ends)
            self._set(attempt_at=self._clock())
        try:
            await self._connect_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure: report it and retry later
            failures = self._status.failures + 1
            delay = backoff_delay(failures)
            self._set(
                state=PollState.RECONNECTING,
                error=_one_line(exc),
                exception=exc,
                failures=failures,
                retry_at=self._clock() + delay,
                attempt_at=None,
            )
            await self._sleep(delay)

    async def _connect_once(self) -> None:
        engine = self._factory()
        try:
            await engine.connect()
        except BaseException:
            await _close_quietly(engine)
            raise
        if self._stopping:
            await _close_quietly(engine)
            return
        self._engine = engine
        self._set(
            state=PollState.PAUSED if self.paused else PollState.LIVE,
            error=None,
            exception=None,
            retry_at=None,
            attempt_at=None,
            connected_once=True,
        )

    async def _poll_once(self) -> PollResult | None:
        failure: tuple[bool, str] | None = None  # (connection lost?, message)
        async with self._gate:
            # An action that ran while this poll waited may have dropped the engine.
            engine = self._engine
            if engine is None:
                return None
            started = self._clock()
            try:
                snapshot = await asyncio.wait_for(engine.snapshot(), self._timeout())
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                failure = (True, f"no answer from the server within {self._timeout():.0f}s")
            except ConnectError as exc:
                failure = (True, _one_line(exc))
            except DbtopError as exc:
                failure = (False, _one_line(exc))
            except Exception as exc:  # an engine bug must not kill the loop
                failure = (True, f"{type(exc).__name__}: {_one_line(exc)}")
            elapsed = self._clock() - started
        # Failures are handled outside the gate: their backoff must not hold up an action.
        if failure is not None:
            lost, message = failure
            await (self._lost(message) if lost else self._failed(message))
            return None
        snapshot = self._rates.advance(snapshot)
        self._previous = snapshot
        forest = build_lock_forest(snapshot.lock_waits)
        self._set(
            state=PollState.PAUSED if self.paused else PollState.LIVE,
            error=None,
            exception=None,
            failures=0,
            retry_at=None,
            last_ok=self._clock(),
        )
        result = PollResult(snapshot, forest, elapsed)
        self._on_result(result)
        return result

    def _timeout(self) -> float:
        if self._poll_timeout_s is not None:
            return self._poll_timeout_s
        # A backstop only: every engine bounds each round trip on the client
        # (ConnectOptions.deadline_s) and its connect (connect_timeout_s), so a silent
        # server fails the poll there first, with the engine's own words. This catches an
        # engine that does not, and never cuts a poll the engine's deadlines still allow.
        options = getattr(self._engine, "options", None)
        engine_bound = 0.0
        if isinstance(options, ConnectOptions):
            engine_bound = options.connect_timeout_s + 1 + options.deadline_s + 2
        return max(10.0, 3 * self.interval_s, engine_bound)

    async def _failed(self, message: str) -> None:
        """A poll failed but the connection may be fine: stale, retry after a backoff."""
        failures = self._status.failures + 1
        delay = backoff_delay(failures)
        self._set(
            state=PollState.STALE, error=message, failures=failures, retry_at=self._clock() + delay
        )
        await self._sleep(delay)

    async def _lost(self, message: str) -> None:
        """The connection is gone: close it and reconnect after a backoff."""
        await self._close_engine()
        failures = self._status.failures + 1
        delay = backoff_delay(failures)
        self._set(
            state=PollState.RECONNECTING,
            error=message,
            failures=failures,
            retry_at=self._clock() + delay,
        )
        await self._sleep(delay)

    async def _wait_next_poll(self, started: float, finished: float) -> None:
        """Until ``interval`` after the last poll began (at least MIN_GAP_S after it ended),
        recomputed when the interval changes; a refresh request or stop ends it."""
        while True:
            self._retime.clear()
            due = max(started + self.interval_s, finished + MIN_GAP_S)
            remaining = due - self._clock()
            if remaining <= 0:
                return
            wake = asyncio.ensure_future(self._wake.wait())
            retime = asyncio.ensure_future(self._retime.wait())
            try:
                done, _ = await asyncio.wait(
                    (wake, retime), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                wake.cancel()
                retime.cancel()
            if wake in done or not done:
                self._wake.clear()
                return

    async def _sleep(self, seconds: float) -> None:
        """Wait, but wake early for stop, a new interval or a refresh request."""
        # Cleared after waking, not before: a refresh asked for during a poll still counts.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _close_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await _close_quietly(engine)

    def _set(self, **changes: object) -> None:
        error = changes.get("error")
        if isinstance(error, str):
            # a driver's message may quote the URL it was given, password and all: the
            # status is what every screen, message and log line shows
            changes["error"] = redact(error)
        status = replace(self._status, **changes)  # type: ignore[arg-type]
        if status != self._status:
            self._status = status
            self._on_status(status)


async def _close_quietly(engine: Engine) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(engine.close(), CLOSE_TIMEOUT_S)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
