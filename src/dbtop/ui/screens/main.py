"""The main screen: header, the four panes (a 2x2 grid on a large terminal, tabs on a small
one), the filter bar and the footer, and every key that acts on what is selected.

The keys live on this screen, not on the app, so they are off while a dialog (confirm,
details, help) is open. Every binding has an id for ``App.set_keymap``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Input

from dbtop.analysis.sessions import idle_in_transaction
from dbtop.engines.base import Engine
from dbtop.errors import DbtopError, RefusedError
from dbtop.model import Advice, Feature, KillMode, PaneLabels, Plan, Session, Snapshot
from dbtop.poller import PollResult, PollStatus
from dbtop.safetext import one_line
from dbtop.ui.keymap import binding_ids
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.panes.indexes import IndexesPane
from dbtop.ui.panes.locks import LocksPane
from dbtop.ui.panes.sessions import SessionsPane
from dbtop.ui.panes.statements import StatementsPane
from dbtop.ui.screens.confirm import ConfirmScreen
from dbtop.ui.screens.details import DetailsScreen
from dbtop.ui.screens.help import HelpScreen, key_rows
from dbtop.ui.screens.plan import PlanScreen
from dbtop.ui.screens.profiler import ProfilerChoice, ProfilerScreen
from dbtop.ui.screens.suggest import AdviceResult, SuggestScreen
from dbtop.ui.widgets.header import Header
from dbtop.ui.widgets.panebar import PaneBar
from dbtop.ui.widgets.rowtable import RowTable

CSS_FILE = Path(__file__).with_suffix(".tcss")

if TYPE_CHECKING:
    from dbtop.ui.app import DbtopApp

#: all four panes at once from this size up; one at a time (tabs) below it
WIDE_MIN = (160, 45)
PANE_IDS = ("sessions", "statements", "indexes", "locks")
FALLBACK = "showing the findings of the last snapshot"
#: Textual's own bindings that mean nothing here (the tables do not scroll sideways)
_NOT_IN_HELP = frozenset(
    {"scroll_left", "scroll_right", "page_left", "page_right", "screen.copy_text"}
)


class FilterInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", id="filter.clear"),
    ]

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Submitted(self, ""))


class MainScreen(Screen[None]):
    # Its stylesheet (main.tcss, beside this file) is loaded by the app: Textual does not
    # load the CSS_PATH of an app's default screen.

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_pane('sessions')", "Sessions", id="pane.sessions", show=False),
        Binding("2", "show_pane('statements')", "Slow queries", id="pane.statements", show=False),
        Binding("3", "show_pane('indexes')", "Indexes", id="pane.indexes", show=False),
        Binding("4", "show_pane('locks')", "Locks", id="pane.locks", show=False),
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
    ]

    def __init__(self, *, layout: str = "auto") -> None:
        super().__init__()
        self.layout_mode = layout
        self.wide = False
        self.active_pane = "sessions"
        self.view = ViewOptions()
        self._filter_target: RowTable | None = None
        self._labels_seen: tuple[str, ...] = ()
        self._profiler_offered = False

    @property
    def dbtop(self) -> DbtopApp:
        return self.app  # type: ignore[return-value]

    # -- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(clock=self.dbtop.clock, id="header")
        yield PaneBar([(p.pane_id, p.default_label(p, _LABELS)) for p in _PANES], id="tabs")
        with Container(id="panes"):
            for pane_class in _PANES:
                yield pane_class()
        filter_input = FilterInput(
            placeholder="filter: text in any column (Enter keeps, Escape clears)", id="filter"
        )
        filter_input.cursor_blink = False
        yield filter_input
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#filter", FilterInput).display = False
        self._apply_layout(self.size.width, self.size.height)
        self.pane("sessions").focus_table()
        self.apply_status(self.dbtop.poller.status)
        if self.dbtop.latest_result is not None:
            self.apply_result(self.dbtop.latest_result)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        if self.layout_mode == "grid":
            wide = True
        elif self.layout_mode == "tabs":
            wide = False
        else:
            wide = width >= WIDE_MIN[0] and height >= WIDE_MIN[1]
        panes = self.query_one("#panes")
        changed = wide != self.wide or not (panes.has_class("-wide") or panes.has_class("-narrow"))
        self.wide = wide
        # Screen CSS is scoped to the screen's children: the classes go on them.
        panes.set_class(wide, "-wide")
        panes.set_class(not wide, "-narrow")
        self.query_one("#tabs").display = not wide
        if changed:
            self._show_active()
            self._refresh_hidden_panes()

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#pane-{pane_id}", Pane)

    @property
    def panes(self) -> list[Pane]:
        return [self.pane(p) for p in PANE_IDS]

    def visible_panes(self) -> list[Pane]:
        return self.panes if self.wide else [self.pane(self.active_pane)]

    def _show_active(self) -> None:
        for pane in self.panes:
            pane.set_class(pane.pane_id == self.active_pane, "-active")
        self.query_one(PaneBar).set_active(self.active_pane)

    def on_pane_bar_chosen(self, event: PaneBar.Chosen) -> None:
        self.action_show_pane(event.pane_id)

    # -- data ---------------------------------------------------------------------------

    def apply_result(self, result: PollResult) -> None:
        snapshot = result.snapshot
        header_notices = [
            n
            for n in (*snapshot.capabilities.notices, *snapshot.notices)
            if not any(n.feature in pane.features for pane in self.panes)
        ]
        with self.app.batch_update():
            header = self.query_one(Header)
            header.show_status(self.dbtop.poller.status)
            header.show_result(result, header_notices)
            for pane in self.visible_panes():
                pane.show(result, self.view)
            self._update_tab_labels(snapshot)
        offered = self.profiler_offered()
        if offered != self._profiler_offered:
            # The footer shows the key only while it is there: tell it when that changes.
            self._profiler_offered = offered
            self.refresh_bindings()

    def apply_status(self, status: PollStatus) -> None:
        self.query_one(Header).show_status(status)

    def _update_tab_labels(self, snapshot: Snapshot) -> None:
        labels = snapshot.capabilities.labels
        names = (labels.sessions, labels.statements, labels.indexes, labels.locks)
        if names == self._labels_seen:
            return
        self._labels_seen = names
        self.query_one(PaneBar).set_labels(list(zip(PANE_IDS, names, strict=True)))

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
        if action == "kill":
            if self.dbtop.read_only:
                return False  # absent, not merely disabled: no key, no footer entry, no help
            snapshot = self.latest_snapshot()
            if snapshot is not None:
                caps = snapshot.capabilities
                allowed = caps.has(
                    Feature.CANCEL if parameters == ("cancel",) else Feature.TERMINATE
                )
                return True if allowed else None
        if action == "profiler":
            # absent unless it can work: a write, so never in read-only mode
            return self.profiler_offered()
        if action in ("explain", "explain_analyze"):
            snapshot = self.latest_snapshot()
            if snapshot is not None and not snapshot.capabilities.has(Feature.EXPLAIN):
                return None
            if action == "explain_analyze" and snapshot is not None:
                return True if snapshot.capabilities.has(Feature.EXPLAIN_ANALYZE) else None
        return True

    def say(self, message: str, **options: Any) -> None:
        """A notification whose text is shown literally: it often quotes the server (a
        query, a key pattern, an error), which must never be read as markup."""
        self.notify(message, markup=False, **options)

    def action_show_pane(self, pane_id: str) -> None:
        if pane_id not in PANE_IDS:
            return
        self.active_pane = pane_id
        self._show_active()
        self._refresh_hidden_panes()
        self.pane(pane_id).focus_table()

    def action_cycle_focus(self, step: int) -> None:
        order: list[RowTable] = []
        for pane in self.panes:
            order.extend(pane.visible_tables)
        if not order:
            return
        current = self.focused_table()
        index = order.index(current) if current in order else -1
        target = order[(index + step) % len(order)]
        pane = next(p for p in self.panes if target in p.visible_tables)
        if pane.pane_id != self.active_pane:
            self.active_pane = pane.pane_id
            self._show_active()
            self._refresh_hidden_panes()
        target.focus()

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
        self._filter_target = table
        box = self.query_one("#filter", FilterInput)
        box.value = table.filter_text
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter" and self._filter_target is not None:
            self._filter_target.set_filter(event.value)
            self.focused_pane_of(self._filter_target).refresh_counts()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        target = self._filter_target
        if target is not None:
            target.set_filter(event.value)
            self.focused_pane_of(target).refresh_counts()
        event.input.display = False
        if target is not None:
            target.focus()

    def focused_pane_of(self, table: RowTable) -> Pane:
        return next(p for p in self.panes if table in p.tables)

    def action_toggle_idle(self) -> None:
        self.view = replace(self.view, show_idle=not self.view.show_idle)
        self.dbtop.set_show_idle(self.view.show_idle)
        self._rerender()
        self.say(
            "idle sessions shown" if self.view.show_idle else "idle sessions hidden",
            timeout=2,
        )

    def action_pause(self) -> None:
        paused = self.dbtop.poller.toggle_pause()
        self.say("paused: space resumes" if paused else "resumed", timeout=2)

    def action_interval(self, step: int) -> None:
        seconds = self.dbtop.poller.step_interval(step)
        self.say(f"refresh every {seconds:g}s", timeout=2)

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
        self.app.push_screen(DetailsScreen(selection.title, selection.item, counter_rates=rates))

    def on_row_table_activated(self, event: RowTable.Activated) -> None:
        self.action_details()

    def action_help(self) -> None:
        bindings = [
            (self.app.get_key_display(active.binding), active.binding)
            for active in self.active_bindings.values()
            if active.binding.description and active.binding.action not in _NOT_IN_HELP
        ]
        self.app.push_screen(HelpScreen(key_rows(bindings), read_only=self.dbtop.read_only))

    async def action_quit(self) -> None:
        await self.dbtop.action_quit()

    # -- kill ---------------------------------------------------------------------------

    def action_kill(self, mode_name: str) -> None:
        if self.dbtop.read_only:
            return
        mode = KillMode(mode_name)
        selection = self.selection()
        if selection is None or selection.session_id is None:
            self.say(
                "k and K act on a session: select one in the Sessions or Locks pane",
                severity="warning",
            )
            return
        snapshot = self.latest_snapshot()
        session = snapshot.session(selection.session_id) if snapshot else None
        if session is not None and session.is_self:
            self.say("that is dbtop's own connection", severity="warning")
            return
        verb = "Cancel the query of" if mode is KillMode.CANCEL else "Terminate"
        title = f"{verb} session {one_line(selection.session_id)}?"
        body = describe_session(session, selection.session_id, mode)
        session_id = selection.session_id

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            # Polls went on while the dialog was open: the session may have ended, and its
            # id (a pid, a client id) been given to someone else since.
            now = self.latest_snapshot()
            current = now.session(session_id) if now else None
            if session is not None and (
                current is None or current.is_self or current.backend_start != session.backend_start
            ):
                self.say(
                    f"session {one_line(session_id)} is not the one confirmed any more: "
                    "nothing was done",
                    severity="warning",
                )
                return
            self.run_worker(self._kill(session_id, mode), group="action")

        self.app.push_screen(
            ConfirmScreen(
                title, body, yes="Cancel query" if mode is KillMode.CANCEL else "Terminate"
            ),
            answered,
        )

    async def _kill(self, session_id: str, mode: KillMode) -> None:
        try:
            result = await self.dbtop.poller.call(lambda engine: engine.kill(session_id, mode))
        except DbtopError as err:
            self.say(one_line(str(err)), severity="error", timeout=8)
            return
        self.say(
            one_line(result.message),
            severity="information" if result.ok else "warning",
            timeout=6,
        )
        self.dbtop.poller.refresh_now()

    # -- explain ------------------------------------------------------------------------

    def action_explain(self) -> None:
        self._explain(analyze=False)

    def action_explain_analyze(self) -> None:
        selection = self.selection()
        if selection is None:
            self.say("no row selected", severity="warning")
            return
        body = Text(
            "EXPLAIN ANALYZE runs the statement to measure it. dbtop runs it only if it "
            "only reads, inside a transaction that is rolled back.\n\n"
        )
        body.append(one_line(selection.query, 300) or "(the session's current query)")

        def answered(yes: bool | None) -> None:
            if yes:
                self._explain(analyze=True)

        self.app.push_screen(
            ConfirmScreen("Run EXPLAIN ANALYZE?", body, yes="Run it", danger=False), answered
        )

    def _explain(self, *, analyze: bool) -> None:
        selection = self.selection()
        snapshot = self.latest_snapshot()
        if selection is None or snapshot is None:
            self.say("no row selected", severity="warning")
            return
        caps = snapshot.capabilities
        poller = self.dbtop.poller
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
            self.say(f"{selection.title}: no query to explain", severity="warning")
            return
        self.app.push_screen(PlanScreen(f"Plan · {selection.title}", load))

    # -- the profiler switch -------------------------------------------------------------

    def profiler_databases(self) -> tuple[str, ...] | None:
        """The databases ``p`` offers to profile, or None when it is not offered: read-only,
        an engine without a profiler switch, or one that says it cannot set it here."""
        if self.dbtop.read_only:
            return None
        snapshot = self.latest_snapshot()
        if snapshot is None or not snapshot.capabilities.has(Feature.PROFILER):
            return None
        return snapshot.capabilities.profiler_databases

    def profiler_offered(self) -> bool:
        """``p`` is there: the profiler can be set, and the Slow queries pane has the focus."""
        if self.profiler_databases() is None:
            return False
        return self.is_mounted and self.focused_pane().pane_id == "statements"

    def action_profiler(self) -> None:
        databases = self.profiler_databases()
        if databases is None:
            return
        if not databases:
            self.say("no database to profile was found", severity="warning")
            return

        def answered(choice: ProfilerChoice | None) -> None:
            if choice is not None:
                self.run_worker(self._set_profiling(choice), group="action")

        self.app.push_screen(ProfilerScreen(databases), answered)

    async def _set_profiling(self, choice: ProfilerChoice) -> None:
        async def switch(engine: Engine) -> str:
            # The engine may have been replaced by a reconnect since the key was pressed.
            if not engine.capabilities.has(Feature.PROFILER):
                raise RefusedError("this engine has no profiler switch here")
            return await engine.set_profiling(choice.database, choice.slowms)

        try:
            line = await self.dbtop.poller.call(switch)
        except DbtopError as err:
            self.say(one_line(str(err)), severity="error", timeout=8)
            return
        self.say(one_line(line), timeout=6)
        self.dbtop.poller.refresh_now()

    # -- suggest ------------------------------------------------------------------------

    def action_suggest(self) -> None:
        poller = self.dbtop.poller
        snapshot = self.latest_snapshot()

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

        self.app.push_screen(SuggestScreen("Index suggestions and findings", load))


def all_binding_ids() -> set[str]:
    """Every id a keymap may remap (the main screen's and the dialogs')."""
    screens = (
        MainScreen,
        FilterInput,
        ConfirmScreen,
        DetailsScreen,
        PlanScreen,
        SuggestScreen,
        ProfilerScreen,
    )
    ids: set[str] = set()
    for node in (*screens, HelpScreen):
        ids |= binding_ids(node.BINDINGS)
    return ids


def describe_session(session: Session | None, session_id: str, mode: KillMode) -> Group:
    """Who and what, for the kill confirmation: one field a line, long values wrapped
    under themselves."""
    if session is None:
        return Group(Text(f"session {session_id} is not in the last snapshot any more"))
    fields = Table.grid(padding=(0, 2))
    fields.add_column(justify="right", style="bold", no_wrap=True)
    fields.add_column(overflow="fold")
    rows = (
        ("session", session_id),
        ("user", session.user),
        ("database", session.database),
        ("application", session.application),
        ("client", session.client),
        ("state", session.state),
        ("running for", None if session.duration_s is None else f"{session.duration_s:,.1f}s"),
        ("blocked by", ", ".join(session.blocked_by) or None),
        ("query", one_line(session.query, 500) or "(none)"),
    )
    for name, value in rows:
        if value:
            fields.add_row(Text(name), Text(one_line(value, 500)))
    if mode is KillMode.CANCEL and idle_in_transaction(session):
        note = Text(
            "It is idle in a transaction: there is no statement to cancel, and its locks stay. "
            "K (terminate) ends the session and releases them.",
            style="bold",
        )
    elif mode is KillMode.CANCEL:
        note = Text(
            "The current statement is stopped; the session stays connected.", style="italic"
        )
    else:
        note = Text(
            "The whole session is ended; its open transaction is rolled back.", style="italic"
        )
    return Group(fields, Text(""), note)


_PANES: tuple[type[Pane], ...] = (SessionsPane, StatementsPane, IndexesPane, LocksPane)

_LABELS = PaneLabels()
