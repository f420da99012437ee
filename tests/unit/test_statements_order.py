"""The CLI's statements table says what it sorts by and sorts either way (issue 12: a
45 s report ran once ranked below busy polling queries, by ms/s of the last second)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from dbtop.cli import main, render
from dbtop.model import Capabilities, Rates, ServerSummary, Snapshot, Statement, StatementRate

REPORT = Statement("report", "SELECT sum(total) FROM orders", calls=1, total_ms=45_000.0)
POLL = Statement("poll", "SELECT 1 FROM jobs WHERE due", calls=90_000, total_ms=900.0)
SNAPSHOT = Snapshot(
    engine="postgresql",
    taken_at=datetime(2026, 12, 2, tzinfo=UTC),
    monotonic=1.0,
    server=ServerSummary("postgresql", "127.0.0.1:5432/shop", "15.8"),
    capabilities=Capabilities(),
    statements=(REPORT, POLL),
    rates=Rates(
        interval_s=1.0,
        statements={
            "poll": StatementRate(calls_s=300.0, total_ms_s=30.0, rows_s=300.0, mean_ms=0.1)
        },
    ),
)


def _text(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_by_rate_says_so_and_puts_what_costs_now_first() -> None:
    text = _text(render.statements_table(SNAPSHOT, by="rate"))
    assert "by time now (ms/s over the last 1.0s" in text
    assert text.index("jobs") < text.index("orders")


def test_by_total_puts_the_45_second_statement_first() -> None:
    text = _text(render.statements_table(SNAPSHOT, by="total"))
    assert "by total time since the statistics reset" in text
    assert text.index("orders") < text.index("jobs")


def test_the_order_is_validated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--statements-by", "speed", "redis://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbtop: ") and err.count("\n") == 1
    assert "--statements-by" in err
