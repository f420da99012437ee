"""Database load (analysis.load): each engine's words map to the wait classes, and the
totals are the active sessions sampled."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from dbtop.analysis import load
from dbtop.analysis.sessions import counts_as_active
from dbtop.model import (
    Capabilities,
    Rates,
    ServerSummary,
    Session,
    Snapshot,
    Statement,
    StatementRate,
)
from tests.ui.recorded import load_snapshots

T0 = datetime(2026, 12, 2, 3, 12, tzinfo=UTC)


def snap(engine: str, *sessions: Session, at: int = 0, **more: object) -> Snapshot:
    return Snapshot(
        engine=engine,
        taken_at=T0 + timedelta(seconds=at),
        monotonic=float(at),
        server=ServerSummary(engine=engine, address="h", version="1"),
        capabilities=Capabilities(),
        sessions=sessions,
        **more,  # type: ignore[arg-type]
    )


def active(id: str, **fields: object) -> Session:
    return Session(id=id, **{"state": "active", **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("engine", "session", "expected"),
    [
        ("postgresql", active("1"), load.CPU),
        ("postgresql", active("1", wait="Lock:transactionid"), load.LOCK),
        ("postgresql", active("1", wait="LWLock:WALWrite"), load.LATCH),
        ("postgresql", active("1", wait="IO:DataFileRead"), load.IO),
        ("postgresql", active("1", wait="Client:ClientRead"), load.CLIENT),
        ("postgresql", active("1", wait="Timeout:PgSleep"), load.OTHER),
        ("postgresql", active("1", wait="BufferPin:BufferPin"), load.LOCK),
        ("mysql", active("1", state="Sending data"), load.CPU),
        ("mysql", active("1", wait="Waiting for table metadata lock"), load.LOCK),
        ("mysql", active("1", wait="InnoDB row lock", waiting_on_lock=True), load.LOCK),
        ("mysql", active("1", state="Writing to net"), load.CLIENT),
        ("mysql", active("1", state="waiting for handler commit"), load.IO),
        ("mongodb", active("1", wait="lock Collection w", waiting_on_lock=True), load.LOCK),
        ("mongodb", active("1"), load.CPU),
    ],
)
def test_each_engine_in_its_own_terms(engine: str, session: Session, expected: str) -> None:
    assert load.wait_class(engine, session) == expected


def test_the_totals_are_the_active_sessions_sampled() -> None:
    for snapshot in load_snapshots():
        sample = load.sample(snapshot)
        assert sample.total == sum(1 for s in snapshot.sessions if counts_as_active(s))
        assert sample.total > 0
        for dimension in load.DIMENSIONS:
            sliced = sum(
                sum(classes.values())
                for (dim, _), classes in sample.slices.items()
                if dim == dimension
            )
            assert sliced == sample.total, dimension


def test_a_window_averages_over_its_samples() -> None:
    lock = active("1", wait="Lock:relation", user="app", query="UPDATE t SET x = 1")
    cpu = active("2", user="batch", query="SELECT 1")
    samples = [
        load.sample(snap("postgresql", lock, cpu, at=0)),
        load.sample(snap("postgresql", lock, at=1)),
        load.sample(snap("postgresql", Session(id="9", is_idle=True, state="idle"), at=2)),
        load.sample(snap("postgresql", lock, Session(id="0", state="active", is_self=True), at=3)),
    ]
    window = load.window(samples)
    assert window.samples == 4 and window.seconds == 3
    assert window.by_class == {load.LOCK: 0.75, load.CPU: 0.25}
    assert window.aas == pytest.approx(1.0)
    users = {s.name: s for s in window.top if s.dimension == "user"}
    assert users["app"].aas == 0.75 and users["app"].main_class == load.LOCK
    assert users["batch"].share == pytest.approx(0.25)


def test_redis_load_is_cpu_time_per_command() -> None:
    get = Statement(id="get", query="GET", calls=10, total_ms=5.0)
    blpop = Statement(id="blpop", query="BLPOP", calls=1, total_ms=0.0)
    rates = Rates(
        interval_s=1.0,
        statements={
            "get": StatementRate(calls_s=1000, total_ms_s=250.0, rows_s=None, mean_ms=0.25),
            "blpop": StatementRate(calls_s=0, total_ms_s=0.0, rows_s=None, mean_ms=None),
        },
    )
    sample = load.sample(snap("redis", statements=(get, blpop), rates=rates))
    assert sample.by_class == {load.CPU: 0.25}
    assert dict(sample.slices) == {("statement", "GET"): {load.CPU: 0.25}}
    assert dataclasses.replace(sample).total == 0.25
