"""What the poller tells the screens, as Textual messages.

The app posts each one to the main screen when the poller delivers it; the screen shows it
(``@on(PollArrived)``, ``@on(PollStatusChanged)``) and the message then bubbles up to the
app, which counts a result as shown (tests and the ready hook wait on that) and leaves when
the first connection failed.
"""

from __future__ import annotations

from textual.message import Message

from dbtop.poller import PollResult, PollStatus


class PollArrived(Message):
    """A new snapshot (with its rates and lock forest)."""

    def __init__(self, result: PollResult) -> None:
        super().__init__()
        self.result = result


class PollStatusChanged(Message):
    """The poller's state changed: live, paused, reconnecting, failed."""

    def __init__(self, status: PollStatus) -> None:
        super().__init__()
        self.status = status
