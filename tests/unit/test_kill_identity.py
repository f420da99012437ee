"""The kill identity checks that need no server: the words of a refusal, MySQL's check
when the server has no QUERY_ID (MySQL 8: the statement's start from TIME)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dbtop.engines import identity
from dbtop.engines.mysql.kill import check_same
from dbtop.engines.postgresql.kill import _signal_sql
from dbtop.errors import NotFoundError, RefusedError
from dbtop.model import KillMode, Session

NOW = datetime(2026, 12, 2, 12, 3, 4, 500_000, tzinfo=UTC)


def test_a_refusal_says_both_start_times_to_the_microsecond_when_needed():
    text = str(identity.started_elsewhen("4711", NOW, NOW - timedelta(minutes=4, seconds=54)))
    assert text == (
        "session 4711 is no longer the one you confirmed: it started at 12:03:04, the "
        "confirmed one at 11:58:10; nothing was sent"
    )
    same_second = str(identity.started_elsewhen("4711", NOW, NOW - timedelta(microseconds=1)))
    assert "12:03:04.500000" in same_second and "12:03:04.499999" in same_second


def test_postgresql_signals_only_the_row_that_still_matches():
    cancel = _signal_sql("pg_cancel_backend", timeout=False, statement=True)
    assert cancel.endswith("WHERE pid = $1 AND backend_start = $2 AND query_start = $3")
    terminate = _signal_sql("pg_terminate_backend", timeout=True, statement=False)
    assert "pg_terminate_backend(pid, $3)" in terminate and "query_start" not in terminate


def _mysql() -> Session:
    return Session(id="42", user="app", client="10.0.0.5:40112", query_start=NOW)


def _row(time_s: int, **changes: object) -> dict[str, object]:
    return {"ID": 42, "USER": "app", "HOST": "10.0.0.5:40112", "TIME": time_s, **changes}


def test_mysql_without_query_id_compares_the_statement_start():
    later = NOW + timedelta(seconds=30)
    check_same(42, [_row(30)], KillMode.CANCEL, _mysql(), later)  # the same statement
    with pytest.raises(RefusedError, match="started another statement"):
        check_same(42, [_row(3)], KillMode.CANCEL, _mysql(), later)
    check_same(42, [_row(3)], KillMode.TERMINATE, _mysql(), later)  # the session is the same
    with pytest.raises(RefusedError, match=r"connects from 10\.0\.0\.9:1"):
        check_same(42, [_row(30, HOST="10.0.0.9:1")], KillMode.TERMINATE, _mysql(), later)
    with pytest.raises(NotFoundError):
        check_same(42, [], KillMode.CANCEL, _mysql(), later)
