from datetime import UTC, datetime

import pytest

from dbtop.analysis.rates import compute_rates, with_rates
from dbtop.model import (
    Capabilities,
    IndexStat,
    ServerSummary,
    Snapshot,
    Statement,
    TableStat,
    frozen,
)


def snap(t: float, *, counters=None, statements=(), indexes=(), tables=(), engine="postgresql"):
    return Snapshot(
        engine=engine,
        taken_at=datetime(2026, 1, 1, tzinfo=UTC),
        monotonic=t,
        server=ServerSummary(engine, "h", "15", counters=frozen(counters or {})),
        capabilities=Capabilities(),
        statements=tuple(statements),
        indexes=tuple(indexes),
        tables=tuple(tables),
    )


def test_no_previous_snapshot_gives_no_rates():
    cur = snap(10)
    assert compute_rates(None, cur) is None
    assert with_rates(None, cur) is cur


def test_snapshots_too_close_or_from_another_engine_give_no_rates():
    assert compute_rates(snap(10), snap(10.01)) is None
    assert compute_rates(snap(10, engine="redis"), snap(12)) is None


def test_server_counter_rates_and_interval_cache_hit_ratio():
    prev = snap(10, counters={"xact": 100, "blks_hit": 900, "blks_read": 100})
    cur = snap(12, counters={"xact": 300, "blks_hit": 1280, "blks_read": 120})
    rates = compute_rates(prev, cur)
    assert rates.interval_s == 2
    assert rates.server["xact"] == 100
    assert rates.server["cache_hit_ratio"] == pytest.approx(380 / 400)
    assert not rates.reset


def test_statement_rates_and_interval_mean():
    a0 = Statement("1", "select 1", calls=10, total_ms=100.0, rows=10)
    a1 = Statement("1", "select 1", calls=30, total_ms=500.0, rows=50)
    rates = compute_rates(snap(0, statements=[a0]), snap(4, statements=[a1]))
    rate = rates.statements["1"]
    assert rate.calls_s == 5
    assert rate.total_ms_s == 100
    assert rate.rows_s == 10
    assert rate.mean_ms == 20  # 400 ms over 20 calls in the interval, not the lifetime mean


def test_statement_without_calls_in_interval_has_no_mean():
    a = Statement("1", "q", calls=3, total_ms=9.0)
    rate = compute_rates(snap(0, statements=[a]), snap(1, statements=[a])).statements["1"]
    assert rate.calls_s == 0
    assert rate.mean_ms is None


def test_new_statement_waits_a_poll_instead_of_showing_a_burst():
    new = Statement("2", "q", calls=1_000_000, total_ms=1e9)
    rates = compute_rates(snap(0), snap(1, statements=[new]))
    assert "2" not in rates.statements
    assert not rates.reset


def test_counter_going_backwards_is_a_reset_not_a_negative_rate():
    prev = snap(0, counters={"xact": 500}, statements=[Statement("1", "q", 50, 500.0)])
    cur = snap(1, counters={"xact": 20}, statements=[Statement("1", "q", 2, 3.0)])
    rates = compute_rates(prev, cur)
    assert rates.reset
    assert "xact" not in rates.server
    assert "1" not in rates.statements


def test_index_and_table_rates_by_key():
    i0 = IndexStat("public", "t", "t_a_idx", scans=10)
    i1 = IndexStat("public", "t", "t_a_idx", scans=40)
    t0 = TableStat("public", "t", seq_scans=1, seq_rows_read=1000, index_scans=None)
    t1 = TableStat("public", "t", seq_scans=3, seq_rows_read=5000, index_scans=None)
    rates = compute_rates(snap(0, indexes=[i0], tables=[t0]), snap(2, indexes=[i1], tables=[t1]))
    assert rates.indexes["public.t.t_a_idx"] == 15
    assert rates.tables["public.t"] == {"seq_scans": 1, "seq_rows_read": 2000}


def test_with_rates_keeps_the_snapshot_immutable():
    prev, cur = snap(0, counters={"x": 1}), snap(1, counters={"x": 2})
    out = with_rates(prev, cur)
    assert out is not cur and cur.rates is None
    assert out.rates.server["x"] == 1
    with pytest.raises(TypeError):
        out.rates.server["x"] = 5  # frozen mapping


def test_statement_counters_become_rates_and_resets_are_left_out():
    a0 = Statement(
        "1", "q", calls=10, total_ms=100.0, counters=frozen(docs_examined=1000, reset_me=50)
    )
    a1 = Statement(
        "1",
        "q",
        calls=20,
        total_ms=200.0,
        counters=frozen(docs_examined=9000, reset_me=10, new_one=5),
    )
    rate = compute_rates(snap(0, statements=[a0]), snap(2, statements=[a1])).statements["1"]
    assert dict(rate.counters) == {"docs_examined": 4000}
