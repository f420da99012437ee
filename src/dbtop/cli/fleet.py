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
    from dbtop.ui.app import AppSettings
    from dbtop.ui.bindings import all_binding_ids
    from dbtop.ui.collector import tune_for_ui
    from dbtop.ui.fleet.app import FleetApp, FleetTarget
    from dbtop.ui.fleet.screen import fleet_binding_ids
    from dbtop.ui.keymap import default_keymap_path, load_keymap

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
    settings = AppSettings(
        interval_s=getattr(args, "interval", 2.0),
        theme=getattr(args, "theme", None),
        read_only=args.read_only,
        layout=getattr(args, "layout", "auto"),
        show_idle=getattr(args, "all", False),
        long_query_s=getattr(args, "long_query", 10.0),
        keymap=load_keymap(default_keymap_path(), all_binding_ids() | fleet_binding_ids()),
    )
    tune_for_ui()  # a long-lived UI, as the one-server one (ui/collector.py)
    app = FleetApp(fleet, settings)

    async def main() -> int | None:
        try:
            return await app.run_async()
        finally:
            await app.stop_polling()

    return int(asyncio.run(main()) or 0)
