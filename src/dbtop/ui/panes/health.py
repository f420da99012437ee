"""Health (key 5): what a DBA checks first, most urgent first. Each row is a finding of the
snapshot (health checks and the index findings alike): its severity, what kind of
problem, on which object, the explanation, and the statement that fixes it; Enter shows
it whole, with the statement to copy. Commands in progress (CREATE INDEX, VACUUM, ALTER
TABLE, index builds) are listed below, with phase, percent and time left.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import Static

from dbtop.analysis.health import by_severity
from dbtop.model import Feature, Finding, PaneLabels, Session, Severity
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.cells import cell
from dbtop.ui.format import human_seconds
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

COLUMNS = (
    Column("severity", "sev", 8, sortable=False),
    Column("kind", "check", 22, sortable=False),
    Column("object", "object", 24, optional=1, sortable=False),
    Column("message", "finding", 30, flex=True, sortable=False),
    Column("fix", "fix", 34, optional=2, sortable=False),
)
PROGRESS_COLUMNS = (
    Column("id", "session", 10, align="right", sortable=False),
    Column("command", "command", 16, sortable=False),
    Column("phase", "phase", 24, flex=True, sortable=False),
    Column("percent", "done", 7, align="right", sortable=False),
    Column("eta", "left", 7, align="right", sortable=False),
)

_KIND = {Severity.CRITICAL: "alarm", Severity.WARNING: "warning", Severity.INFO: "muted"}


def finding_key(finding: Finding) -> str:
    return f"{finding.kind}\x00{finding.object}"


def finding_row(finding: Finding) -> Row:
    message = finding.message + (f" ({finding.warning})" if finding.warning else "")
    cells = (
        finding.severity.value,
        cell(finding.kind),
        cell(finding.object),
        one_line(message, 400),
        one_line(finding.statement or "", 200),
    )
    return Row(
        key=finding_key(finding),
        cells=cells,
        sort=(None,) * len(cells),
        kind=_KIND.get(finding.severity, ""),
    )


def progress_row(session: Session) -> Row:
    progress = session.progress
    assert progress is not None
    cells = (
        cell(session.id),
        cell(progress.command),
        cell(progress.phase),
        f"{progress.percent:.1f}%" if progress.percent is not None else "?",
        human_seconds(progress.eta_s) if progress.eta_s is not None else "?",
    )
    return Row(key=session.id, cells=cells, sort=(None,) * len(cells), kind="accent")


class HealthPane(Pane):
    pane_id: ClassVar[str] = "health"
    number: ClassVar[int] = 5
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.HEALTH})

    def __init__(self) -> None:
        super().__init__()
        self._findings: dict[str, Finding] = {}
        self._in_progress: dict[str, Session] = {}

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        return "Health"

    def compose_tables(self) -> ComposeResult:
        yield RowTable(COLUMNS, sortable=False, empty_message="no findings", id="health-table")
        yield Static("In progress", classes="section-title", id="health-progress-title")
        yield RowTable(PROGRESS_COLUMNS, sortable=False, id="health-progress-table")

    def update(self, result: PollResult, view: ViewOptions) -> None:
        findings = by_severity(result.snapshot.findings)
        self._findings = {finding_key(f): f for f in findings}
        self.query_one("#health-table", RowTable).set_rows([finding_row(f) for f in findings])
        running = [s for s in result.snapshot.sessions if s.progress is not None]
        self._in_progress = {s.id: s for s in running}
        progress = self.query_one("#health-progress-table", RowTable)
        progress.set_rows([progress_row(s) for s in running])
        progress.display = bool(running)
        # as tall as its rows (a header and up to 8), the findings take the rest
        progress.styles.height = min(len(running), 8) + 1
        self.query_one("#health-progress-title").display = bool(running)
        self.refresh_counts()

    def refresh_counts(self) -> None:
        counts = {s: 0 for s in Severity}
        for finding in self._findings.values():
            counts[finding.severity] += 1
        parts = [
            f"{counts[s]} {s.value}" for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
        ]
        if self._in_progress:
            parts.append(f"{len(self._in_progress)} in progress")
        table = self.query_one("#health-table", RowTable)
        if table.filter_text:
            parts.append(f"/{table.filter_text}")
        self.set_counts(" · ".join(parts))

    def selection(self) -> Selection | None:
        table = self.active_table
        key = table.cursor_key if table is not None else None
        if key is None:
            return None
        if table is not None and table.id == "health-progress-table":
            session = self._in_progress.get(key)
            if session is None:
                return None
            return Selection(
                "session",
                f"Session {session.id}",
                session,
                session_id=session.id,
                query=session.query,
            )
        finding = self._findings.get(key)
        if finding is None:
            return None
        return Selection("finding", f"{finding.kind}: {finding.object}", finding)
