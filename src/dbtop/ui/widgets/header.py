"""The header: who the server is, its live figures with sparklines, and the poller's state.

Line 1: engine, version, address, role, uptime; on the right the state (live, paused, stale,
reconnecting) and the refresh interval. Line 2: throughput, connections, cache hit ratio,
replication lag, active / waiting sessions, and where the engine reports one the queue of
operations waiting for the global lock (MongoDB's globalLock.currentQueue), each with a
sparkline of the last minutes.
Line 3 (only when there is one): what went wrong, or notices that belong to no pane.

The state is told by the clock, not by the polls: a timer of the header's own
(``TICK_S``) recomputes it, so a poll that hangs turns "● live" into "stale Ns" (counting)
after ``stale_after`` without a result, the reconnect line counts down to the next attempt
and then counts the attempt in flight. The third line gets its own row when there is a
reason to show (``-reason``, height 3), and keeps it ``REASON_HOLD_S`` after the reason is
gone, so the panes below do not jump at every poll of a flapping connection.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from dbtop.analysis.sessions import activity_counts
from dbtop.model import Notice, Snapshot
from dbtop.poller import PollResult, PollState, PollStatus
from dbtop.safetext import one_line
from dbtop.ui.format import count, human_seconds, percent
from dbtop.ui.widgets.sparkline import sparkline

#: samples kept per figure: at a 1 s refresh, the last five minutes
HISTORY = 300
#: widest sparkline drawn
SPARK_MAX = 24
#: how often the clock-driven state (live, stale Ns, reconnecting in Ns) is recomputed
TICK_S = 0.5
#: how long the reason line keeps its row after the reason is gone (at least two intervals)
REASON_HOLD_S = 10.0


@dataclass(slots=True)
class _Figure:
    label: str
    value: str
    history: deque[float | None]
    kind: str = ""


class Header(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "header--title",
        "header--label",
        "header--spark",
        "header--ok",
        "header--warning",
        "header--alarm",
        "header--muted",
        "header--paused",
    }

    #: the poller's state as last told (its ``last_ok``, ``retry_at`` and ``attempt_at``
    #: are what the clock is read against)
    status: reactive[PollStatus | None] = reactive(None, init=False, repaint=False)
    #: the clock-driven part as it reads now (the state and the reason line): recomputed
    #: every tick, and a change repaints
    telling: reactive[str] = reactive("", init=False)
    #: the reason line has its row
    roomy: reactive[bool] = reactive(False, init=False)

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._notices: tuple[Notice, ...] = ()
        self._series: dict[str, deque[float | None]] = {}
        self._reason_at = 0.0
        self._styles: dict[str, Style] = {}

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self.tick)
        self.tick()

    def tick(self) -> None:
        """Read the clock: what the state says now, and whether the reason line needs room."""
        now = self._clock()
        problem = self._line_problem()
        self.telling = self._state_text(now).plain + "\n" + (problem.plain if problem else "")
        if problem is not None:
            self._reason_at = now
            self.roomy = True
        elif self.roomy:
            interval = self.status.interval_s if self.status else 0.0
            if now - self._reason_at >= max(REASON_HOLD_S, 2 * interval):
                self.roomy = False

    def watch_status(self) -> None:
        self.tick()

    def watch_roomy(self, roomy: bool) -> None:
        self.set_class(roomy, "-reason")
        self._hidden = 0

    # -- inputs -------------------------------------------------------------------------

    def show_result(self, result: PollResult, notices: Iterable[Notice] = ()) -> None:
        snapshot = result.snapshot
        self._snapshot = snapshot
        self._notices = tuple(notices)
        server = snapshot.server
        rates = snapshot.rates
        throughput = (
            rates.server.get(server.throughput_counter)
            if rates and server.throughput_counter
            else None
        )
        hit = rates.server.get("cache_hit_ratio") if rates else None
        active, self._hidden = activity_counts(snapshot.sessions)
        waiting = sum(1 for session in snapshot.sessions if session.waiting_on_lock)
        self._push("throughput", throughput)
        self._push("connections", server.connections)
        self._push("hit", server.cache_hit_ratio if hit is None else hit)
        self._push("lag", server.replication_lag_s)
        self._push("active", active)
        self._push("waiting", waiting)
        queue = lock_queue(server.extra)
        if queue is not None:
            self._push("queue", queue)
        self.refresh()
        if self.is_mounted:
            self.tick()

    def show_status(self, status: PollStatus) -> None:
        self.status = status

    def _push(self, name: str, value: float | None) -> None:
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = deque(maxlen=HISTORY)
        series.append(None if value is None else float(value))

    def _last(self, name: str) -> float | None:
        series = self._series.get(name)
        return series[-1] if series else None

    # -- rendering ----------------------------------------------------------------------

    def render(self) -> Text:
        width = max(self.size.width, 20)
        now = self._clock()
        lines = [self._line_identity(width, now), self._line_figures(width)]
        problem = self._line_problem()
        if problem is not None:
            lines.append(problem)
        text = Text("\n").join(lines)
        text.no_wrap = True
        text.overflow = "ellipsis"
        return text

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _style(self, name: str) -> Style:
        # Looked up once per style change, not a dozen times per paint: each lookup walks
        # the widget's styles (the header repaints at every poll).
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(
                f"header--{name}", partial=True
            )
        return style

    def _line_identity(self, width: int, now: float) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("dbtop ", self._style("title"))
        snapshot = self._snapshot
        if snapshot is not None:
            server = snapshot.server
            version = server.version or ""
            if len(version) > 24 and " (" in version:
                version = version.split(" (", 1)[0]  # "… (Debian 15.4-1.pgdg120+1)": noise here
            # "PostgreSQL 15.4 (Debian …)" names its engine already; "7.2.4" does not.
            if server.engine.casefold()[:5] not in version.casefold():
                version = f"{server.engine} {version}".strip()
            parts = [
                version,
                server.address,
                server.role,
                f"up {human_seconds(server.uptime_s)}" if server.uptime_s is not None else None,
            ]
            line.append(" · ".join(one_line(p) for p in parts if p))
        state = self._state_text(now)
        room = width - state.cell_len - 1
        if line.cell_len > room:
            line.truncate(max(room, 0), overflow="ellipsis")
        line.pad_right(max(width - line.cell_len - state.cell_len, 1))
        line.append_text(state)
        return line

    def _state_text(self, now: float) -> Text:
        # in replay, or scrubbed back in the history: where on the time line, not "live"
        timeline = getattr(self.app, "timeline", None) if self.is_attached else None
        note = timeline.note(now) if timeline is not None else None
        if note:
            return Text(note, self._style("paused"))
        status = self.status
        if status is None:
            return Text("connecting…", self._style("muted"))
        every = f"every {_interval(status.interval_s)}"
        if status.state is PollState.PAUSED:
            return Text.assemble((" PAUSED ", self._style("paused")), " ", every)
        if status.state is PollState.RECONNECTING:
            if status.attempt_at is not None:  # the attempt is on its way: count it
                busy = counting(now - status.attempt_at)
                text = f"reconnecting… (attempt {status.failures}, {busy})"
            else:
                wait = math.ceil(max((status.retry_at or now) - now, 0))
                text = f"reconnecting in {wait}s (attempt {status.failures})"
            return Text(text, self._style("alarm"))
        if status.state is PollState.CONNECTING:
            return Text("connecting…", self._style("muted"))
        if status.state is PollState.STOPPED:
            return Text("stopped", self._style("muted"))
        age = now - status.last_ok if status.last_ok is not None else None
        if status.state is PollState.STALE or (
            age is not None and age > stale_after(status.interval_s)
        ):
            since = f" {counting(age)}" if age is not None else ""
            return Text.assemble((f"stale{since}", self._style("warning")), " · ", every)
        return Text.assemble(("● live", self._style("ok")), " · ", every)

    def _line_figures(self, width: int) -> Text:
        snapshot = self._snapshot
        if snapshot is None:
            return Text("waiting for the first snapshot…", self._style("muted"))
        server = snapshot.server
        figures: list[_Figure] = []
        throughput = self._last("throughput")
        figures.append(
            _Figure(server.throughput_label, count(_round(throughput)), self._series["throughput"])
        )
        if server.connections is not None:
            cap = f"/{server.max_connections}" if server.max_connections else ""
            figures.append(
                _Figure("conn", f"{server.connections}{cap}", self._series["connections"])
            )
        if self._last("hit") is not None:
            figures.append(_Figure("hit", percent(self._last("hit"), 2), self._series["hit"]))
        if server.replication_lag_s is not None:
            lag = server.replication_lag_s
            figures.append(
                _Figure(
                    "lag", human_seconds(lag), self._series["lag"], "warning" if lag > 10 else ""
                )
            )
        waiting = int(self._last("waiting") or 0)
        figures.append(
            _Figure(
                "active",
                # sessions the role may not see may be active too: say so, not "active 0"
                str(int(self._last("active") or 0))
                + (f" (+{self._hidden} hidden)" if self._hidden else ""),
                self._series["active"],
            )
        )
        figures.append(
            _Figure("waiting", str(waiting), self._series["waiting"], "alarm" if waiting else "")
        )
        if lock_queue(server.extra) is not None:
            queued = int(self._last("queue") or 0)
            figures.append(
                _Figure("queue", str(queued), self._series["queue"], "warning" if queued else "")
            )
        fixed = sum(len(f.label) + len(f.value) + 4 for f in figures)
        spark = max(min((width - fixed) // len(figures), SPARK_MAX), 0)
        line = Text(no_wrap=True, overflow="ellipsis")
        for n, figure in enumerate(figures):
            if n:
                line.append("  ")
            line.append(f"{figure.label} ", self._style("label"))
            line.append(figure.value, self._style(figure.kind) if figure.kind else "")
            if spark >= 3:
                line.append(" ")
                floor = None if figure.label == "hit" else 0.0
                line.append(sparkline(figure.history, spark, floor=floor), self._style("spark"))
        return line

    def _line_problem(self) -> Text | None:
        status = self.status
        if status is not None and status.error:
            return Text("! " + one_line(status.error), self._style("alarm"), no_wrap=True)
        if self._snapshot is not None and self._snapshot.rates and self._snapshot.rates.reset:
            reset = "counters were reset: rates skip this interval"
        else:
            reset = None
        notices = [
            one_line(n.message) + (f" ({one_line(n.hint)})" if n.hint else "")
            for n in self._notices
        ]
        if reset:
            notices.insert(0, reset)
        if not notices:
            return None
        return Text("! " + " · ".join(notices), self._style("warning"), no_wrap=True)


def lock_queue(extra: Mapping[str, Any]) -> int | None:
    """Operations queued for the global lock, from ``extra["lock_queue"]`` (total, else
    readers + writers), or None when the engine has no such figure."""
    queue = extra.get("lock_queue")
    if not isinstance(queue, Mapping):
        return None
    total = queue.get("total")
    if isinstance(total, int | float):
        return int(total)
    parts = [queue.get(k) for k in ("readers", "writers")]
    known = [int(v) for v in parts if isinstance(v, int | float)]
    return sum(known) if known else None


def stale_after(interval_s: float) -> float:
    """How old the last snapshot may get before the header says "stale": two intervals,
    with a floor for the time a poll itself takes at short intervals (never the poll
    timeout: that is when the poller gives up, far too late to warn)."""
    return max(2 * interval_s, interval_s + 2)


def counting(seconds: float) -> str:
    """Whole seconds, as a clock counts them: "7s", "1m05s"."""
    whole = max(int(seconds), 0)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


def _interval(seconds: float) -> str:
    return f"{seconds:g}s"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
