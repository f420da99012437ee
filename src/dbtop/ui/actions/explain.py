"""``e`` shows the plan of the selected session's statement (or of a statement's text);
``E`` runs EXPLAIN ANALYZE after asking (the engine runs it only on a read, rolled back)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text

from dbtop.analysis.parameters import parameter_numbers
from dbtop.model import Feature, Plan
from dbtop.safetext import one_line
from dbtop.ui.actions.host import ActionHost
from dbtop.ui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from dbtop.ui.screens.explain_values import Answer

# The plan and values screens are imported when first shown: the plan screen's module is
# one of the costlier ones, and a start-up (the time to a first row) needs neither.


class ExplainAction:
    def __init__(self, host: ActionHost) -> None:
        self.host = host

    def offered(self, *, analyze: bool) -> bool | None:
        """True: the key is there; None: shown disabled (the engine cannot do it here)."""
        snapshot = self.host.latest_snapshot()
        if snapshot is None:
            return True
        caps = snapshot.capabilities
        if not caps.has(Feature.EXPLAIN):
            return None
        if analyze and not caps.has(Feature.EXPLAIN_ANALYZE):
            return None
        return True

    def explain(self) -> None:
        self._explain(analyze=False)

    def ask_analyze(self) -> None:
        host = self.host
        selection = host.selection()
        if selection is None:
            host.say("no row selected", severity="warning")
            return
        numbers = parameter_numbers(selection.query)
        if numbers and selection.query:
            # Said before any confirmation: ANALYZE of "$1" has nothing to run with.
            def given(answer: Answer) -> None:
                if answer is None:
                    return
                how, text = answer
                if how == "generic":
                    self._explain(analyze=False)
                elif text:
                    self._explain(analyze=True, query=text)

            from dbtop.ui.screens.explain_values import ExplainValuesScreen

            host.dbtop.push_screen(ExplainValuesScreen(selection.query, numbers), given)
            return
        body = Text(
            "EXPLAIN ANALYZE runs the statement to measure it. dbtop runs it only if it "
            "only reads, inside a transaction that is rolled back.\n\n"
        )
        body.append(one_line(selection.query, 300) or "(the session's current query)")

        def answered(yes: bool | None) -> None:
            if yes:
                self._explain(analyze=True)

        host.dbtop.push_screen(
            ConfirmScreen("Run EXPLAIN ANALYZE?", body, yes="Run it", danger=False), answered
        )

    def _explain(self, *, analyze: bool, query: str | None = None) -> None:
        """``query``: the text to explain instead of the selection's (the statement with
        values the user gave for its parameters)."""
        host = self.host
        selection = host.selection()
        snapshot = host.latest_snapshot()
        if selection is None or snapshot is None:
            host.say("no row selected", severity="warning")
            return
        if query is not None:
            selection = replace(selection, kind="query", query=query)
        caps = snapshot.capabilities
        poller = host.dbtop.poller
        if (
            selection.kind == "session"
            and selection.session_id
            and caps.has(Feature.EXPLAIN_SESSION)
        ):
            session_id = selection.session_id

            async def load() -> Plan:
                return await poller.call(
                    lambda e: e.explain(session_id=session_id, analyze=analyze)
                )

        elif selection.query and selection.query.strip():
            query = selection.query

            async def load() -> Plan:
                return await poller.call(lambda e: e.explain(query=query, analyze=analyze))

        else:
            host.say(f"{selection.title}: no query to explain", severity="warning")
            return
        from dbtop.ui.screens.plan import PlanScreen

        host.dbtop.push_screen(PlanScreen(f"Plan · {selection.title}", load))
