"""dbtop.analysis.sessions: one classification of sessions for the TUI and the CLI."""

from dbtop.analysis.lockgraph import EMPTY_FOREST, build_lock_forest
from dbtop.analysis.sessions import (
    blocks_others,
    flag_rank,
    hidden_when_idle_hidden,
    idle_in_transaction,
    is_long_running,
    is_root_blocker,
    is_waiting,
    session_flag,
)
from dbtop.model import LockWait, Session

# 1 blocks 2, 2 blocks 3: 1 is the root blocker, 2 both waits and blocks
FOREST = build_lock_forest([LockWait(waiter="2", blocker="1"), LockWait(waiter="3", blocker="2")])


def test_idle_in_transaction_by_flag_or_by_state_word():
    assert idle_in_transaction(Session("1", is_idle=True, in_transaction=True))
    # an engine that does not call it idle, but whose state word says so
    assert idle_in_transaction(Session("1", state="Idle in transaction", in_transaction=True))
    assert not idle_in_transaction(Session("1", state="active", in_transaction=True))
    assert not idle_in_transaction(Session("1", is_idle=True))


def test_blockers_and_waiters():
    root, middle, leaf = Session("1"), Session("2", waiting_on_lock=True), Session("3")
    assert is_root_blocker(root, FOREST) and not is_root_blocker(middle, FOREST)
    assert blocks_others(root, FOREST) and blocks_others(middle, FOREST)
    assert not blocks_others(leaf, FOREST)
    assert is_waiting(middle) and is_waiting(Session("9", blocked_by=("1",)))
    assert not is_waiting(root)


def test_long_running_is_an_active_statement_past_the_threshold():
    assert is_long_running(Session("1", duration_s=10.0), 10.0)
    assert not is_long_running(Session("1", duration_s=9.9), 10.0)
    assert not is_long_running(Session("1", duration_s=99.0, is_idle=True), 10.0)
    assert not is_long_running(Session("1"), 10.0)


def test_the_flag_is_the_most_urgent_of_what_a_session_is():
    def flag(session: Session) -> str:
        return session_flag(session, FOREST, 10.0)

    assert flag(Session("1", is_self=True)) == "*"  # own connection before anything else
    assert flag(Session("1", duration_s=60.0)) == "B"
    assert flag(Session("2", waiting_on_lock=True)) == "W"  # waits and blocks: waits shows
    assert flag(Session("3", blocked_by=("2",))) == "W"
    assert flag(Session("5", is_idle=True, in_transaction=True)) == "T"
    assert flag(Session("5", duration_s=11.0)) == "L"
    assert flag(Session("5", duration_s=1.0)) == ""
    assert session_flag(Session("2"), EMPTY_FOREST, 10.0) == ""


def test_a_blocker_that_also_waits_is_W_and_one_that_does_not_is_b():
    forest = build_lock_forest(
        [LockWait(waiter="2", blocker="1"), LockWait(waiter="1", blocker="0")]
    )
    assert session_flag(Session("1"), forest, 10.0) == "b"  # not a root: 0 is


def test_flags_rank_by_urgency():
    order = ["B", "W", "b", "T", "L", "", "*"]
    assert sorted(order, key=flag_rank, reverse=True) == order
    assert flag_rank("?") == flag_rank("")


def test_idle_sessions_hidden_unless_in_a_transaction_or_blocking():
    assert hidden_when_idle_hidden(Session("9", is_idle=True), FOREST)
    assert not hidden_when_idle_hidden(Session("9", is_idle=True, in_transaction=True), FOREST)
    assert not hidden_when_idle_hidden(Session("1", is_idle=True), FOREST)  # a blocker
    assert not hidden_when_idle_hidden(Session("9"), FOREST)


def test_a_hidden_session_is_never_idle_nor_counted_active() -> None:
    from dbtop.analysis.lockgraph import build_lock_forest
    from dbtop.analysis.sessions import activity_counts, hidden_when_idle_hidden
    from dbtop.model import Session
    from dbtop.ui.panes.sessions import state_cell

    hidden = Session("7", user="postgres", hidden="needs pg_monitor")
    active = Session("8", state="active")
    idle = Session("9", state="idle", is_idle=True)
    forest = build_lock_forest(())
    assert activity_counts((hidden, active, idle)) == (1, 1)
    assert not hidden_when_idle_hidden(hidden, forest)
    assert hidden_when_idle_hidden(idle, forest)
    assert state_cell(hidden) == "hidden: needs pg_monitor"
    assert state_cell(active) == "active"
