"""What the PostgreSQL engine declares from its role row, the session findings, and the
refusals that need no server: pure functions and the engine before any connection."""

from __future__ import annotations

import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine, capabilities, sessions
from dbtop.engines.postgresql.statements import StatementsSource
from dbtop.errors import RefusedError
from dbtop.model import Feature, KillMode, Session, frozen

MONITOR = {"role": "watch", "read_all_stats": True, "version_num": 180000, "hypopg": "1.4.1"}
PLAIN = {"role": "app", "version_num": 110000, "hypopg_available": True}


def test_a_monitoring_role_with_everything_has_every_feature_and_no_notice():
    source = StatementsSource(schema="public", version="1.11", columns=frozenset())
    found = capabilities.features(MONITOR, source)
    assert {Feature.STATEMENTS, Feature.HYPOTHETICAL_INDEXES, Feature.CANCEL} <= found
    assert capabilities.notices(MONITOR, None) == []
    assert capabilities.extra(MONITOR, source)["pg_stat_statements"] == "1.11"


def test_what_is_missing_is_a_typed_notice():
    found = capabilities.features(PLAIN, None)
    assert Feature.STATEMENTS not in found and Feature.HYPOTHETICAL_INDEXES not in found
    notes = capabilities.notices(PLAIN, None)
    assert [n.feature for n in notes] == [
        Feature.SERVER,
        Feature.SESSIONS,
        Feature.HYPOTHETICAL_INDEXES,
    ]
    assert all(isinstance(n.feature, Feature) for n in notes)
    assert notes[2].hint == "CREATE EXTENSION hypopg"


def test_idle_in_transaction_for_a_minute_is_a_finding():
    def session(pid: str, state: str, age: float) -> Session:
        return Session(id=pid, state=state, extra=frozen(state_age_s=age))

    found = sessions.findings(
        [
            session("1", "idle in transaction", 61.0),
            session("2", "idle in transaction (aborted)", 120.0),
            session("3", "idle in transaction", 5.0),
            session("4", "active", 600.0),
        ]
    )
    assert [(f.kind, f.object) for f in found] == [
        ("idle_in_transaction", "1"),
        ("idle_in_transaction", "2"),
    ]


async def test_read_only_refuses_kill_before_any_connection():
    engine = PostgresEngine("postgresql://nobody@127.0.0.1:1/none", ConnectOptions(read_only=True))
    with pytest.raises(RefusedError, match="read-only"):
        await engine.kill("123", KillMode.CANCEL)


async def test_the_own_connection_is_never_a_kill_target():
    class Handle:
        def is_closed(self) -> bool:
            return False

    engine = PostgresEngine("postgresql://nobody@127.0.0.1:1/none")
    engine._own.add(Handle(), 4242)  # type: ignore[arg-type]  # a stand-in connection
    assert engine.own_pids == frozenset({4242})
    with pytest.raises(RefusedError, match="own connection"):
        await engine.kill(" 4242", KillMode.TERMINATE)
