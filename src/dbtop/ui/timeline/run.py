"""``dbtop replay FILE`` in the TUI: the live app, with a recording where the poller was."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dbtop.engines.base import Engine
from dbtop.errors import RefusedError
from dbtop.recording.reader import Recording
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.timeline.replay import RecordingTimeline


def _no_engine() -> Engine:
    raise RefusedError("a replay has no server to connect to")


class ReplayApp(DbtopApp):
    """Every pane, the same keys; the recording is the snapshot source and the time line."""

    TITLE = "dbtop replay"

    def __init__(self, recording: Recording, settings: AppSettings, **options: Any) -> None:
        super().__init__(_no_engine, settings, **options)
        self.recording = recording
        timeline = RecordingTimeline(
            recording,
            on_result=self._poll_arrived,
            on_status=self._poll_status_changed,
            clock=self.clock,
        )
        self.poller = timeline
        self.timeline = timeline


def replay_app(path: Path, settings: AppSettings | None = None, **options: Any) -> ReplayApp:
    return ReplayApp(Recording(path), settings or AppSettings(read_only=True), **options)


def run_replay(
    recording: Recording,
    args: argparse.Namespace,
    *,
    on_ready: Callable[[], object] | None = None,
) -> int:
    from dbtop.ui.bindings import all_binding_ids
    from dbtop.ui.collector import tune_for_ui
    from dbtop.ui.keymap import default_keymap_path, load_keymap

    settings = AppSettings(
        theme=getattr(args, "theme", None),
        read_only=True,
        layout=getattr(args, "layout", "auto"),
        show_idle=getattr(args, "all", False),
        long_query_s=getattr(args, "long_query", 10.0),
        keymap=load_keymap(default_keymap_path(), all_binding_ids()),
    )
    tune_for_ui()  # a long-lived UI, as the one-server one (ui/collector.py)
    app = ReplayApp(recording, settings, on_ready=on_ready)

    async def main() -> int | None:
        try:
            return await app.run_async()
        finally:
            await app.stop_polling()
            app.recording.close()

    return int(asyncio.run(main()) or 0)
