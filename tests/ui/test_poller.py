"""The poller on its own (no Textual): rates, lock forest, pause, interval, actions that
never overlap a poll, stale on a failed poll, reconnect with backoff on a lost one."""

from __future__ import annotations

import asyncio

import pytest

from dbtop.errors import AuthError, ConnectError, QueryError
from dbtop.model import KillMode, Snapshot
from dbtop.poller import (
    INTERVALS,
    Poller,
    PollResult,
    PollState,
    PollStatus,
    backoff_delay,
    next_interval,
)
from tests.ui.conftest import replay


class Collect:
    def __init__(self) -> None:
        self.results: list[PollResult] = []
        self.statuses: list[PollStatus] = []

    def poller(self, factory, **kwargs) -> Poller:
        return Poller(
            factory, on_result=self.results.append, on_status=self.statuses.append, **kwargs
        )

    async def until(self, predicate, what: str) -> None:
        for _ in range(500):
            if predicate():
                return
            await asyncio.sleep(0.01)  # between two checks of the predicate (a deadline)
        raise AssertionError(f"never happened: {what}")


def test_interval_ladder_and_backoff():
    assert next_interval(2.0, 1) == 3.0
    assert next_interval(2.0, -1) == 1.0
    assert next_interval(INTERVALS[0], -1) == INTERVALS[0]
    assert next_interval(INTERVALS[-1], 1) == INTERVALS[-1]
    assert next_interval(2.5, 1) == 3.0
    assert [backoff_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(50) == 30.0


async def test_polls_give_rates_and_the_lock_forest(snapshots: list[Snapshot]):
    engine = replay(snapshots)
    seen = Collect()
    poller = seen.poller(lambda: engine, interval_s=0.1)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: len(seen.results) >= 2, "two polls")
    await poller.stop()
    await task
    first, second = seen.results[:2]
    assert first.snapshot.rates is None
    assert second.snapshot.rates is not None
    assert second.snapshot.rates.statements  # recorded a second apart: real rates
    assert second.forest.roots and second.forest.max_depth == 2
    assert seen.statuses[0].state is PollState.LIVE
    assert seen.statuses[-1].state is PollState.STOPPED
    assert engine.closed >= 1 and not engine.connected


async def test_pause_resume_and_interval(snapshots: list[Snapshot]):
    engine = replay(snapshots)
    seen = Collect()
    poller = seen.poller(lambda: engine, interval_s=3600)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: len(seen.results) == 1, "first poll")
    poller.pause()
    assert poller.status.state is PollState.PAUSED
    poller.refresh_now()
    await asyncio.sleep(0.1)  # the behaviour under test: no poll in this window
    assert len(seen.results) == 1, "a paused poller does not poll"
    poller.resume()
    await seen.until(lambda: len(seen.results) >= 2, "poll after resume")
    assert poller.step_interval(-1) == 60.0
    assert poller.step_interval(1) == 3600.0 or poller.interval_s == INTERVALS[-1]
    await poller.stop()
    await task


async def test_actions_wait_for_the_poll_in_progress(snapshots: list[Snapshot]):
    order: list[str] = []
    engine = replay(snapshots)
    slow = asyncio.Event()
    original = engine.snapshot

    async def slow_snapshot() -> Snapshot:
        order.append("poll start")
        await slow.wait()
        order.append("poll end")
        return await original()

    engine.snapshot = slow_snapshot  # type: ignore[method-assign]
    seen = Collect()
    poller = seen.poller(lambda: engine, interval_s=3600)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: order == ["poll start"], "poll started")

    async def kill() -> None:
        order.append("kill")
        await engine.kill("1", KillMode.CANCEL)

    action = asyncio.create_task(poller.call(lambda _engine: kill()))
    await asyncio.sleep(0.05)  # the behaviour under test: the action does not start meanwhile
    assert order == ["poll start"], "the action waits for the poll"
    slow.set()
    await action
    assert order == ["poll start", "poll end", "kill"]
    await poller.stop()
    await task


async def test_a_failed_poll_is_stale_and_retried(snapshots: list[Snapshot]):
    engine = replay(snapshots)
    original = engine.snapshot
    failures = [QueryError("canceling statement due to statement timeout")]

    async def flaky() -> Snapshot:
        if failures:
            raise failures.pop()
        return await original()

    engine.snapshot = flaky  # type: ignore[method-assign]
    seen = Collect()
    poller = seen.poller(lambda: engine, interval_s=0.1)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: seen.results, "a poll after the failure")
    stale = [s for s in seen.statuses if s.state is PollState.STALE]
    assert stale and "statement timeout" in (stale[0].error or "")
    assert engine.closed == 0, "a query error keeps the connection"
    assert seen.statuses[-1].state is PollState.LIVE and seen.statuses[-1].error is None
    await poller.stop()
    await task


