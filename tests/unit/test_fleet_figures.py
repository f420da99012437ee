"""The figures the fleet overview and the exporter share (analysis.fleet): sessions by
wait class in the Load view's classes, so Prometheus and the screen agree."""

from __future__ import annotations

from dbtop.analysis import fleet, load
from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.model import Session
from tests.unit.test_load import active, snap


def test_sessions_by_wait_class_use_the_load_classes() -> None:
    snapshot = snap(
        "mysql",
        active("1", wait="Waiting for table metadata lock"),
        active("2", state="Sending data"),
        active("3", wait="InnoDB row lock", waiting_on_lock=True),
        Session(id="4", state="idle", is_idle=True),
    )
    states = fleet.figures(snapshot, build_lock_forest(())).sessions_by_state
    classes = {wait for _state, wait in states}
    assert classes <= {*load.WAIT_CLASSES, fleet.NO_WAIT}
    assert sum(n for (_s, wait), n in states.items() if wait == load.LOCK) == 2
    assert states[("idle", fleet.NO_WAIT)] == 1
