"""``dbtop A B …`` / ``dbtop GROUP``: several servers in one UI (ui/fleet)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from dbtop.cli import targets as cli_targets
from dbtop.engines.base import ConnectOptions, Engine
from dbtop.engines.registry import create_engine
from dbtop.targets import Target


def engine_factory(url: str | None, options: ConnectOptions) -> Callable[[], Engine]:
    return lambda: create_engine(url, options)


def run_fleet(chosen: list[Target], args: argparse.Namespace) -> int:
    from dbtop.cli.tui import ui_settings
    from dbtop.ui.collector import tune_for_ui
    from dbtop.ui.fleet.app import FleetApp, FleetTarget

    fleet: list[FleetTarget] = []
    for target in chosen:
        url = cli_targets.connect_url(target)
        options = cli_targets.target_options(target, args)
        create_engine(url, options)  # a bad URL or scheme fails here, before the screen
        fleet.append(
            FleetTarget(
                name=target.name,
                engine_factory=engine_factory(url, options),
                interval_s=target.interval_s,
                read_only=options.read_only,
            )
        )
    settings = ui_settings(args, read_only=args.read_only)
    tune_for_ui()  # a long-lived UI, as the one-server one (ui/collector.py)
    app = FleetApp(fleet, settings)

    async def main() -> int | None:
        try:
            return await app.run_async()
        finally:
            await app.stop_polling()

    return int(asyncio.run(main()) or 0)
