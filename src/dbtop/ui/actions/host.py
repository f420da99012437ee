"""What a controller needs from the screen it acts for."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from textual.worker import Worker

from dbtop.model import Snapshot
from dbtop.ui.panes.base import Selection

if TYPE_CHECKING:
    from dbtop.ui.app import DbtopApp


class ActionHost(Protocol):
    """The main screen, as the action controllers see it."""

    @property
    def dbtop(self) -> DbtopApp: ...

    def selection(self) -> Selection | None: ...

    def latest_snapshot(self) -> Snapshot | None: ...

    def say(self, message: str, **options: Any) -> None: ...

    def run_worker(self, work: Coroutine[Any, Any, Any], *, group: str = ...) -> Worker[Any]: ...
