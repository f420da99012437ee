"""The overview's cells for one target (Textual-free: plain strings and a style name)."""

from __future__ import annotations

from dataclasses import dataclass

from dbtop.analysis.fleet import figures
from dbtop.humanize import count, human_seconds
from dbtop.poller import PollResult, PollStatus
from dbtop.safetext import one_line
from dbtop.ui.fleet.status import status_text, status_word

COLUMNS = (
    "Server",
    "Engine",
    "Role",
    "Status",
    "Throughput",
    "Active",
    "Lock waits",
    "Root blocker",
    "Lag",
    "Slowest now",
    "Worst finding",
)


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[str, ...]
    #: live, stale, reconnecting … (the row's colour)
    state: str


#: per target, the last result and the cells drawn from it: the overview redraws every
#: REDRAW_S for the status column's clock, the other cells change only with a poll (and
#: escaping them is most of a redraw's cost)
_CELLS: dict[str, tuple[PollResult, tuple[str, ...]]] = {}


def row(name: str, status: PollStatus, result: PollResult | None, now: float) -> Row:
    state = status_word(status, now)
    status_cell = one_line(status_text(status, now), 72)
    if result is None:
        blank = ("—",) * (len(COLUMNS) - 4)
        return Row((one_line(name, 32), "—", "—", status_cell, *blank), state)
    shown, engine, role, *rest = _cells_of(name, result)
    return Row((shown, engine, role, status_cell, *rest), state)


def _cells_of(name: str, result: PollResult) -> tuple[str, ...]:
    """Every cell but the status, from the target's last result (cached while it is)."""
    cached = _CELLS.get(name)
    if cached is not None and cached[0] is result:
        return cached[1]
    fig = figures(result.snapshot, result.forest)
    throughput = (
        "—" if fig.throughput is None else f"{count(fig.throughput)} {fig.throughput_label}"
    )
    root = "—"
    if fig.root_blockers:
        first = fig.root_blockers[0]
        who = f" {first.user}" if first.user else ""
        root = f"{first.session_id}{who} frees {first.frees}"
        if len(fig.root_blockers) > 1:
            root += f" (+{len(fig.root_blockers) - 1})"
    slowest = "—"
    if fig.slowest is not None:
        slowest = f"{human_seconds(fig.slowest.duration_s)} {fig.slowest.query or ''}"
    worst = "—"
    if fig.worst_finding is not None:
        worst = f"{fig.worst_finding.severity}: {fig.worst_finding.message}"
    lag = "—" if fig.replication_lag_s is None else human_seconds(fig.replication_lag_s)
    cells = (
        one_line(name, 32),
        fig.engine,
        one_line(fig.role or "—", 16),
        throughput,
        str(fig.active_sessions),
        str(fig.lock_waiters),
        one_line(root, 40),
        lag,
        one_line(slowest, 60),
        one_line(worst, 60),
    )
    _CELLS[name] = (result, cells)
    return cells
