"""The workload on its own thread and event loop, beside the TUI's loop.

The TUI owns the main thread's loop; the demo's traffic must keep flowing when the UI is
busy and must not depend on how the UI schedules its own tasks. A thread with its own loop
gives both, and ``stop()`` ends it from the main thread without touching the UI's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from dbtop.demo.server import DemoError
from dbtop.demo.workload import Workload

READY_TIMEOUT_S = 30.0


class BackgroundWorkload:
    def __init__(self, url: str) -> None:
        self.url = url
        self._thread = threading.Thread(target=self._main, name="dbtop-demo-workload", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start the traffic; returns once every actor has connected."""
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise DemoError(f"the demo workload did not connect within {READY_TIMEOUT_S:.0f} s")
        if self._error is not None:
            raise DemoError(f"the demo workload failed: {self._error}")

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            # the loop may close between the check and the call when the thread ends alone
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported to the thread waiting in start()
            self._error = exc
        finally:
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        workload = Workload(self.url)
        runner = asyncio.create_task(workload.run(self._stop))
        ready = asyncio.create_task(workload.ready.wait())
        await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
        self._ready.set()
        ready.cancel()
        await runner
