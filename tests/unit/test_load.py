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


# -- pg_wait_sampling's profile ------------------------------------------------------------


def profiled(*counts: tuple[int, str | None, int | None, int], looks: int = 200, **more: object):
    from dbtop.waitprofile import WaitProfile

    return WaitProfile(period_ms=10.0, seconds=2.0, looks=looks, counts=counts, **more)  # type: ignore[arg-type]


def test_the_profile_gives_the_average_active_sessions_of_the_interval() -> None:
    """Counts over looks: a session waiting on a lock the whole interval is 1, two in
    pg_sleep half of it are 1 in Other, one on CPU a quarter is 0.25; the poll's own
    look (one session on CPU at that instant) is not used."""
    sessions = (
        active("11", user="alice", application="app", database="shop", query="UPDATE t SET x=1"),
        active("12", user="bob", database="shop", query="SELECT pg_sleep(1)"),
        active("13", user="bob", database="shop", query="SELECT pg_sleep(1)"),
        active("14", user="carol", database="shop", query="SELECT sum(x) FROM t"),
    )
    statements = (
        Statement(id="s1", query="UPDATE t SET x = $1", calls=1, total_ms=1, extra={"queryid": 7}),
    )
    profile = profiled(
        (11, "Lock:transactionid", 7, 200),
        (12, "Timeout:PgSleep", 8, 100),
        (13, "Timeout:PgSleep", 8, 100),
        (14, None, None, 50),
    )
    sample = load.sample(snap("postgresql", *sessions, statements=statements, wait_profile=profile))
    assert sample.source == load.WAIT_SAMPLING and sample.looks == 200
    assert dict(sample.by_class) == {load.LOCK: 1.0, load.OTHER: 1.0, load.CPU: 0.25}
    # statements by queryid: pg_stat_statements' text, else the session's query
    assert sample.slices[("statement", "UPDATE t SET x = $1")] == {load.LOCK: 1.0}
    assert sample.slices[("statement", "SELECT sum(x) FROM t")] == {load.CPU: 0.25}
    assert sample.slices[("user", "bob")] == {load.OTHER: 1.0}
    assert sample.slices[("application", "-")] == {load.OTHER: 1.0, load.CPU: 0.25}
    assert sum(sample.slices[("database", "shop")].values()) == pytest.approx(sample.total)
    # a queryid neither pg_stat_statements nor the session knows, of a backend gone by now
    gone = load.sample(snap("postgresql", wait_profile=profiled((99, "IO:DataFileRead", 5, 20))))
    assert gone.slices[("statement", "queryid 5")] == {load.IO: 0.1}
    assert gone.slices[("user", "-")] == {load.IO: 0.1}


def test_without_looks_the_profile_uses_its_period_and_interval() -> None:
    # pg_wait_sampling.profile_pid off: every pid is 0, so no backend tells the looks
    profile = profiled((0, "LWLock:WALWrite", None, 100), looks=0, per_pid=False)
    sample = load.sample(
        snap("postgresql", active("5", wait="Lock:relation"), wait_profile=profile)
    )
    assert sample.looks == 200  # 2 s at 10 ms
    assert dict(sample.by_class) == {load.LATCH: 0.5}


def test_a_profile_without_cpu_samples_takes_cpu_from_the_poll() -> None:
    """pg_wait_sampling 1.1.4 samples waits only: CPU is the poll's look, waits the profile."""
    sessions = (
        active("1"),
        active("2", wait="Lock:relation"),
        active("3", state="idle", is_idle=True),
    )
    profile = profiled((2, "Lock:relation", None, 150), cpu_sampled=False)
    sample = load.sample(snap("postgresql", *sessions, wait_profile=profile))
    assert dict(sample.by_class) == {load.LOCK: 0.75, load.CPU: 1.0}
    window = load.window([sample])
    note = load.accuracy_note(window, 2.0, None)
    assert note.startswith("pg_wait_sampling every 10 ms: 100 samples per second")
    assert "CPU from one look per poll every 2 s" in note


def test_the_window_says_which_source_and_what_it_means() -> None:
    polled = [load.sample(snap("postgresql", active("1"), at=n)) for n in range(3)]
    window = load.window(polled)
    assert window.source == load.POLL and window.sources == {load.POLL: 3}
    note = load.accuracy_note(window, 2.0, "pg_wait_sampling is not installed")
    assert note == (
        "one look per poll every 2 s: a wait shorter than that is seen by chance (the "
        "average is right over many polls); pg_wait_sampling is not installed"
    )
    mixed = polled[:1] + [
        load.sample(snap("postgresql", at=n, wait_profile=profiled((1, None, None, 40))))
        for n in (1, 2)
    ]
    window = load.window(mixed)
    assert window.source == load.WAIT_SAMPLING and window.period_ms == 10.0
    assert window.aas == pytest.approx((1 + 0.2 + 0.2) / 3)
    assert load.accuracy_note(window, 2.0, None).endswith("; 1 of 3 polls had no profile")
