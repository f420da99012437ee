"""Database load (key 6): average active sessions over time, stacked by what they wait on,
and the statements, users, applications and databases that make it, over the window
before the sample shown (live: the last minutes kept in memory; in replay: the recording).

The chart is textual-plotext's: one stacked bar per time bucket, one colour per wait class
(analysis.load). The figures say over how many samples they are computed: a session is
seen only at the instants of the samples (see analysis/load.py on accuracy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from dbtop.analysis import load
from dbtop.model import Feature, PaneLabels, Snapshot
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.format import human_seconds
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

#: the window the view sums over, seconds before the sample shown
WINDOW_S = 300.0
#: at most this many bars (samples are averaged into buckets)
MAX_BARS = 60
COLOURS = {
    load.CPU: "green",
    load.LOCK: "red",
    load.LATCH: "magenta",
    load.IO: "blue",
    load.CLIENT: "cyan",
    load.OTHER: "white",
}
TOP_COLUMNS = (
    Column("dimension", "by", 11, descending=False),
    Column("aas", "AAS", 7, align="right"),
    Column("share", "share", 6, align="right"),
    Column("wait", "mostly", 12, optional=2, descending=False),
    Column("name", "statement / user / application / database", 20, flex=True, descending=False),
)


def buckets(
    samples: list[load.LoadSample], bars: int
) -> tuple[list[float], dict[str, list[float]]]:
    """Average load per class in up to ``bars`` equal runs of samples; x = seconds before
    the last sample (negative)."""
    if not samples:
        return [], {k: [] for k in load.WAIT_CLASSES}
    size = max(-(-len(samples) // max(bars, 1)), 1)
    xs: list[float] = []
    ys: dict[str, list[float]] = {k: [] for k in load.WAIT_CLASSES}
    last = samples[-1].at
    for start in range(0, len(samples), size):
        run = samples[start : start + size]
        xs.append(round(run[-1].at - last, 1))
        for klass in load.WAIT_CLASSES:
            ys[klass].append(sum(s.by_class.get(klass, 0.0) for s in run) / len(run))
    return xs, ys


def _unavailable(snapshot: Snapshot) -> str | None:
    """Why pg_wait_sampling is not used (PostgreSQL's engine says), else None."""
    if snapshot.engine != "postgresql":
        return None
    note = snapshot.extra.get("wait_sampling")
    return note if isinstance(note, str) and note else None


class LoadPane(Pane):
    pane_id: ClassVar[str] = "load"
    number: ClassVar[int] = 6
    features: ClassVar[frozenset[Feature]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        #: the window last drawn (tests read it)
        self.window: load.LoadWindow | None = None
        #: which source the figures come from and what it means for accuracy
        self.source_note = ""
        self._plot: PlotextPlot | None = None

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        return "Load"

    def compose_tables(self) -> ComposeResult:
        yield Static("", classes="load-summary")
        yield RowTable(
            TOP_COLUMNS,
            sort_column="aas",
            empty_message="no active session sampled",
            noun="slices",
            id="load-top",
        )

    def update(self, result: PollResult, view: ViewOptions) -> None:
        timeline: Any = getattr(self.app, "timeline", None)
        samples = timeline.load_window(WINDOW_S) if timeline is not None else []
        if not samples:
            samples = [load.sample(result.snapshot)]
        window = load.window(samples)
        self.window = window
        self._summary(window, result.snapshot)
        self._chart(samples)
        table = self.query_one(RowTable)
        table.set_rows(self._rows(window))
        self.refresh_counts()

    def _summary(self, window: load.LoadWindow, snapshot: Snapshot) -> None:
        engine = snapshot.engine
        parts = [f"AAS {window.aas:.2f}"]
        parts += [
            f"{k} {window.by_class[k]:.2f}" for k in load.WAIT_CLASSES if window.by_class.get(k)
        ]
        span = human_seconds(window.seconds) if window.samples > 1 else "one sample"
        what = "CPU s/s by command (commandstats)" if engine == "redis" else "active sessions"
        line = Text(" · ".join(parts), style="bold")
        line.append(f"   {what}, average over {span} ({window.samples} samples)")
        if engine != "redis":
            self.source_note = load.accuracy_note(
                window, self._poll_interval(), _unavailable(snapshot)
            )
            line.append("\n")
            line.append(self.source_note, style="dim")
        self.query_one(".load-summary", Static).update(line)

    def _poll_interval(self) -> float:
        """The poller's interval (in replay: the recording's)."""
        poller: Any = getattr(self.app, "poller", None)
        return float(getattr(poller, "interval_s", 2.0) or 2.0)

    def _chart_widget(self) -> PlotextPlot:
        """The chart, made when the pane is first shown: plotext and textual-plotext are a
        few MB of memory and a share of the start-up that most sessions never use."""
        if self._plot is None:
            from textual_plotext import PlotextPlot

            self._plot = PlotextPlot(classes="load-chart")
            self.mount(self._plot, after=self.query_one(".load-summary"))
        return self._plot

    def _chart(self, samples: list[load.LoadSample]) -> None:
        chart = self._chart_widget()
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        # not laid out yet on the first update: as wide as the pane's content
        width = chart.size.width or self.content_size.width
        xs, ys = buckets(samples, min(MAX_BARS, max(width // 2, 8)))
        shown = [k for k in load.WAIT_CLASSES if any(ys[k])]
        if xs and shown:
            # plotext takes one colour per stacked series and their labels (its type
            # stubs say otherwise: passed as options)
            options: dict[str, Any] = {
                "labels": shown,
                "color": [COLOURS[k] for k in shown],
                "width": 0.8 * (abs(xs[0] - xs[-1]) / max(len(xs) - 1, 1) or 1),
            }
            plt.stacked_bar(xs, [ys[k] for k in shown], **options)
        plt.xlabel("seconds before the sample shown")
        plt.ylabel("AAS")
        plt.ylim(0, None)
        chart.refresh()

    def _rows(self, window: load.LoadWindow) -> list[Row]:
        rows = []
        for item in window.top:
            rows.append(
                Row(
                    key=f"{item.dimension}\x1f{item.name}",
                    cells=(
                        item.dimension,
                        f"{item.aas:.2f}",
                        f"{item.share:.0%}",
                        item.main_class,
                        one_line(item.name, 300),
                    ),
                    sort=(
                        load.DIMENSIONS.index(item.dimension),
                        item.aas,
                        item.share,
                        item.main_class,
                        item.name,
                    ),
                    kind="alarm" if item.main_class == load.LOCK else "",
                )
            )
        return rows

    def selection(self) -> Selection | None:
        table = self.query_one(RowTable)
        key = table.cursor_key
        if key is None or self.window is None:
            return None
        dimension, _, name = key.partition("\x1f")
        item = next(
            (s for s in self.window.top if s.dimension == dimension and s.name == name), None
        )
        if item is None:
            return None
        query = name if dimension == "statement" else None
        return Selection("load", f"Load · {dimension} {one_line(name, 40)}", item, query=query)
