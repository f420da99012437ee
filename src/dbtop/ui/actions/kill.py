"""``k`` cancels the selected session's statement, ``K`` terminates the session: after a
confirmation that says who and what, never on dbtop's own connection, and never on a
session that is not the one confirmed any more (polls go on while the dialog is open)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from dbtop.analysis.lockgraph import build_lock_forest, release_phrase
from dbtop.analysis.sessions import idle_in_transaction
from dbtop.errors import DbtopError
from dbtop.model import Feature, KillMode, Session
from dbtop.safetext import one_line
from dbtop.ui.actions.host import ActionHost
from dbtop.ui.screens.confirm import ConfirmScreen


class KillAction:
    def __init__(self, host: ActionHost) -> None:
        self.host = host

    def offered(self, mode: KillMode) -> bool | None:
        """True: the key is there; None: shown disabled (read-only mode, or the engine
        cannot), and pressing it says why (:meth:`refusal`): a DBA who presses k and gets
        nothing does not know whether dbtop heard."""
        host = self.host
        if host.dbtop.read_only:
            return None
        snapshot = host.latest_snapshot()
        if snapshot is None:
            return True
        feature = Feature.CANCEL if mode is KillMode.CANCEL else Feature.TERMINATE
        return True if snapshot.capabilities.has(feature) else None

    def refusal(self, mode: KillMode) -> str:
        """The one line a disabled k or K answers with."""
        if self.host.dbtop.read_only:
            return "read-only mode: kill is refused"
        what = "cancel a query" if mode is KillMode.CANCEL else "terminate a session"
        return f"this server's engine cannot {what} from dbtop"

    def ask(self, mode: KillMode) -> None:
        host = self.host
        if host.dbtop.read_only:
            host.say(self.refusal(mode), severity="warning")
            return
        selection = host.selection()
        if selection is None or selection.session_id is None:
            host.say(
                "k and K act on a session: select one in the Sessions or Locks pane",
                severity="warning",
            )
            return
        snapshot = host.latest_snapshot()
        session = snapshot.session(selection.session_id) if snapshot else None
        if session is not None and session.is_self:
            host.say("that is dbtop's own connection", severity="warning")
            return
        if mode is KillMode.CANCEL and session is not None and idle_in_transaction(session):
            # There is no statement to cancel (pg_cancel_backend, KILL QUERY, killOp do
            # nothing to an idle transaction): offer what would help, or say so.
            if self.offered(KillMode.TERMINATE) is not True:
                host.say(
                    f"session {one_line(selection.session_id)} is idle in a transaction: "
                    "cancel does nothing (no statement runs) and terminate is not available",
                    severity="warning",
                )
                return
            mode = KillMode.TERMINATE
            title = f"Terminate session {one_line(selection.session_id)} (idle in tx)?"
        else:
            verb = "Cancel the query of" if mode is KillMode.CANCEL else "Terminate"
            title = f"{verb} session {one_line(selection.session_id)}?"
        forest = build_lock_forest(snapshot.lock_waits) if snapshot else None
        frees = release_phrase(forest, selection.session_id) if forest else None
        if frees:
            title = f"{title[:-1]}: {frees}?"
        body = describe_session(session, selection.session_id, mode, frees)
        session_id = selection.session_id

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            # Polls went on while the dialog was open: the session may have ended, and its
            # id (a pid, a client id) been given to someone else since.
            now = host.latest_snapshot()
            current = now.session(session_id) if now else None
            if session is not None and (
                current is None or current.is_self or not _same_start(current, session)
            ):
                host.say(
                    f"session {one_line(session_id)} is not the one confirmed any more: "
                    "nothing was done",
                    severity="warning",
                )
                return
            host.run_worker(self.run(session_id, mode, session), group="action")

        host.dbtop.push_screen(
            ConfirmScreen(
                title, body, yes="Cancel query" if mode is KillMode.CANCEL else "Terminate"
            ),
            answered,
        )

    async def run(self, session_id: str, mode: KillMode, confirmed: Session | None = None) -> None:
        """``confirmed``: the session as the dialog showed it; the engine checks again,
        right before sending, that the id still names it (the check above sees only the
        last poll)."""
        host = self.host
        poller = host.dbtop.poller
        try:
            result = await poller.call(
                lambda engine: engine.kill(session_id, mode, expected=confirmed)
            )
        except DbtopError as err:
            host.say(one_line(str(err)), severity="error", timeout=8)
            return
        host.say(
            one_line(result.message),
            severity="information" if result.ok else "warning",
            timeout=6,
        )
        poller.refresh_now()


#: Redis gives a client's age in whole seconds, so two polls may place one client's start
#: a second apart; the engine checks exactly (or within its own slack) before it sends
START_SLACK_S = 2.0


def _same_start(now: Session, confirmed: Session) -> bool:
    if now.backend_start is None or confirmed.backend_start is None:
        return now.backend_start is confirmed.backend_start
    return abs((now.backend_start - confirmed.backend_start).total_seconds()) < START_SLACK_S


def describe_session(
    session: Session | None, session_id: str, mode: KillMode, frees: str | None = None
) -> Group:
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
        ("ending it", frees),
        ("query", one_line(session.query, 500) or "(none)"),
    )
    for name, value in rows:
        if value:
            fields.add_row(Text(name), Text(one_line(value, 500)))
    if mode is KillMode.TERMINATE and idle_in_transaction(session):
        note = Text(
            "Cancel does nothing here: it is idle in a transaction, no statement runs, and "
            "its locks stay held. Terminating ends the session, rolls its transaction back "
            "and releases them.",
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
