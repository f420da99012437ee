"""The main screen: header, the panes (the four of a 2x2 grid on a large terminal, tabs on
a small one; Health and Load shown alone), the filter bar and the footer, and every key
that acts on what is selected.

The keys live on this screen, not on the app, so they are off while a dialog (confirm,
details, help) is open. Every binding has an id for ``App.set_keymap``. What the keys do to
a session or a statement (kill, explain, suggest, the profiler switch) is done by the
controllers of ``dbtop.ui.actions``; this screen keeps the layout, the pane switching and
the bindings. What it shows is held in reactive attributes (``active_pane``, ``wide``,
``view``, ``filtering``, ``paused``) whose watchers update the widgets; poll results arrive
as messages (``PollArrived``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

from dbtop.model import Feature, KillMode, PaneLabels, Snapshot
from dbtop.poller import PollResult, PollStatus
from dbtop.ui.actions.explain import ExplainAction
from dbtop.ui.actions.kill import KillAction
from dbtop.ui.actions.profiler import ProfilerAction
from dbtop.ui.actions.suggest import SuggestAction
from dbtop.ui.messages import PollArrived, PollStatusChanged
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.panes.health import HealthPane
from dbtop.ui.panes.indexes import IndexesPane
from dbtop.ui.panes.load import LoadPane
from dbtop.ui.panes.locks import LocksPane
from dbtop.ui.panes.sessions import SessionsPane
from dbtop.ui.panes.statements import StatementsPane
from dbtop.ui.screens.details import DetailsScreen
from dbtop.ui.screens.help import HelpScreen, key_rows
from dbtop.ui.screens.help_words import NOT_IN_HELP, helped
from dbtop.ui.timeline.keys import TIMELINE_BINDINGS, TimelineActions
from dbtop.ui.widgets.filterbar import FilterInput
from dbtop.ui.widgets.header import Header
from dbtop.ui.widgets.panebar import PaneBar
from dbtop.ui.widgets.rowtable import RowTable
from dbtop.ui.widgets.timebar import TimeBar

CSS_FILE = Path(__file__).with_suffix(".tcss")

if TYPE_CHECKING:
    from dbtop.ui.app import DbtopApp

#: all four panes at once from this size up; one at a time (tabs) below it
WIDE_MIN = (160, 45)
#: the panes of the 2x2 grid
GRID_PANE_IDS = ("sessions", "statements", "indexes", "locks")
#: panes beyond the grid's four: shown alone, full size, whatever the terminal's size
SOLO_IDS = ("health", "load")
PANE_IDS = (*GRID_PANE_IDS, *SOLO_IDS)


class MainScreen(TimelineActions, Screen[None]):
    # Its stylesheet (main.tcss, beside this file) is loaded by the app: Textual does not
    # load the CSS_PATH of an app's default screen.

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_pane('sessions')", "Sessions", id="pane.sessions", show=False),
        Binding("2", "show_pane('statements')", "Slow queries", id="pane.statements", show=False),
        Binding("3", "show_pane('indexes')", "Indexes", id="pane.indexes", show=False),
        Binding("4", "show_pane('locks')", "Locks", id="pane.locks", show=False),
        Binding("5", "show_pane('health')", "Health", id="pane.health", show=False),
        Binding("6", "show_pane('load')", "Load", id="pane.load", show=False),
        Binding("tab", "cycle_focus(1)", "Next pane", id="pane.next", show=False),
        Binding("shift+tab", "cycle_focus(-1)", "Previous pane", id="pane.previous", show=False),
        Binding("enter", "details", "Details", id="row.details"),
        Binding("k", "kill('cancel')", "Cancel", id="session.cancel"),
        Binding("K", "kill('terminate')", "Terminate", id="session.terminate", show=False),
        Binding("e", "explain", "Explain", id="query.explain"),
        Binding("E", "explain_analyze", "Explain analyze", id="query.explain-analyze", show=False),
        Binding("i", "suggest", "Suggest", id="advisor.suggest"),
        Binding("p", "profiler", "Profiler on", id="statements.profiler"),
        Binding("s", "sort", "Sort", id="table.sort"),
        Binding("S", "reverse_sort", "Reverse sort", id="table.reverse", show=False),
        Binding("slash", "filter", "Filter", id="table.filter"),
        Binding("a", "toggle_idle", "Idle", id="sessions.idle", show=False),
        Binding("space", "pause", "Pause", id="poll.pause"),
        Binding("plus,equals_sign", "interval(1)", "Slower", id="poll.slower", show=False),
        Binding("minus", "interval(-1)", "Faster", id="poll.faster", show=False),
        Binding("r", "refresh_now", "Refresh now", id="poll.refresh", show=False),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        *TIMELINE_BINDINGS,
    ]

    #: the pane shown in tabs mode (and highlighted in the grid)
    active_pane: reactive[str] = reactive("sessions", init=False)
    #: all four panes at once (the grid) rather than one at a time (tabs)
    wide: reactive[bool] = reactive(False, init=False)
    #: the user's view choices (idle sessions shown, the long-query threshold)
    view: reactive[ViewOptions] = reactive(ViewOptions, init=False)
    #: the filter box is open
    filtering: reactive[bool] = reactive(False, init=False)
    #: polling is paused (space)
    paused: reactive[bool] = reactive(False, init=False)

    def __init__(self, *, layout: str = "auto", view: ViewOptions | None = None) -> None:
        super().__init__()
        self.layout_mode = layout
        if view is not None:
            self.set_reactive(MainScreen.view, view)
        self._labels_seen: tuple[str, ...] = ()
        self._profiler_offered = False
        self._features_seen: frozenset[Feature] | None = None
        #: the children exist: the watchers may touch them
        self._composed = False
        self.kill = KillAction(self)
        self.explain = ExplainAction(self)
        self.suggest = SuggestAction(self)
        self.profiler = ProfilerAction(self)

    @property
    def dbtop(self) -> DbtopApp:
        return cast("DbtopApp", self.app)

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(clock=self.dbtop.clock, id="header")
        yield TimeBar(id="timebar")
        yield PaneBar(self._tab_entries(), numbers={p.pane_id: p.number for p in _PANES}, id="tabs")
        with Container(id="panes"):
            for pane_class in _PANES:
                yield pane_class()
        yield FilterInput(id="filter")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._composed = True
        self.query_one("#filter", FilterInput).display = False
        self.set_reactive(MainScreen.wide, self._wants_wide(self.size.width, self.size.height))
        self._lay_out_panes()
        self.pane("sessions").focus_table()
        self.label_timeline_keys()
        self.timeline_moved()
        self.apply_status(self.dbtop.poller.status)
        if self.dbtop.latest_result is not None:
            self.apply_result(self.dbtop.latest_result)

    def on_key(self, event: events.Key) -> None:
        """A key shown disabled (check_action None) answers with why, instead of nothing:
        Textual skips the action of a disabled binding, and the key would fall silent."""
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled:
            return
        reason = self.refusal(active.binding.action)
        if reason is not None:
            event.stop()
            event.prevent_default()
            self.say(reason, severity="warning")

    def refusal(self, action: str) -> str | None:
        """Why the (disabled) key bound to ``action`` does nothing here, or None."""
        if (past := self.timeline_refusal(action)) is not None:
            return past
        if action.startswith("kill("):
            return self.kill.refusal(
                KillMode.TERMINATE if "terminate" in action else KillMode.CANCEL
            )
        return None

    def on_resize(self, event: events.Resize) -> None:
        self.wide = self._wants_wide(event.size.width, event.size.height)

    def _wants_wide(self, width: int, height: int) -> bool:
        if self.layout_mode == "grid":
            return True
        if self.layout_mode == "tabs":
            return False
        return width >= WIDE_MIN[0] and height >= WIDE_MIN[1]

    def watch_wide(self) -> None:
        if self._composed:
            self._lay_out_panes()

    def _lay_out_panes(self) -> None:
        wide = self.wide and self.active_pane not in SOLO_IDS
        panes = self.query_one("#panes")
        # Screen CSS is scoped to the screen's children: the classes go on them.
        panes.set_class(wide, "-wide")
        panes.set_class(not wide, "-narrow")
        self.query_one("#tabs").display = not wide
        self._show_active()
        self._refresh_hidden_panes()

    def watch_active_pane(self) -> None:
        if self._composed:
            self._lay_out_panes()

    def watch_view(self) -> None:
        if self._composed:
            self._rerender()

    def watch_filtering(self, filtering: bool) -> None:
        if not self._composed:
            return
        box = self.query_one("#filter", FilterInput)
        box.display = filtering
        if filtering:
            box.focus()

    def watch_paused(self, paused: bool) -> None:
        self.say("paused: space resumes" if paused else "resumed", timeout=2)

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#pane-{pane_id}", Pane)

    @property
    def panes(self) -> list[Pane]:
        """The four panes of the grid."""
        return [self.pane(p) for p in GRID_PANE_IDS]

    @property
    def all_panes(self) -> list[Pane]:
        return [self.pane(p) for p in PANE_IDS]

    def visible_panes(self) -> list[Pane]:
        if self.wide and self.active_pane in GRID_PANE_IDS:
            return [self.pane(p) for p in GRID_PANE_IDS]
        return [self.pane(self.active_pane)]

    def _show_active(self) -> None:
        for pane in self.all_panes:
            pane.set_class(pane.pane_id == self.active_pane, "-active")
        self.query_one("#panes").set_class(self.active_pane not in GRID_PANE_IDS, "-alone")
        self.query_one(PaneBar).set_labels(self._tab_entries())
        self.query_one(PaneBar).set_active(self.active_pane)

    @on(PaneBar.Chosen)
    def _pane_chosen(self, event: PaneBar.Chosen) -> None:
        self.action_show_pane(event.pane_id)

    # -- data ---------------------------------------------------------------------------

    @on(PollArrived)
    def _poll_arrived(self, message: PollArrived) -> None:
        # The app posts here once the screen is mounted (before, on_mount shows the latest
        # result). Not stopped: it goes on up to the app, which counts it shown.
        self.apply_result(message.result)

    @on(PollStatusChanged)
    def _status_changed(self, message: PollStatusChanged) -> None:
        self.apply_status(message.status)

    def apply_result(self, result: PollResult) -> None:
        snapshot = result.snapshot
        header_notices = [
            n
            for n in (*snapshot.capabilities.notices, *snapshot.notices)
            if not any(n.feature in pane.features for pane in self.all_panes)
        ]
        with self.app.batch_update():
            header = self.query_one(Header)
            header.show_status(self.dbtop.poller.status)
            header.show_result(result, header_notices)
            for pane in self.visible_panes():
                pane.show(result, self.view)
            self._update_tab_labels(snapshot)
        offered = self.profiler_offered()
        features = snapshot.capabilities.features
        if offered != self._profiler_offered or features != self._features_seen:
            # The footer, help and palette offer a key only while the engine can do it
            # (check_action): tell them when that changes.
            self._profiler_offered = offered
            self._features_seen = features
            self.refresh_bindings()

    def apply_status(self, status: PollStatus) -> None:
        self.query_one(Header).show_status(status)

    def _update_tab_labels(self, snapshot: Snapshot) -> None:
        labels = snapshot.capabilities.labels
        names = (labels.sessions, labels.statements, labels.indexes, labels.locks)
        if names == self._labels_seen:
            return
        self._labels_seen = names
        self.query_one(PaneBar).set_labels(self._tab_entries())

    def _tab_entries(self) -> list[tuple[str, str]]:
        """The grid's panes (in the engine's words), then the panes shown alone."""
        names = self._labels_seen or tuple(p.default_label(_LABELS) for p in _PANES[:4])
        entries = list(zip(GRID_PANE_IDS, names, strict=True))
        entries.extend(
            (pane_id, cls.default_label(_LABELS))
            for pane_id, cls in zip(SOLO_IDS, _PANES[4:], strict=True)
        )
        return entries

    def _refresh_hidden_panes(self) -> None:
        """A pane that was off screen gets the newest snapshot when it shows."""
        latest = self.dbtop.latest_result
        if latest is None:
            return
        for pane in self.visible_panes():
            if pane.result is not latest:
                pane.show(latest, self.view)

    def _rerender(self) -> None:
        latest = self.dbtop.latest_result
        if latest is not None:
            for pane in self.visible_panes():
                pane.show(latest, self.view)

    # -- what the keys act on -----------------------------------------------------------

    def focused_pane(self) -> Pane:
        focused = self.focused
        for pane in self.visible_panes():
            if focused is not None and pane in focused.ancestors_with_self:
                return pane
        return self.pane(self.active_pane)

    def focused_table(self) -> RowTable | None:
        return self.focused_pane().active_table

    def selection(self) -> Selection | None:
        return self.focused_pane().selection()

    def latest_snapshot(self) -> Snapshot | None:
        latest = self.dbtop.latest_result
        return latest.snapshot if latest else None

    # -- actions ------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which keys are offered: from the snapshot's capabilities (and read-only mode).
        False leaves a key out (no footer entry, no help line), None shows it disabled."""
        if not self.timeline_check(action):
            return None
        if action == "kill":
            mode = KillMode.CANCEL if parameters == ("cancel",) else KillMode.TERMINATE
            return self.kill.offered(mode)
        if action == "profiler":
            # absent unless it can work: a write, so never in read-only mode
            return self.profiler_offered()
        if action in ("explain", "explain_analyze"):
            return self.explain.offered(analyze=action == "explain_analyze")
        if action == "suggest":
            return self.suggest.offered()
        if action == "toggle_idle":
            snapshot = self.latest_snapshot()
            if snapshot is not None and not snapshot.capabilities.has(Feature.SESSIONS):
                return None
        return True

    def profiler_offered(self) -> bool:
        """``p`` is there: the profiler can be set, and the Slow queries pane has the focus."""
        if self.profiler.databases() is None:
            return False
        return self.is_mounted and self.focused_pane().pane_id == "statements"

    def say(self, message: str, **options: Any) -> None:
        """A notification whose text is shown literally: it often quotes the server (a
        query, a key pattern, an error), which must never be read as markup."""
        self.notify(message, markup=False, **options)

    def action_show_pane(self, pane_id: str) -> None:
        if pane_id not in PANE_IDS:
            return
        pane = self.pane(pane_id)
        if self.active_pane == pane_id and self.focused_pane() is pane:
            pane.focus_next_table()  # its key again: the pane's next table (Indexes has 2)
        else:
            self.active_pane = pane_id
            pane.focus_table()

    def action_cycle_focus(self, step: int) -> None:
        """Tab goes pane to pane (never to a pane's second table: the pane's number key
        again moves between its own tables); a pane shown alone (Health) keeps Tab."""
        ring = [self.pane(self.active_pane)] if self.active_pane in SOLO_IDS else list(self.panes)
        panes = [p for p in ring if p.visible_tables]
        if not panes:
            return
        current = self.focused_pane()
        index = panes.index(current) if current in panes else -1
        target = panes[(index + step) % len(panes)]
        self.active_pane = target.pane_id
        target.focus_table()

    def action_sort(self) -> None:
        table = self.focused_table()
        if table is None or not table.sortable:
            self.say("this table keeps its own order", severity="warning")
            return
        column = table.cycle_sort()
        if column is not None:
            direction = "largest first" if table.sort_descending else "smallest first"
            self.say(f"sorted by {column.label or 'flag'}, {direction}", timeout=2)

    def action_reverse_sort(self) -> None:
        table = self.focused_table()
        if table is not None:
            table.reverse_sort()

    def action_filter(self) -> None:
        table = self.focused_table()
        if table is None:
            return
        self.query_one("#filter", FilterInput).edit(table)
        self.filtering = True

    @on(FilterInput.Done)
    def _filter_done(self, event: FilterInput.Done) -> None:
        self.filtering = False
        if event.table is not None:
            event.table.focus()

    def action_toggle_idle(self) -> None:
        self.view = replace(self.view, show_idle=not self.view.show_idle)
        self.dbtop.set_show_idle(self.view.show_idle)
        self.say(
            "idle sessions shown" if self.view.show_idle else "idle sessions hidden",
            timeout=2,
        )

    def action_pause(self) -> None:
        self.paused = self.dbtop.poller.toggle_pause()

    def action_interval(self, step: int) -> None:
        # No toast: one per press stacked up on a fast tapping. The header's "every Ns"
        # shows the new interval at once (it is redrawn from the poller's status).
        self.dbtop.poller.step_interval(step)
        self.query_one(Header).show_status(self.dbtop.poller.status)

    def action_refresh_now(self) -> None:
        self.dbtop.poller.refresh_now()

    def action_details(self) -> None:
        selection = self.selection()
        if selection is None:
            self.say("no row selected", severity="warning")
            return
        rates = None
        snapshot = self.latest_snapshot()
        if selection.kind == "statement" and snapshot is not None and snapshot.rates:
            now = snapshot.rates.statements.get(selection.item.id)
            rates = now.counters if now is not None else None
        engine = snapshot.engine if snapshot is not None else ""
        self.app.push_screen(
            DetailsScreen(selection.title, selection.item, counter_rates=rates, engine=engine)
        )

    @on(RowTable.Activated)
    def _row_activated(self, event: RowTable.Activated) -> None:
        self.action_details()

    def action_help(self) -> None:
        snapshot = self.latest_snapshot()
        engine = snapshot.engine if snapshot is not None else ""
        bindings = [
            (
                self.app.get_key_display(active.binding),
                helped(
                    active.binding,
                    engine,
                    None if active.enabled else self.refusal(active.binding.action),
                ),
            )
            for active in self.active_bindings.values()
            if active.binding.description and active.binding.action not in NOT_IN_HELP
        ]
        self.app.push_screen(HelpScreen(key_rows(bindings), read_only=self.dbtop.read_only))

    async def action_quit(self) -> None:
        await self.dbtop.action_quit()

    # -- the keys that act on the selection: delegated to their controllers ---------------

    def action_kill(self, mode_name: str) -> None:
        self.kill.ask(KillMode(mode_name))

    def action_explain(self) -> None:
        self.explain.explain()

    def action_explain_analyze(self) -> None:
        self.explain.ask_analyze()

    def action_profiler(self) -> None:
        self.profiler.ask()

    def action_suggest(self) -> None:
        self.suggest.open()


_PANES: tuple[type[Pane], ...] = (
    SessionsPane,
    StatementsPane,
    IndexesPane,
    LocksPane,
    HealthPane,
    LoadPane,
)

_LABELS = PaneLabels()
