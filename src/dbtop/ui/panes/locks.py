"""Locks: a tree from each root blocker down to the sessions waiting behind it.

A root blocker (it blocks others and waits for nobody: killing it releases its whole tree)
is drawn in the alarm colour with how many sessions it holds up; each waiter shows the
lock mode it wants, the object, and how long it has waited. Rows are keyed by their path
from the root, so a waiter with two holders appears under both and the cursor stays on
the node it was on. A waiter queued behind others on the same object (PostgreSQL's hot
row) appears once, under the holder, with its place in the queue (#n). The action keys
(k, K, e, Enter) act on the node's session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from textual.app import ComposeResult

from dbtop.analysis.lockgraph import LockForest, LockNode
from dbtop.humanize import inferred_marker, no_holder
from dbtop.model import Feature, PaneLabels, Session
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.cells import cell
from dbtop.ui.format import human_seconds
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

COLUMNS = (
    # room for "4194304 ▲24 (3 direct)": a root's label is what the pane is for
    Column("session", "session", 22, sortable=False),
    Column("user", "user", 10, optional=3, sortable=False),
    Column("mode", "wants / holds", 20, sortable=False),
    Column("object", "on", 22, optional=2, sortable=False),
    Column("wait", "waited", 7, align="right", sortable=False),
    Column("state", "state", 13, optional=4, sortable=False),
    Column("query", "query", 20, flex=True, sortable=False),
)


def _walk(
    node: LockNode, path: str, prefix: str, last: bool, is_root: bool
) -> Iterator[tuple[str, str, LockNode]]:
    """(row key, tree drawing before the id, node), depth first, children in order."""
    here = f"{path}/{node.session_id}" if path else node.session_id
    drawing = "" if is_root else prefix + ("└─" if last else "├─")
    yield here, drawing, node
    child_prefix = "" if is_root else prefix + ("  " if last else "│ ")
    for n, child in enumerate(node.children):
        yield from _walk(child, here, child_prefix, n == len(node.children) - 1, False)


def _state(session: Session | None, group: str) -> str:
    if session is not None:
        return session.state or session.kind or ""
    return "not a session" if group else "gone"


def lock_rows(forest: LockForest, sessions: dict[str, Session]) -> Iterator[tuple[Row, LockNode]]:
    for root in forest.roots:
        for key, drawing, node in _walk(root, "", "", True, True):
            session = sessions.get(node.session_id)
            is_root = node.depth == 0
            label = drawing + cell(node.session_id)
            # A Redis wait for data groups its clients under a node that is no session.
            group = no_holder(node.children[0].wait) if is_root and node.children else ""
            if group:
                label += f" ({len(node.children)} waiting)"
            elif is_root:
                direct, total = forest.frees(node.session_id)
                label += f" ▲{total}" if direct == total else f" ▲{total} ({direct} direct)"
            elif node.queued_behind:
                label += f" #{node.queue_position}"
            if node.in_cycle:
                label += " ↻"
            wait = node.wait
            mode = ""
            obj = ""
            waited = ""
            if wait is not None:
                mode = " ".join(p for p in (wait.mode, wait.lock_type) if p)
                obj = wait.object or ""
                # A guessed holder must read as one: "inferred" leads the mode cell, which
                # no width drops, and the reason leads the object cell.
                if marker := inferred_marker(wait):
                    mode = f"inferred: {mode}"
                    obj = f"{marker} {obj}".rstrip()
                waited = human_seconds(wait.wait_s) if wait.wait_s is not None else ""
            elif group:
                mode, obj = "holds nothing", "keys unknown"
            elif is_root:
                held = sorted(
                    {c.wait.held_mode for c in node.children if c.wait and c.wait.held_mode}
                )
                mode = "holds " + ", ".join(held) if held else "holds the lock"
            cells = (
                label,
                one_line(session.user) if session else "",
                one_line(mode),
                one_line(obj),
                waited,
                one_line(_state(session, group)),
                one_line(session.query, 400) if session else group,
            )
            kind = "alarm" if is_root and not group else ("warning" if node.children else "")
            yield Row(key=key, cells=cells, sort=(None,) * len(cells), kind=kind), node


class LocksPane(Pane):
    pane_id: ClassVar[str] = "locks"
    number: ClassVar[int] = 4
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.LOCKS})

    def __init__(self) -> None:
        super().__init__()
        self._lock_nodes: dict[str, LockNode] = {}
        self._sessions: dict[str, Session] = {}
        self._summary = ""

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        return labels.locks

    def compose_tables(self) -> ComposeResult:
        yield RowTable(COLUMNS, sortable=False, empty_message="nobody is waiting", id="locks-table")

    def update(self, result: PollResult, view: ViewOptions) -> None:
        forest = result.forest
        # Only the sessions in the graph are needed; the lookup stays small.
        involved = forest.blocker_ids | forest.waiter_ids | forest.root_ids
        self._sessions = (
            {s.id: s for s in result.snapshot.sessions if s.id in involved} if involved else {}
        )
        rows: list[Row] = []
        nodes: dict[str, LockNode] = {}
        for row, node in lock_rows(forest, self._sessions):
            rows.append(row)
            nodes[row.key] = node
        self._lock_nodes = nodes
        self.query_one(RowTable).set_rows(rows)
        parts = []
        if forest.roots:
            parts.append(f"{len(forest.waiter_ids)} waiting on {len(forest.roots)} root(s)")
        if forest.cycles:
            parts.append(f"{len(forest.cycles)} deadlock ring(s)")
        if forest.truncated:
            parts.append("tree cut short")
        self._summary = " · ".join(parts)
        self.refresh_counts()

    def refresh_counts(self) -> None:
        table = self.query_one(RowTable)
        text = self._summary
        if table.filter_text:
            text += f" · /{table.filter_text}"
        self.set_counts(text)

    def selection(self) -> Selection | None:
        key = self.query_one(RowTable).cursor_key
        node = self._lock_nodes.get(key) if key else None
        if node is None:
            return None
        session = self._sessions.get(node.session_id)
        item = session if session is not None else node
        return Selection(
            "session" if session is not None else "lock",
            f"Session {node.session_id}",
            item,
            session_id=node.session_id,
            query=session.query if session else None,
        )
