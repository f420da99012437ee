"""Sessions: who is connected and what each one is doing right now.

Rows stand out by what matters in an incident, most urgent first: a root blocker (alarm),
a session waiting on a lock, one that blocks others, an idle-in-transaction one, a long
running statement. The one-letter flag column says the same without colour (NO_COLOR,
monochrome terminals): B root blocker, b blocks others, W waits on a lock, T idle in
transaction, L long running, * dbtop's own connection. What a session is comes from
``dbtop.analysis.sessions`` (the CLI classifies with the same functions); this pane draws it.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar

from textual.app import ComposeResult

from dbtop.analysis.lockgraph import LockForest
from dbtop.analysis.sessions import (
    flag_rank,
    hidden_label,
    hidden_when_idle_hidden,
    session_flag,
)
from dbtop.model import Feature, PaneLabels, Session
from dbtop.poller import PollResult
from dbtop.ui.cells import cell
from dbtop.ui.format import human_seconds
from dbtop.ui.panes.base import Pane, Selection, ViewOptions, natural
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

#: Widths chosen so that at 80 columns (77 cells inside the pane) the id, state, time and
#: query stay with, in this order of value, who blocks it, what it waits on, the user,
#: the database and the application; the client address and the transaction age come
#: only on wider screens. A column blank in every row on screen goes first
#: (``fit_columns``): no blocked-by column when nobody waits.
COLUMNS = (
    Column("flag", "", 1, sortable=True),
    Column("id", "id", 7, align="right", descending=False),
    Column("user", "user", 7, optional=5, descending=False),
    Column("database", "database", 8, optional=6, descending=False),
    Column("application", "app", 9, optional=7, descending=False),
    Column("client", "client", 15, optional=9, descending=False),
    Column("state", "state", 10, descending=False),
    Column("duration", "time", 6, align="right"),
    Column("xact", "xact", 6, align="right", optional=8),
    Column("wait", "wait", 10, optional=4, descending=False),
    Column("blocked_by", "blocked", 7, optional=3, descending=False),
    Column("query", "query", 11, flex=True, descending=False),
)
#: cells longer than this are cut before they reach the table (the details show all)
QUERY_CELL = 400
#: a statement running at least this long gets its time cell highlighted
SLOWISH_S = 1.0


#: long state words shortened for the cell (the details show the engine's own word)
_SHORT_STATES = {
    "idle in transaction": "idle in tx",
    "idle in transaction (aborted)": "idle tx (aborted)",
}


def short_state(state: str | None) -> str:
    text = cell(state)
    return _SHORT_STATES.get(text, text)


def state_cell(session: Session) -> str:
    """The state word, or why the role cannot see it (never a blank that reads as idle)."""
    if session.hidden is not None:
        return cell(hidden_label(session))
    return short_state(session.state or session.kind)


def progress_cell(session: Session) -> str:
    """``[42% ~1m scanning table] `` before the query of a command that reports progress."""
    progress = session.progress
    if progress is None:
        return ""
    parts = [f"{progress.percent:.0f}%" if progress.percent is not None else progress.command]
    if progress.eta_s is not None:
        parts.append(f"~{human_seconds(progress.eta_s)}")
    if progress.phase:
        parts.append(cell(progress.phase))
    return "[" + " ".join(parts) + "] "


def session_key(session: Session) -> str:
    return f"{session.node}/{session.id}" if session.node else session.id


_KIND_OF_FLAG = {"B": "alarm", "W": "warning", "b": "warning", "T": "idle-tx", "L": "long"}


def session_row(
    session: Session, forest: LockForest, view: ViewOptions, flag: str | None = None
) -> Row:
    if flag is None:
        flag = session_flag(session, forest, view.long_query_s)
    quiet = session.is_idle or session.is_self
    kind = _KIND_OF_FLAG.get(flag, "warning" if session.hidden else "muted" if quiet else "")
    duration = session.duration_s
    blocked_by = cell(",".join(session.blocked_by))
    cells = (
        flag,
        cell(session.id),
        cell(session.user),
        cell(session.database),
        cell(session.application),
        cell(session.client),
        state_cell(session),
        human_seconds(duration) if duration is not None else "",
        human_seconds(session.xact_age_s) if session.xact_age_s is not None else "",
        cell(session.wait),
        cell(blocked_by),
        progress_cell(session) + cell(session.query, QUERY_CELL),
    )
    time_kind = ""
    if not session.is_idle and duration is not None and duration >= SLOWISH_S and not kind:
        time_kind = "long" if duration >= view.long_query_s else "warning"
    return Row(
        key=session_key(session),
        cells=cells,
        sort=(
            flag_rank(flag),
            natural(session.id),
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            duration,
            session.xact_age_s,
            cells[9],
            cells[10],
            cells[11],
        ),
        kind=kind,
        cell_kinds=("", "", "", "", "", "", "", time_kind) if time_kind else (),
    )


#: what each column sorts by, from the session (same order as COLUMNS)
_SORT_VALUES: tuple[Callable[[Session], Any], ...] = (
    lambda s: 0,  # the flag: computed with the lock forest, see session_sort_getter
    lambda s: natural(s.id),
    lambda s: cell(s.user),
    lambda s: cell(s.database),
    lambda s: cell(s.application),
    lambda s: cell(s.client),
    state_cell,
    attrgetter("duration_s"),
    attrgetter("xact_age_s"),
    lambda s: cell(s.wait),
    lambda s: ",".join(s.blocked_by),
    lambda s: cell(s.query, QUERY_CELL),
)


def session_sort_getter(
    index: int, forest: LockForest, view: ViewOptions
) -> Callable[[Session], Any]:
    if index == 0:
        return lambda s: flag_rank(session_flag(s, forest, view.long_query_s))
    return _SORT_VALUES[index]


class SessionsPane(Pane):
    pane_id: ClassVar[str] = "sessions"
    number: ClassVar[int] = 1
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.SESSIONS, Feature.CANCEL, Feature.TERMINATE, Feature.IDLE_ON_REQUEST}
    )

    def __init__(self) -> None:
        super().__init__()
        self._idle_hidden = 0
        #: what the table was last filled from: the sessions, the lock waits, the view
        self._filled_from: tuple[Any, ...] | None = None

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        return labels.sessions

    def compose_tables(self) -> ComposeResult:
        yield RowTable(
            COLUMNS,
            sort_column="duration",
            empty_message="no session to show (a shows idle ones)",
            id="sessions-table",
        )

    def update(self, result: PollResult, view: ViewOptions) -> None:
        snapshot = result.snapshot
        filled = self._filled_from
        if (
            filled is not None
            and filled[0] is snapshot.sessions
            and filled[1] is snapshot.lock_waits
            and filled[2] == view
        ):
            # The very rows of the last poll (an engine hands the same tuple on when no
            # session changed) and the same lock waits (the forest) and view: the table
            # would get the same items, after a pass over thousands of idle ones.
            self.refresh_counts()
            return
        self._filled_from = (snapshot.sessions, snapshot.lock_waits, view)
        forest = result.forest
        items: dict[str, Session] = {}
        idle_hidden = 0
        show_idle = view.show_idle
        for session in snapshot.sessions:
            if not show_idle and hidden_when_idle_hidden(session, forest):
                idle_hidden += 1
                continue
            items[session.id if session.node is None else session_key(session)] = session
        self._idle_hidden = idle_hidden
        self.query_one(RowTable).set_items(
            items,
            lambda session: session_row(session, forest, view),
            lambda index: session_sort_getter(index, forest, view),
        )
        self.refresh_counts()

    def refresh_counts(self) -> None:
        table = self.query_one(RowTable)
        total = len(self.result.snapshot.sessions) if self.result else 0
        counts = f"{table.row_count} of {total}"
        if self._idle_hidden:
            counts += f" · {self._idle_hidden} idle hidden"
        if table.filter_text:
            counts += f" · /{table.filter_text}"
        self.set_counts(counts)

    def selection(self) -> Selection | None:
        session = self.query_one(RowTable).cursor_item
        if session is None:
            return None
        return Selection(
            "session",
            f"{self.label[:-1] if self.label.endswith('s') else self.label} {session.id}",
            session,
            session_id=session.id,
            query=session.query,
        )
