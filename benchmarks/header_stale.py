"""How long after its last result a silent server is shown as "stale" (issue 11, item 4).

    PYTHONPATH=src:. .venv/bin/python benchmarks/header_stale.py [INTERVAL ...]

The app runs headless on the recorded PostgreSQL snapshot (tests/ui/recorded.py) with the
real clock; after the first result every poll hangs (never answers). Printed per refresh
interval: the seconds from the last result to the header drawing "stale", and what the
header said then. Expected: ``stale_after(interval)`` (two intervals, at least the interval
plus 2 s) plus at most one header tick (0.5 s); before issue 11 the header never said
"stale" while a poll hung, and said "reconnecting" only at the poll timeout
(max(10 s, 3 x interval)).
"""

from __future__ import annotations

import asyncio
import sys
import time

from tests.ui.recorded import ReplayEngine, load_snapshots

from dbtop.model import Snapshot
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.widgets.header import Header, stale_after


class SilentEngine(ReplayEngine):
    def __init__(self) -> None:
        super().__init__(load_snapshots())
        self.hanging = False
        self.release = asyncio.Event()

    async def snapshot(self) -> Snapshot:
        if self.polls >= 1:
            self.hanging = True
            await self.release.wait()
        return await super().snapshot()


def first_line(app: DbtopApp) -> str:
    return app.screen.query_one(Header).render_line(0).text.rstrip()


async def measure(interval: float) -> None:
    engine = SilentEngine()
    app = DbtopApp(lambda: engine, AppSettings(interval_s=interval), handle_signals=False)
    async with app.run_test(size=(120, 35)):
        while not engine.hanging:
            await asyncio.sleep(0.01)
        last_ok = app.poller.status.last_ok
        assert last_ok is not None
        while "stale" not in first_line(app):
            await asyncio.sleep(0.02)
        took = time.monotonic() - last_ok
        state = first_line(app).rsplit("  ", 1)[-1].strip()
        print(
            f"-i {interval:g}: stale {took:.2f}s after the last result "
            f"(threshold {stale_after(interval):g}s), header: {state!r}"
        )
        engine.release.set()


def main() -> None:
    for interval in [float(a) for a in sys.argv[1:]] or [0.5, 2.0, 5.0]:
        asyncio.run(measure(interval))


if __name__ == "__main__":
    main()
