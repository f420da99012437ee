"""``i`` opens the index advisor's suggestions; where there is no advisor, or it fails,
the findings of the last snapshot are shown instead, with the reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbtop.errors import DbtopError
from dbtop.model import Advice, Feature
from dbtop.safetext import one_line
from dbtop.ui.actions.host import ActionHost

if TYPE_CHECKING:
    from dbtop.ui.screens.suggest import AdviceResult

FALLBACK = "showing the findings of the last snapshot"


class SuggestAction:
    def __init__(self, host: ActionHost) -> None:
        self.host = host

    def offered(self) -> bool:
        """Always: without an advisor the findings are still there to show."""
        return True

    def open(self) -> None:
        # imported when first opened: a start-up (the time to a first row) does not need it
        from dbtop.ui.screens.suggest import AdviceResult, SuggestScreen

        host = self.host
        poller = host.dbtop.poller
        snapshot = host.latest_snapshot()

        async def load() -> AdviceResult:
            findings = snapshot.findings if snapshot else ()
            if snapshot is not None and not snapshot.capabilities.has(Feature.SUGGEST):
                reason = f"no index advisor here: {FALLBACK}"
                return AdviceResult(Advice(findings=findings), fallback_reason=reason)
            try:
                return AdviceResult(await poller.call(lambda e: e.suggest()))
            except DbtopError as err:
                reason = f"the advisor failed ({one_line(str(err))}): {FALLBACK}"
                return AdviceResult(Advice(findings=findings), fallback_reason=reason)

        host.dbtop.push_screen(SuggestScreen("Index suggestions and findings", load))
