"""Waiting in tests for a condition, never for a fixed time.

A test that sleeps a fixed time is slow where the machine is fast and flaky where it is
busy. These helpers poll a predicate until it holds, up to a deadline, and fail with a
message that names what was awaited. The pause between two polls is short and does not
decide the outcome: only the condition does.

- :func:`wait_until` (async) and :func:`wait_until_sync` poll a predicate (for the async
  one it may be a coroutine function) and return its first truthy value;
- :func:`settled` lets a Textual app finish what a key started: its workers (kill, explain,
  suggest run in workers) and the messages they posted;
- :func:`loop_turns` lets every ready asyncio task run a few steps, without any clock: for
  asserting that something did *not* happen once everything that could happen has run.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: how long a wait may take before the test fails (slow CI machines included)
DEFAULT_TIMEOUT_S = 10.0
#: how often the predicate is asked again (no effect on the result, only on the latency)
POLL_EVERY_S = 0.02


class WaitTimeout(AssertionError):
    """A condition a test waited for did not come in time."""


async def wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str = "the condition",
    every: float = POLL_EVERY_S,
) -> T:
    """The first truthy value of ``predicate()`` (awaited when it returns an awaitable).

    An AssertionError raised by the predicate counts as "not yet" (so a predicate may use
    plain asserts); the last one is chained to the timeout's failure.
    """
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value]
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"waited {timeout:g} s for {what}, in vain") from last_error
        await asyncio.sleep(every)


def wait_until_sync(
    predicate: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str = "the condition",
    every: float = POLL_EVERY_S,
) -> T:
    """:func:`wait_until` for code without an event loop (threads, subprocesses)."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"waited {timeout:g} s for {what}, in vain") from last_error
        time.sleep(every)


async def loop_turns(turns: int = 50) -> None:
    """Let every task that is ready run ``turns`` more steps (no wall-clock delay)."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def settled(pilot: Any) -> None:
    """A Textual app (``pilot`` of ``App.run_test``) has run what the last keys started: its
    workers finished, the messages they posted were handled and the screen refreshed."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
