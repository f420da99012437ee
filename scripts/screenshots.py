"""Regenerate screenshots/ with dbtop's own screenshot support (``App.save_screenshot``).

    .venv/bin/python scripts/screenshots.py [URL] [--out screenshots] [--wait-locks 60]

URL (or $DBTOP_SCREENSHOT_URL) is the server to show, normally the demo's:

    dbtop demo --serve            # prints the URL; then, in another terminal:
    .venv/bin/python scripts/screenshots.py postgresql://…

Each picture is taken at 100x30 and at 200x50, in the dark and in the ANSI (16-colour)
theme: the four panes one by one at 100x30 (all four at once at 200x50), the lock tree,
the kill confirmation for the root blocker, the plan view, the index suggestions, the
help and the Health view (best from a server with something to report: the README's
comes from a private server with the conditions of
tests/integration/postgresql/test_health.py; ``--only health`` takes just that one). With
``--replay FILE`` (a recording of ``dbtop record``): the replay and the load view, a minute
into the recording. The app runs headless on the real server; a picture is taken once its
data is on screen (a poll with rates, over three counter flushes; the plan and suggestions
loaded). The demo's lock chain comes and goes: the lock pictures wait for it up to
--wait-locks seconds.

SVG always; PNG too when cairosvg is installed (``pip install cairosvg``: it needs the
system's libcairo), rendered with a local monospace font.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from dbtop.engines.base import ConnectOptions
from dbtop.engines.registry import create_engine
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.screens.plan import PlanScreen
from dbtop.ui.screens.suggest import SuggestScreen
from dbtop.ui.widgets.rowtable import RowTable

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((100, 30), (200, 50))
THEMES = ("dark", "ansi")


@dataclass(frozen=True)
class Shot:
    name: str
    steps: Callable[[Pilot, DbtopApp], Awaitable[bool]]
    sizes: tuple[tuple[int, int], ...] = SIZES


async def _keys(pilot: Pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.05)


def _pane(number: str) -> Callable[[Pilot, DbtopApp], Awaitable[bool]]:
    async def steps(pilot: Pilot, app: DbtopApp) -> bool:
        await _keys(pilot, number)
        return True

    return steps


async def _wait(pilot: Pilot, ready: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        await pilot.pause(0.2)
    return ready()


def _locks(wait_s: float) -> Callable[[Pilot, DbtopApp], Awaitable[bool]]:
    async def steps(pilot: Pilot, app: DbtopApp) -> bool:
        await _keys(pilot, "4")
        return await _wait(
            pilot, lambda: bool(app.latest_result and app.latest_result.forest.roots), wait_s
        )

    return steps


def _kill(wait_s: float) -> Callable[[Pilot, DbtopApp], Awaitable[bool]]:
    async def steps(pilot: Pilot, app: DbtopApp) -> bool:
        if not await _locks(wait_s)(pilot, app):
            return False
        await _keys(pilot, "home", "k")
        return True

    return steps


async def _plan(pilot: Pilot, app: DbtopApp) -> bool:
    await _keys(pilot, "2")
    # The costliest SELECT: a plan worth looking at (utility statements have none).
    table = app.main_screen.query_one("#statements-table", RowTable)  # type: ignore[union-attr]
    for key in table.ordered_keys:
        item = table.item(key)
        if item is not None and item.query.lstrip().upper().startswith("SELECT"):
            table.move_cursor_to(key)
            break
    await _keys(pilot, "e")
    return await _wait(
        pilot, lambda: isinstance(app.screen, PlanScreen) and app.screen.plan is not None, 20
    )


async def _suggest(pilot: Pilot, app: DbtopApp) -> bool:
    await _keys(pilot, "i")
    return await _wait(
        pilot, lambda: isinstance(app.screen, SuggestScreen) and app.screen.result is not None, 60
    )


async def _help(pilot: Pilot, app: DbtopApp) -> bool:
    await _keys(pilot, "question_mark")
    return True


def shots(wait_locks: float) -> list[Shot]:
    small = (SIZES[0],)
    return [
        Shot("overview", _pane("1")),
        Shot("slow-queries", _pane("2"), small),
        Shot("indexes", _pane("3"), small),
        Shot("lock-tree", _locks(wait_locks)),
        Shot("kill-confirmation", _kill(wait_locks)),
        Shot("plan", _plan),
        Shot("suggestions", _suggest),
        Shot("help", _help, small),
        # the SSH terminal of an incident: what each pane keeps at 80x24
        Shot("sessions", _pane("1"), ((80, 24),)),
        Shot("locks", _locks(wait_locks), ((80, 24),)),
        Shot("health", _pane("5")),
    ]


def _has_rates(app: DbtopApp) -> bool:
    result = app.latest_result
    return app.results_shown >= 2 and result is not None and result.snapshot.rates is not None


async def take(url: str, shot: Shot, size: tuple[int, int], theme: str, out: Path) -> Path | None:
    options = ConnectOptions()
    app = DbtopApp(
        lambda: create_engine(url, options),
        AppSettings(interval_s=2.0, theme=theme),
        handle_signals=False,
    )
    path: Path | None = None
    async with app.run_test(size=size) as pilot:
        # rates need a window of three of the server's counter flushes (3 s on
        # PostgreSQL 15+): wait for a result that has them, not for a count of polls
        if not await _wait(pilot, lambda: _has_rates(app), 30):
            raise SystemExit(f"no data with rates from {url} after 30 s")
        if await shot.steps(pilot, app):
            await pilot.pause(0.5)
            name = f"{shot.name}-{size[0]}x{size[1]}-{theme}.svg"
            path = Path(app.save_screenshot(filename=name, path=str(out)))
        await app.stop_polling()
    return path


async def take_replay(
    recording: Path,
    name: str,
    keys: tuple[str, ...],
    size: tuple[int, int],
    theme: str,
    out: Path,
) -> Path:
    """``dbtop replay FILE`` after ``keys`` (issue 15: the replay and the load view)."""
    from dbtop.ui.timeline.run import replay_app

    app = replay_app(recording, AppSettings(read_only=True, theme=theme), handle_signals=False)
    async with app.run_test(size=size) as pilot:
        if not await _wait(pilot, lambda: app.results_shown >= 1, 30):
            raise SystemExit(f"no sample shown from {recording}")
        await _keys(pilot, *keys)
        await pilot.pause(0.5)
        path = Path(
            app.save_screenshot(filename=f"{name}-{size[0]}x{size[1]}-{theme}.svg", path=str(out))
        )
        await app.stop_polling()
    return path


async def replay_shots(recording: Path, out: Path) -> None:
    # a minute in: the time bar's position shows, and the load view has a window to sum
    for name, keys in (
        ("replay", ("right_curly_bracket",)),
        ("load", ("right_curly_bracket", "6")),
    ):
        for size in SIZES:
            for theme in THEMES:
                svg = await take_replay(recording, name, keys, size, theme, out)
                png = to_png(svg, size[0])
                print(f"{name} {size[0]}x{size[1]} {theme}: {svg}" + (" + png" if png else ""))


def to_png(svg: Path, columns: int) -> Path | None:
    try:
        import cairosvg
    except (ImportError, OSError):
        return None
    # The SVG names Fira Code (a web font); a local monospace renders the same cells.
    text = svg.read_text(encoding="utf-8").replace("Fira Code", "DejaVu Sans Mono")
    png = svg.with_suffix(".png")
    # About 9 pixels a column: sharp text, files small enough for a README.
    cairosvg.svg2png(
        bytestring=text.encode("utf-8"), write_to=str(png), output_width=columns * 9 + 40
    )
    return png


async def main_async(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    skipped: list[str] = []
    for shot in shots(args.wait_locks):
        if args.only and shot.name not in args.only:
            continue
        for size in shot.sizes:
            for theme in THEMES:
                svg = await take(args.url, shot, size, theme, out)
                label = f"{shot.name} {size[0]}x{size[1]} {theme}"
                if svg is None:
                    skipped.append(label)
                    continue
                made.append(svg)
                png = to_png(svg, size[0])
                print(
                    f"{label}: {svg.relative_to(out.parent) if out.is_absolute() else svg}"
                    + (" + png" if png else "")
                )
    if skipped:
        print("not taken (nothing to show at the time): " + ", ".join(skipped), file=sys.stderr)
    print(f"{len(made)} screenshot(s) in {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("DBTOP_SCREENSHOT_URL"))
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--wait-locks", type=float, default=60.0, metavar="S")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="only this picture (repeatable): "
        "overview, slow-queries, indexes, lock-tree, kill-confirmation, plan, suggestions, "
        "help, health",
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FILE",
        help="take the replay and load-view pictures from this recording instead",
    )
    args = parser.parse_args()
    if args.replay is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        asyncio.run(replay_shots(args.replay, out))
        return
    if not args.url:
        parser.error("give the server's URL (or set DBTOP_SCREENSHOT_URL)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
