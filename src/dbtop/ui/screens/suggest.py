"""Index suggestions and findings: the advisor's output (``engine.suggest()``), or, when
the engine has no advisor or it fails, the findings of the last snapshot.

One row per item; the panel below shows the selected one in full, with its statement
(``CREATE INDEX …``, ``DROP INDEX …``) ready to copy with ``c``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, LoadingIndicator, Static

from dbtop.errors import DbtopError
from dbtop.model import Advice, Finding, Severity, Suggestion
from dbtop.safetext import literal, one_line
from dbtop.ui.format import human_bytes
from dbtop.ui.literal import title as literal_title
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

COLUMNS = (
    Column("kind", "kind", 15, descending=False),
    Column("object", "what", 44, descending=False),
    Column("gain", "gain", 6, align="right"),
    Column("verified", "checked", 7, optional=2),
    Column("message", "why", 16, flex=True, descending=False),
)


@dataclass(frozen=True, slots=True)
class AdviceResult:
    advice: Advice
    #: why the advisor's own answer is not shown (fallback to snapshot findings)
    fallback_reason: str | None = None


def index_label(s: Suggestion) -> str:
    text = f"{s.schema}.{s.table}" if s.schema else s.table
    text += " (" + ", ".join(s.columns) + ")"
    if s.include:
        text += " INCLUDE (" + ", ".join(s.include) + ")"
    if s.where:
        text += f" WHERE {s.where}"
    return text


def gain(s: Suggestion) -> float | None:
    if s.cost_before and s.cost_after is not None:
        return 1 - s.cost_after / s.cost_before
    return None


def advice_rows(advice: Advice) -> list[tuple[Row, Suggestion | Finding]]:
    rows: list[tuple[Row, Suggestion | Finding]] = []
    for n, s in enumerate(advice.suggestions):
        g = gain(s)
        cells = (
            "index",
            one_line(index_label(s)),
            f"{g:.0%}" if g is not None else "",
            "yes" if s.verified else "no",
            one_line(s.reason),
        )
        rows.append((Row(f"s{n}", cells, (0, cells[1], g, s.verified, cells[4]), kind="ok"), s))
    for n, f in enumerate(advice.findings):
        cells = (one_line(f.kind), one_line(f.object), "", "", one_line(f.message))
        kind = {Severity.CRITICAL: "alarm", Severity.WARNING: "warning"}.get(f.severity, "")
        rows.append((Row(f"f{n}", cells, (1, cells[1], None, None, cells[4]), kind=kind), f))
    return rows


def describe(item: Suggestion | Finding) -> Text:
    text = Text()
    if isinstance(item, Suggestion):
        text.append(literal(item.statement), style="bold")
        text.append("\n\n" + one_line(item.reason))
        figures = []
        if item.cost_before is not None:
            after = f"{item.cost_after:,.1f}" if item.cost_after is not None else "?"
            figures.append(f"cost {item.cost_before:,.1f} → {after}")
        if item.size_bytes is not None:
            figures.append(f"estimated size {human_bytes(item.size_bytes)}")
        figures.append("verified with a hypothetical index" if item.verified else "not verified")
        text.append("\n" + " · ".join(figures), style="italic")
        for q in item.queries[:5]:
            text.append(f"\n{q.share:6.1%}  ")
            text.append(one_line(q.query, 160))
        if len(item.queries) > 5:
            text.append(f"\n… and {len(item.queries) - 5} more statement(s)")
        return text
    text.append(one_line(item.message))
    if item.statement:
        text.append("\n\n")
        text.append(literal(item.statement), style="bold")
    if item.warning:
        text.append("\n\ncareful: " + one_line(item.warning), style="italic")
    return text


class SuggestScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="suggest.close"),
        Binding("c", "copy", "Copy statement", id="suggest.copy"),
        Binding("n", "toggle_notices", "Notices in full", id="suggest.notices"),
    ]
    #: the notices (hypopg missing …) in full, wrapped; else one cut line each, so they
    #: cost a row apiece at 80x24, not three
    notices_in_full: reactive[bool] = reactive(False, init=False)

    def __init__(self, title: str, load: Callable[[], Awaitable[AdviceResult]]) -> None:
        super().__init__()
        self._title = title
        self._load = load
        self._items: dict[str, Suggestion | Finding] = {}
        self.result: AdviceResult | None = None
        self._summary = Text()

    def compose(self) -> ComposeResult:
        with Vertical(id="suggest-box") as box:
            box.border_title = literal_title(self._title)
            yield Static("", id="suggest-summary")
            with ContentSwitcher(initial="suggest-loading", id="suggest-switcher"):
                yield LoadingIndicator(id="suggest-loading")
                with Vertical(id="suggest-content"):
                    yield RowTable(
                        COLUMNS,
                        sortable=False,
                        empty_message="nothing to suggest: no index is missing or wasted",
                        id="suggest-table",
                    )
                    with VerticalScroll(id="suggest-detail-box"):
                        yield Static("", id="suggest-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._fetch(), exclusive=True, group="suggest")

    async def _fetch(self) -> None:
        try:
            result = await self._load()
        except DbtopError as err:
            result = AdviceResult(Advice(), fallback_reason=str(err))
        self.show_advice(result)

    def show_advice(self, result: AdviceResult) -> None:
        self.result = result
        advice = result.advice
        summary = Text()
        if result.fallback_reason:
            summary.append("! " + one_line(result.fallback_reason) + "\n", style="italic")
        summary.append(
            f"{len(advice.suggestions)} index suggestion(s) · {len(advice.findings)} finding(s)"
        )
        if advice.rejected:
            summary.append(f" · {len(advice.rejected)} candidate(s) rejected")
        for notice in advice.notices:
            summary.append("\n! " + one_line(notice.message))
            if notice.hint:
                summary.append(" — " + one_line(notice.hint))
        self._summary = summary
        self._show_summary()
        rows = advice_rows(advice)
        self._items = {row.key: item for row, item in rows}
        table = self.query_one(RowTable)
        table.set_rows(row for row, _ in rows)
        self.query_one(ContentSwitcher).current = "suggest-content"
        table.focus()
        self._show_detail(table.cursor_key)

    def _show_summary(self) -> None:
        box = self.query_one("#suggest-summary", Static)
        box.set_class(not self.notices_in_full, "-compact")
        box.update(self._summary)

    def watch_notices_in_full(self) -> None:
        self._show_summary()

    def action_toggle_notices(self) -> None:
        self.notices_in_full = not self.notices_in_full

    def on_row_table_cursor_moved(self, event: RowTable.CursorMoved) -> None:
        self._show_detail(event.key)

    def _show_detail(self, key: str | None) -> None:
        item = self._items.get(key) if key else None
        detail = self.query_one("#suggest-detail", Static)
        detail.update(describe(item) if item is not None else "")

    def selected_statement(self) -> str | None:
        key = self.query_one(RowTable).cursor_key
        item = self._items.get(key) if key else None
        return item.statement if item is not None else None

    def action_copy(self) -> None:
        statement = self.selected_statement()
        if not statement:
            self.notify("this item has no statement to copy", severity="warning")
            return
        self.app.copy_to_clipboard(statement)
        self.notify("statement copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)
