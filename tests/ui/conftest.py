"""Fixtures for the UI tests: the recorded snapshots, a replaying engine, and an app
built on them with a frozen clock, no signal handlers and no animation."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from dbtop.model import Snapshot
from dbtop.ui.app import AppSettings, DbtopApp
from tests.ui.recorded import ReplayEngine, load_advice, load_plan, load_snapshots

#: one poll, then a wait longer than any test: polls happen when a test asks for them
TEST_INTERVAL = 3600.0
FROZEN_CLOCK = 5000.0


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own themes and keymap must not leak into the tests."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("DBTOP_THEME", raising=False)
    monkeypatch.delenv("DBTOP_KEYMAP", raising=False)


@pytest.fixture(scope="session")
def snapshots() -> list[Snapshot]:
    return load_snapshots()


def replay(snapshots: list[Snapshot], **kwargs: object) -> ReplayEngine:
    return ReplayEngine(list(snapshots), plan=load_plan(), advice=load_advice(), **kwargs)


@pytest.fixture
def engine(snapshots: list[Snapshot]) -> ReplayEngine:
    return replay(snapshots)


def make_app(
    engine: ReplayEngine, *, clock: Callable[[], float] | None = None, **settings: object
) -> DbtopApp:
    """The app on ``engine``; its clock (the poller's and the header's) is frozen unless a
    test brings one it moves (tests/ui/test_header_clock.py's ``Clock``)."""
    options = {"interval_s": TEST_INTERVAL, **settings}
    if engine.read_only:
        options["read_only"] = True
    return DbtopApp(
        lambda: engine,
        AppSettings(**options),  # type: ignore[arg-type]
        clock=clock or (lambda: FROZEN_CLOCK),
        handle_signals=False,
    )


@pytest.fixture
def app_for() -> Callable[..., DbtopApp]:
    return make_app


async def polled(pilot: Pilot, engine: ReplayEngine, polls: int = 2) -> None:
    """Wait until ``polls`` snapshots in all were taken and shown (the second has rates)."""
    app: DbtopApp = pilot.app  # type: ignore[assignment]

    def shown() -> bool:
        if app.results_shown >= polls:
            return True
        if engine.polls == app.results_shown:
            app.poller.refresh_now()  # the interval is long: ask for the next poll now
        return False

    await until(pilot, shown, f"{polls} snapshot(s) shown")
    await pilot.pause()


def without_locks(snapshot: Snapshot) -> Snapshot:
    sessions = tuple(
        dataclasses.replace(s, waiting_on_lock=False, blocked_by=()) for s in snapshot.sessions
    )
    return dataclasses.replace(snapshot, lock_waits=(), sessions=sessions)


async def until(
    pilot: Pilot, condition: Callable[[], object], what: str, timeout_s: float = 10.0
) -> None:
    """Wait until ``condition()`` holds, failing after ``timeout_s`` (a deadline, not a
    delay: it returns as soon as the condition is true)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause()  # lets the app handle its messages: no fixed delay
        await asyncio.sleep(0)
