"""One section of a poll fails on its own: a timeout on the index statistics leaves a
notice on that pane and the sessions still arrive.

Every engine runs its poll as a list of sections through one ``Sections`` guard. What an
engine decides is only which of its driver's errors mean "the connection is gone" (the
poll must fail, the poller reconnects) and which are a section's own trouble (a notice).
The client-side deadline of a round trip belongs to each engine's connection layer
(asyncpg's command timeout, an aborted MariaDB socket, Redis's socket timeout, pymongo's
timeouts), where a stalled read can be cut without leaving a half-read connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from dbtop.model import Feature, Notice

T = TypeVar("T")

#: turns an exception into the error that ends the poll (connection lost, stalled), or None
LostCheck = Callable[[BaseException, str], BaseException | None]
#: the notice of a section that failed on its own (feature, what, the error)
NoticeOf = Callable[[Feature, str, BaseException], Notice]


class Sections:
    """The guard of one poll; collects the notices of the sections that failed."""

    def __init__(
        self,
        *,
        recoverable: tuple[type[BaseException], ...],
        lost: LostCheck,
        describe: Callable[[BaseException], str] = str,
        notice: NoticeOf | None = None,
    ) -> None:
        """``notice`` words the notice of a failed section when the engine says more than
        "could not read …" (a timeout with the option that allows more, say)."""
        self._recoverable = recoverable
        self._lost = lost
        self._describe = describe
        self._notice = notice
        self.notices: list[Notice] = []

    async def read(self, feature: Feature, what: str, work: Awaitable[T], fallback: T) -> T:
        """``work``'s result, or ``fallback`` and a notice when it fails on its own."""
        try:
            return await work
        except Exception as exc:
            ended = self._lost(exc, what)
            if ended is not None:
                raise ended from None
            if not isinstance(exc, self._recoverable):
                raise
            if self._notice is not None:
                self.notices.append(self._notice(feature, what, exc))
            else:
                self.notices.append(
                    Notice(feature, f"could not read {what}: {self._describe(exc)}")
                )
            return fallback

    def note(self, notice: Notice | None) -> None:
        if notice is not None:
            self.notices.append(notice)
