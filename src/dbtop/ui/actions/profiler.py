"""``p`` turns the statement profiler on for a database (MongoDB's profiler): a write, so
never offered in read-only mode, and only where the engine says it can set it here."""

from __future__ import annotations

from dbtop.engines.base import Engine
from dbtop.errors import DbtopError, RefusedError
from dbtop.model import Feature
from dbtop.safetext import one_line
from dbtop.ui.actions.host import ActionHost
from dbtop.ui.screens.profiler import ProfilerChoice, ProfilerScreen


class ProfilerAction:
    def __init__(self, host: ActionHost) -> None:
        self.host = host

    def databases(self) -> tuple[str, ...] | None:
        """The databases ``p`` offers to profile, or None when it is not offered: read-only,
        an engine without a profiler switch, or one that says it cannot set it here."""
        host = self.host
        if host.dbtop.read_only:
            return None
        snapshot = host.latest_snapshot()
        if snapshot is None or not snapshot.capabilities.has(Feature.PROFILER):
            return None
        return snapshot.capabilities.profiler_databases

    def ask(self) -> None:
        host = self.host
        databases = self.databases()
        if databases is None:
            return
        if not databases:
            host.say("no database to profile was found", severity="warning")
            return

        def answered(choice: ProfilerChoice | None) -> None:
            if choice is not None:
                host.run_worker(self.run(choice), group="action")

        host.dbtop.push_screen(ProfilerScreen(databases), answered)

    async def run(self, choice: ProfilerChoice) -> None:
        host = self.host
        poller = host.dbtop.poller

        async def switch(engine: Engine) -> str:
            # The engine may have been replaced by a reconnect since the key was pressed.
            if not engine.capabilities.has(Feature.PROFILER):
                raise RefusedError("this engine has no profiler switch here")
            return await engine.set_profiling(choice.database, choice.slowms)

        try:
            line = await poller.call(switch)
        except DbtopError as err:
            host.say(one_line(str(err)), severity="error", timeout=8)
            return
        host.say(one_line(line), timeout=6)
        poller.refresh_now()
