"""Inferred lock edges: deduced from MariaDB's process list and transactions when no
metadata-lock view exists, and marked "inferred" wherever they are drawn."""

from __future__ import annotations

from datetime import UTC, datetime

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.engines.mysql.inferred import inferred_mdl_edges
from dbtop.humanize import inferred_marker
from dbtop.model import LockWait, Session, frozen
from dbtop.ui.panes.locks import lock_rows

START = datetime(2026, 1, 1, 12, 3, 4, tzinfo=UTC)


def _sessions() -> list[Session]:
    return [
        Session("10", database="shop", in_transaction=True, xact_start=START, xact_age_s=60.0),
        Session("11", database="shop", in_transaction=True, xact_age_s=2.0),  # began later
        Session("12", database="shop", in_transaction=True, xact_age_s=90.0, is_self=True),
        Session(
            "20",
            database="shop",
            query="ALTER TABLE t ADD COLUMN c INT",
            wait="Waiting for table metadata lock",
            duration_s=5.0,
        ),
        Session(
            "21",
            database="shop",
            query="SELECT * FROM t",
            wait="Waiting for table metadata lock",
            duration_s=3.0,
        ),
    ]


def test_probable_holders_are_transactions_older_than_the_wait():
    sessions = _sessions()
    waiters = [s for s in sessions if s.wait]
    edges = inferred_mdl_edges(waiters, sessions, {"20": 5.0, "21": 3.0})
    pairs = {(e.waiter, e.blocker): e for e in edges}
    # the ALTER waits for the open transaction, the reader for it and the queued ALTER;
    # dbtop's own connection and a transaction begun after the wait are never holders
    assert set(pairs) == {("20", "10"), ("21", "10"), ("21", "20")}
    assert all(e.extra["inferred"] for e in edges)
    assert pairs[("20", "10")].extra["inferred_reason"] == "open transaction since 12:03:04"
    assert pairs[("20", "10")].object == "shop.t" and pairs[("20", "10")].mode == "EXCLUSIVE"
    assert pairs[("21", "20")].extra["relation"] == "queued ahead"


def test_locks_pane_and_cli_mark_an_inferred_edge():
    inferred = LockWait(
        "20",
        "10",
        mode="EXCLUSIVE",
        lock_type="metadata",
        object="shop.t",
        extra=frozen(inferred=True, inferred_reason="open transaction since 12:03:04"),
    )
    reported = LockWait("30", "31", mode="X", lock_type="row", object="shop.u")
    forest = build_lock_forest([inferred, reported])
    rows = {node.session_id: row for row, node in lock_rows(forest, {})}
    assert rows["20"].cells[2].startswith("inferred: EXCLUSIVE metadata")
    assert rows["20"].cells[3] == "(inferred: open transaction since 12:03:04) shop.t"
    assert "inferred" not in " ".join(map(str, rows["30"].cells))
    assert inferred_marker(reported) == ""
    assert inferred_marker(LockWait("1", "2", extra=frozen(inferred=True))) == "(inferred)"


def test_no_false_ring_between_waiters_in_transactions():
    def waiter(sid: str, query: str, waited: float) -> Session:
        return Session(
            sid,
            database="shop",
            query=query,
            wait="Waiting for table metadata lock",
            duration_s=waited,
            in_transaction=True,
            xact_age_s=100.0,
        )

    a = waiter("1", "INSERT INTO t1 VALUES (1)", 9.0)
    b = waiter("2", "INSERT INTO t2 VALUES (1)", 4.0)
    c = waiter("3", "INSERT INTO t1 VALUES (2)", 2.0)
    edges = inferred_mdl_edges([a, b, c], [a, b, c], {"1": 9.0, "2": 4.0, "3": 2.0})
    pairs = {(e.waiter, e.blocker) for e in edges if e.extra["relation"] == "open transaction"}
    # the later waiter on another table may hold the lock; one waiting for the same table
    # cannot; the pair is never drawn both ways
    assert pairs == {("1", "2"), ("2", "3")}
    forest = build_lock_forest(edges)
    assert not forest.cycles
