"""Rates over a server whose counters move in flush steps (PostgreSQL's 1 s stats flush)."""

import math
from datetime import UTC, datetime

from dbtop.analysis.rates import FLUSH_KEY, RateWindow, rate_window_s
from dbtop.model import Capabilities, ServerSummary, Snapshot, frozen

RATE = 233.0  # commits per second, steady
FLUSH_S = 1.004  # a busy backend flushes at its first commit after 1 s


def snap(t: float, value: float, flush: float | None = 1.0) -> Snapshot:
    extra = {FLUSH_KEY: flush} if flush else {}
    return Snapshot(
        engine="postgresql",
        taken_at=datetime(2026, 1, 1, tzinfo=UTC),
        monotonic=t,
        server=ServerSummary(
            "postgresql", "h", "15", counters=frozen(transactions=value), extra=frozen(extra)
        ),
        capabilities=Capabilities(),
    )


def published(t: float) -> float:
    """What pg_stat_database shows at t: the commits up to the last flush."""
    last_flush = math.floor(t / FLUSH_S) * FLUSH_S
    return RATE * last_flush


def tps_series(flush: float | None, polls: int = 40, every: float = 0.51) -> list[float]:
    window = RateWindow()
    out = []
    for k in range(polls):
        t = 100.0 + k * every
        rates = window.advance(snap(t, published(t), flush)).rates
        if rates is not None:
            out.append(rates.server["transactions"])
    return out


def test_half_second_polls_of_a_flushed_counter_never_show_zero_or_double():
    series = tps_series(flush=1.0)
    assert len(series) >= 30
    assert min(series) > 0
    assert max(series) < 2 * min(series)
    assert all(0.6 * RATE <= v <= 1.4 * RATE for v in series)


def test_differencing_each_poll_would_alternate_zero_and_double():
    # The same counter without the flush period stated: what dbtop did before.
    series = tps_series(flush=None)
    assert min(series) == 0
    assert max(series) > 1.8 * RATE


def test_window_is_stated_and_history_stays_small():
    window = RateWindow()
    first = window.advance(snap(0.0, 0.0))
    assert first.rates is None
    for k in range(1, 40):
        last = window.advance(snap(k * 0.1, 0.0))
    assert last.rates is not None and last.rates.interval_s >= rate_window_s(last) == 3.0
    assert len(window._history) <= 33
    # No flush period stated: the previous poll is the baseline, as before.
    plain = RateWindow()
    plain.advance(snap(0.0, 0.0, None))
    assert plain.advance(snap(0.5, 10.0, None)).rates.interval_s == 0.5