async def test_a_lost_connection_reconnects_on_a_new_engine(
    snapshots: list[Snapshot], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("dbtop.poller.BACKOFF_FIRST_S", 0.05)
    engines = []

    def factory():
        engine = replay(snapshots)
        if not engines:
            original = engine.snapshot
            calls = [0]

            async def dies() -> Snapshot:
                calls[0] += 1
                if calls[0] > 1:
                    raise ConnectError("server closed the connection unexpectedly")
                return await original()

            engine.snapshot = dies  # type: ignore[method-assign]
        engines.append(engine)
        return engine

    seen = Collect()
    poller = seen.poller(factory, interval_s=0.05)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: len(seen.results) >= 2, "a poll on the new connection")
    states = [s.state for s in seen.statuses]
    assert PollState.RECONNECTING in states
    reconnecting = next(s for s in seen.statuses if s.state is PollState.RECONNECTING)
    assert "closed the connection" in (reconnecting.error or "")
    assert reconnecting.retry_at is not None
    assert len(engines) == 2 and engines[0].closed >= 1
    await poller.stop()
    await task


async def test_a_hung_poll_is_cut_off(snapshots: list[Snapshot], monkeypatch):
    monkeypatch.setattr("dbtop.poller.BACKOFF_FIRST_S", 0.05)
    engines = []

    def factory():
        engine = replay(snapshots)
        if not engines:

            async def hangs() -> Snapshot:
                await asyncio.sleep(3600)  # a server that never answers (under test)
                raise AssertionError

            engine.snapshot = hangs  # type: ignore[method-assign]
        engines.append(engine)
        return engine

    seen = Collect()
    poller = seen.poller(factory, interval_s=0.05, poll_timeout_s=0.1)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: seen.results, "a poll after the hung one")
    assert any("no answer" in (s.error or "") for s in seen.statuses)
    await poller.stop()
    await task


async def test_a_failing_first_connect_is_reported(snapshots: list[Snapshot]):
    engine = replay(snapshots, fail_connect=AuthError("password authentication failed"))
    seen = Collect()
    poller = seen.poller(lambda: engine, interval_s=0.1)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: seen.statuses, "a status")
    status = seen.statuses[0]
    assert status.state is PollState.RECONNECTING
    assert isinstance(status.exception, AuthError) and not status.connected_once
    await poller.stop()
    await task


async def test_a_hung_or_broken_action_drops_the_connection_and_polling_goes_on(
    snapshots: list[Snapshot], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("dbtop.poller.ACTION_TIMEOUT_S", 0.1)
    monkeypatch.setattr("dbtop.poller.BACKOFF_FIRST_S", 0.05)
    engines = []

    def factory():
        engines.append(replay(snapshots))
        return engines[-1]

    seen = Collect()
    poller = seen.poller(factory, interval_s=0.05, poll_timeout_s=0.1)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: seen.results, "a first poll")

    async def hangs(engine) -> None:
        await asyncio.sleep(3600)  # a server that never answers (under test)

    with pytest.raises(ConnectError, match="no answer"):
        await poller.call(hangs)
    polls = len(seen.results)
    await seen.until(lambda: len(seen.results) > polls, "a poll after the hung action")
    assert len(engines) >= 2 and engines[0].closed >= 1

    async def breaks(engine) -> None:
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ConnectError, match="ConnectionResetError"):
        await poller.call(breaks)
    polls = len(seen.results)
    await seen.until(lambda: len(seen.results) > polls, "a poll after the broken action")
    await poller.stop()
    await task


async def test_a_new_interval_applies_to_the_running_wait_without_extra_polls(
    snapshots: list[Snapshot],
):
    engine = replay(snapshots)
    seen = Collect()
    poller = seen.poller(lambda: engine, interval_s=3600)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: len(seen.results) == 1, "first poll")
    for _ in range(5):
        poller.set_interval(1800)
    await asyncio.sleep(0.2)  # the behaviour under test: no extra poll in this window
    assert len(seen.results) == 1, "changing the interval is no refresh"
    poller.set_interval(0.2)  # shorter than the time already waited: due now
    await seen.until(lambda: len(seen.results) >= 2, "the poll at the new interval")
    await poller.stop()
    await task


async def test_no_password_from_an_error_is_in_the_status(snapshots: list[Snapshot]):
    """A driver's message may quote the URL with its password: the status every screen
    shows (the one-server header, the fleet's rows) holds it redacted."""
    secret = "hunter2pw"
    refused = ConnectError(f"refused postgresql://app:{secret}@db1/x?password={secret}")
    seen = Collect()
    poller = seen.poller(lambda: replay(snapshots, fail_connect=refused), interval_s=0.1)
    task = asyncio.create_task(poller.run())
    await seen.until(lambda: seen.statuses, "a status")
    await poller.stop()
    await task
    errors = [status.error for status in seen.statuses if status.error]
    assert errors and all(secret not in error for error in errors)
    assert "postgresql://app:***@db1/x?password=***" in errors[0]
