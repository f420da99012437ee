"""``dbtop [URL]``: the live UI (the default command).

``run_app`` is also what ``dbtop demo`` calls once its database is up.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from dbtop.cli import options, targets
from dbtop.cli.common import connect_options
from dbtop.engines.registry import create_engine
from dbtop.errors import ConnectError, DbtopError
from dbtop.poller import INTERVALS

if TYPE_CHECKING:
    from dbtop.ui.app import AppSettings

HELP = (
    "Watch the server live: sessions, slow queries, indexes and locks, with one-key kill, "
    "explain and index suggestions (press ? inside for every key)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets.add_targets_argument(parser)
    add_ui_arguments(parser)


def add_ui_arguments(parser: argparse.ArgumentParser) -> None:
    """The UI's own options; ``dbtop demo`` adds them too."""
    parser.add_argument(
        "--interval",
        "-i",
        type=options.interval,
        default=2.0,
        metavar="S",
        help=f"seconds between snapshots (default 2; 0.1 to 3600; + and - step through "
        f"{', '.join(f'{i:g}' for i in INTERVALS)})",
    )
    parser.add_argument(
        "--theme",
        default=None,
        metavar="NAME",
        help="dark (default), light, ansi (16 terminal colours; the default under NO_COLOR), "
        "a theme in ~/.config/dbtop/themes, a Textual theme name, or a .toml file",
    )
    parser.add_argument(
        "--layout",
        choices=("auto", "grid", "tabs"),
        default="auto",
        help="grid: all four panes at once; tabs: one at a time; auto (default): grid from "
        "160x45 up",
    )
    parser.add_argument(
        "--all", action="store_true", help="start with idle sessions shown (a toggles)"
    )
    parser.add_argument(
        "--long-query",
        type=options.interval,
        default=10.0,
        metavar="S",
        help="an active statement running this long stands out (default 10)",
    )


def run(args: argparse.Namespace) -> int:
    if targets.is_single_url(args):
        return run_app((args.url or [None])[0], args)
    chosen = targets.targets_of(args)
    if len(chosen) == 1:
        one = targets.for_target(chosen[0], args)
        return run_app(one.url, one)
    from dbtop.cli.fleet import run_fleet

    return run_fleet(chosen, args)


def run_app(
    url: str | None,
    args: argparse.Namespace,
    *,
    on_ready: Callable[[], object] | None = None,
) -> int:
    """Open the UI on ``url`` until the user quits; the exit status.

    ``args`` carries the global options (``--read-only``, timeouts) and the UI's
    (``--interval``, ``--theme`` …; missing ones take their defaults). ``on_ready`` is
    called with no argument once, after the first snapshot is on screen. A first
    connection that fails raises its DbtopError (one line, exit status 2).
    """
    # Imported here so `dbtop snapshot` and friends never pay for loading Textual.
    from dbtop.ui.app import DbtopApp
    from dbtop.ui.collector import freeze_start_up, tune_for_ui

    options = connect_options(args)
    create_engine(url, options)  # a bad URL or scheme fails here, before the screen opens
    settings = ui_settings(args, read_only=options.read_only)

    def ready() -> None:
        freeze_start_up()
        if on_ready is not None:
            on_ready()

    tune_for_ui()
    app = DbtopApp(lambda: create_engine(url, options), settings, on_ready=ready)

    async def main() -> int | None:
        try:
            return await app.run_async()
        finally:
            # Whatever ended the app (q, a signal, a crash), the server sees dbtop leave.
            await app.stop_polling()

    code = asyncio.run(main())
    if app.fatal is not None:
        if isinstance(app.fatal, DbtopError):
            raise app.fatal
        raise ConnectError(str(app.fatal) or type(app.fatal).__name__)
    if code is None and app.return_code not in (None, 0):
        return int(app.return_code)
    return int(code or 0)


def ui_settings(args: argparse.Namespace, *, read_only: bool) -> AppSettings:
    """The UI's settings from the command line (one server or a fleet; missing options take
    their defaults) and the user's keymap."""
    from dbtop.ui.app import AppSettings
    from dbtop.ui.bindings import all_binding_ids
    from dbtop.ui.fleet.screen import fleet_binding_ids
    from dbtop.ui.keymap import default_keymap_path, load_keymap

    return AppSettings(
        interval_s=getattr(args, "interval", 2.0),
        theme=getattr(args, "theme", None),
        read_only=read_only,
        layout=getattr(args, "layout", "auto"),
        show_idle=getattr(args, "all", False),
        long_query_s=getattr(args, "long_query", 10.0),
        keymap=load_keymap(default_keymap_path(), all_binding_ids() | fleet_binding_ids()),
    )
