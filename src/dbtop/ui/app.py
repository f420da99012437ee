"""The Textual app: owns the poller, the theme and the keymap; the main screen shows.

Never freezes: the poller runs as a task on the app's event loop and hands each snapshot
over as a message; every engine action goes through ``Poller.call`` in a worker, so no
key waits on the server. Leaves no ghost: SIGHUP and SIGTERM end the app, and its exit
closes the engine's connections (bounded in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App
from textual.message import Message
from textual.theme import Theme

from dbtop.engines.base import Engine
from dbtop.model import Feature
from dbtop.poller import Poller, PollResult, PollStatus
from dbtop.ui import theming
from dbtop.ui.commands import DbtopCommands
from dbtop.ui.messages import PollArrived, PollStatusChanged
from dbtop.ui.panes.base import ViewOptions
from dbtop.ui.screens.main import CSS_FILE as MAIN_CSS
from dbtop.ui.screens.main import MainScreen
from dbtop.ui.timeline.base import SnapshotSource, Timeline
from dbtop.ui.timeline.history import LiveHistory

#: how often the terminal is checked for having gone away (a dropped SSH session whose
#: SIGHUP was lost), seconds
TERMINAL_CHECK_S = 2.0
#: the most a signal-driven exit waits for the connections to close and the screen to be
#: restored before the process ends anyway
LEAVE_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class AppSettings:
    interval_s: float = 2.0
    #: short name, theme name, built-in Textual theme or .toml path; None: the default
    #: (or the ANSI theme when NO_COLOR is set)
    theme: str | None = None
    read_only: bool = False
    #: "auto" (grid from 160x45 up), "grid" or "tabs"
    layout: str = "auto"
    show_idle: bool = False
    long_query_s: float = 10.0
    keymap: Mapping[str, str] = field(default_factory=dict)
    user_themes_dir: Path | None = None


class DbtopApp(App[int]):
    TITLE = "dbtop"
    CSS_PATH: ClassVar = [Path(__file__).with_suffix(".tcss"), MAIN_CSS]
    COMMANDS: ClassVar = App.COMMANDS | {DbtopCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        settings: AppSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_ready: Callable[[], object] | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.settings = settings or AppSettings()
        self.dbtop_themes: dict[str, Theme] = theming.load_themes(self.settings.user_themes_dir)
        chosen = theming.resolve(theming.choose_theme_name(self.settings.theme), self.dbtop_themes)
        super().__init__()
        for theme in self.dbtop_themes.values():
            self.register_theme(theme)
        self.register_theme(chosen)
        self.theme = chosen.name
        # Over SSH an animation is latency and bandwidth for nothing.
        self.animation_level = "none"
        self.read_only = self.settings.read_only
        self.clock = clock
        self._engine_factory = engine_factory
        self.poller: SnapshotSource = Poller(
            self._make_engine,
            interval_s=self.settings.interval_s,
            on_result=self._poll_arrived,
            on_status=self._poll_status_changed,
            clock=clock,
        )
        self.latest_result: PollResult | None = None
        #: the samples the time keys move along (the last 15 minutes; a recording in replay)
        self.timeline: Timeline = LiveHistory()
        #: how many snapshots were shown (tests and benchmarks wait on it)
        self.results_shown = 0
        #: the first connection failed: run_app reports it and exits with status 2
        self.fatal: BaseException | None = None
        self.main_screen: MainScreen | None = None
        self._on_ready = on_ready
        self._first_result_seen = False
        self._handle_signals = handle_signals
        self._poll_task: asyncio.Task[None] | None = None
        self._stopped = False
        self._leaving = False
        self._leave_task: asyncio.Task[None] | None = None
        if self.settings.keymap:
            self.set_keymap(dict(self.settings.keymap))

    # -- set-up and tear-down -----------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        view = ViewOptions(
            show_idle=self.settings.show_idle, long_query_s=self.settings.long_query_s
        )
        screen = MainScreen(layout=self.settings.layout, view=view)
        self.main_screen = screen
        return screen

    def get_css_variables(self) -> dict[str, str]:
        variables = theming.with_row_defaults(super().get_css_variables())
        self.theme_variables = variables
        return variables

    def on_load(self) -> None:
        # Polling starts before the screen is built: the connection's round trips wait on
        # the server while Textual reads its CSS and composes the panes, so the first
        # snapshot is there sooner (the screen shows the latest result when it mounts).
        self._poll_task = asyncio.create_task(self.poller.run(), name="dbtop-poller")

    def on_mount(self) -> None:
        self._parent_pid = os.getppid()
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(signum, self._signalled, signum)
            self.set_interval(TERMINAL_CHECK_S, self._check_terminal)

    def _signalled(self, signum: int) -> None:
        if not self._leaving:
            self._leaving = True
            self._leave_task = asyncio.create_task(self._leave(signum))

    async def _leave(self, signum: int) -> None:
        """Leave on a signal: the server's connections first, then the process.

        When the terminal is gone (SIGHUP) there is nothing to restore, and Textual's own
        shutdown can hang writing to it (the kernel follows SIGHUP with SIGCONT, which
        restarts Textual's output thread): the process ends right after the connections
        are closed. On SIGTERM the terminal is restored, with a deadline all the same.
        """
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.stop_polling(), LEAVE_TIMEOUT_S)
        code = 128 + signum
        if signum == signal.SIGHUP:
            os._exit(code)
        timer = threading.Timer(LEAVE_TIMEOUT_S, os._exit, args=(code,))
        timer.daemon = True
        timer.start()
        self.exit(code)

    def _check_terminal(self) -> None:
        """Leave when the terminal is gone but its SIGHUP was lost: never run without one."""
        try:
            # Reparented (the shell that started us died): PID 1 by itself is no sign, a
            # shell in a container may be PID 1 from the start.
            gone = not os.isatty(0) or os.getppid() != self._parent_pid
        except OSError:
            gone = True
        if gone:
            self._signalled(signal.SIGHUP)

    async def stop_polling(self) -> None:
        """Stop the poller and close the connections; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        await self.poller.stop()
        task, self._poll_task = self._poll_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def on_unmount(self) -> None:
        await self.stop_polling()
        if self._handle_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(signum)

    async def action_quit(self) -> None:
        await self.stop_polling()
        self.exit(0)

    def _make_engine(self) -> Engine:
        """A new engine for each (re)connection, told the user's idle choice: the poller
        re-creates engines, and the choice must survive a reconnect."""
        engine = self._engine_factory()
        engine.include_idle = self.settings.show_idle
        return engine

    def set_show_idle(self, show: bool) -> None:
        """The idle toggle: kept in the settings (for the next engine) and, on an engine
        that leaves idle sessions out of its polls, applied to the current one with a poll
        right away so the idle rows arrive."""
        self.settings = replace(self.settings, show_idle=show)
        engine = self.poller.engine
        if engine is None:
            return  # reconnecting: the next engine is made with the new choice
        engine.include_idle = show
        if engine.capabilities.has(Feature.IDLE_ON_REQUEST):
            self.poller.refresh_now()

    # -- data from the poller -----------------------------------------------------------

    def _poll_arrived(self, result: PollResult) -> None:
        """The poller delivered: keep it as the latest, and hand it to the main screen
        (unless the screen shows the past: the history keeps it for later)."""
        if self.timeline.keep(result):
            return
        self.latest_result = result
        self._to_main_screen(PollArrived(result))

    def show_past(self, result: PollResult) -> None:
        """Show a sample of the time line (history, replay) as the screen's current one."""
        self.latest_result = result
        self._to_main_screen(PollArrived(result))

    def _poll_status_changed(self, status: PollStatus) -> None:
        self._to_main_screen(PollStatusChanged(status))

    def _to_main_screen(self, message: Message) -> None:
        screen = self.main_screen
        if screen is not None and screen.is_mounted:
            # The screen shows it, then the message bubbles up here (the handlers below).
            screen.post_message(message)
        else:
            # Before the screen is up: it shows the latest result when it mounts.
            self.post_message(message)

    @on(PollArrived)
    def _poll_shown(self, message: PollArrived) -> None:
        self.results_shown += 1
        if not self._first_result_seen:
            self._first_result_seen = True
            if self._on_ready is not None:
                self.call_after_refresh(self._on_ready)

    @on(PollStatusChanged)
    def _poll_status_shown(self, message: PollStatusChanged) -> None:
        status = message.status
        if status.exception is not None and not status.connected_once:
            # A first connection that fails (wrong password, no such host, server down)
            # is the user's to fix: say it on one line and leave, like psql.
            self.fatal = status.exception
            self.exit(2)

    # -- themes -------------------------------------------------------------------------

    def use_theme(self, name: str) -> None:
        theme = theming.resolve(name, self.dbtop_themes)
        self.register_theme(theme)
        self.theme = theme.name
