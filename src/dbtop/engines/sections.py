"""One section of a poll fails on its own: a timeout on the index statistics leaves a
notice on that pane and the sessions still arrive.

Every engine runs its poll as a list of sections through one ``Sections`` guard. What an
engine decides is only which of its driver's errors mean "the connection is gone" (the
poll must fail, the poller reconnects) and which are a section's own trouble (a notice).
Every section also has a client-side deadline: a server that stops answering mid-poll
does not hold the poll past it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from dbtop.model import Feature, Notice, Severity

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
        deadline_s: float | None = None,
        describe: Callable[[BaseException], str] = str,
        notice: NoticeOf | None = None,
        word: Callable[[BaseException, str], str] | None = None,
    ) -> None:
        """How a failed section's notice reads: by default "could not read WHAT: " and
        ``describe(error)``; ``word(error, what)`` words the whole message (for a driver
        whose translated errors already say what was being read); ``notice(feature, what,
        error)`` makes the whole notice (a hint, a severity: a timeout with the option that
        allows more, say)."""
        self._recoverable = recoverable
        self._lost = lost
        self._deadline_s = deadline_s
        self._describe = describe
        self._notice = notice
        self._word = word
        self.notices: list[Notice] = []

    async def read(self, feature: Feature, what: str, work: Awaitable[T], fallback: T) -> T:
        """``work``'s result, or ``fallback`` and a notice when it fails on its own."""
        try:
            if self._deadline_s is None:
                return await work
            return await asyncio.wait_for(work, self._deadline_s)
        except Exception as exc:
            ended = self._lost(exc, what)
            if ended is not None:
                raise ended from None
            if not isinstance(exc, self._recoverable):
                raise
            self.notices.append(self._notice_of(feature, what, exc))
            return fallback

    def _notice_of(self, feature: Feature, what: str, exc: BaseException) -> Notice:
        if self._notice is not None:
            return self._notice(feature, what, exc)
        if self._word is not None:
            return Notice(feature, self._word(exc, what))
        return Notice(feature, f"could not read {what}: {self._describe(exc)}")

    def note(self, notice: Notice | None) -> None:
        if notice is not None:
            self.notices.append(notice)

    def warn(self, feature: Feature, message: str, hint: str | None = None) -> None:
        self.notices.append(Notice(feature, message, hint, Severity.WARNING))
