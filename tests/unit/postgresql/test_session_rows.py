"""Sessions made from pg_stat_activity rows without the frozen dataclass's __init__."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from dbtop.engines.postgresql import sessions as pg_sessions
from dbtop.model import Session

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _row(**changes):
    columns = dict(
        pid=123, usename=b"alice", datname=b"shop", application_name=b"app", client_addr=None,
        client_hostname=None, client_port=-1, backend_type=b"client backend", state="active",
        wait_event_type=b"Lock", wait_event=b"relation", backend_start=NOW - timedelta(hours=1),
        xact_start=NOW - timedelta(seconds=30), query_start=NOW - timedelta(seconds=20),
        state_change=NOW - timedelta(seconds=20), backend_xid="742", backend_xmin="740",
        xmin_age=3, leader_pid=None, query_id=99, query=b"UPDATE t SET v = 1", blocked_by=[7],
        state_change_us=0, fresh=True, now=NOW,
    )  # fmt: skip
    columns.update(changes)
    return tuple(columns.values())


def test_a_session_is_what_the_dataclass_makes_of_the_same_fields():
    values = tuple(f"v{n}" for n in range(len(dataclasses.fields(Session))))
    made = pg_sessions._session(values)
    plain = Session(*values)
    assert type(made) is Session
    assert made == plain and hash(made) == hash(plain) and repr(made) == repr(plain)
    assert pickle.loads(pickle.dumps(made)) == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.id = "other"  # type: ignore[misc]


def test_a_row_gives_every_field_and_its_ages():
    session = pg_sessions.to_session(_row(), own_pids={123})
    assert session == Session(
        id="123",
        user="alice",
        database="shop",
        application="app",
        client="local",
        kind="client backend",
        state="active",
        is_idle=False,
        in_transaction=True,
        query="UPDATE t SET v = 1",
        query_start=NOW - timedelta(seconds=20),
        xact_start=NOW - timedelta(seconds=30),
        backend_start=NOW - timedelta(hours=1),
        duration_s=20.0,
        xact_age_s=30.0,
        wait="Lock:relation",
        waiting_on_lock=True,
        blocked_by=("7",),
        is_self=True,
        extra={
            "backend_xid": "742",
            "backend_xmin": "740",
            "xmin_age": 3,
            "state_age_s": 20.0,
            "wait_event_type": "Lock",
            "wait_event": "relation",
            "query_id": 99,
        },
    )
    order = "backend_xid backend_xmin xmin_age state_age_s wait_event_type wait_event query_id"
    assert list(session.extra) == order.split()


def test_an_idle_row_is_not_timed_and_its_self_mark_follows_the_own_pids():
    fixed = pg_sessions._fixed(
        _row(state="idle", xact_start=None, backend_xid=None, backend_xmin=None, xmin_age=None),
        own_pids=(),
        codec=None,
    )
    session = pg_sessions._dated(fixed, NOW)
    assert session.duration_s is None and session.xact_age_s is None and not session.is_self
    assert pg_sessions._dated(fixed.with_self(True), NOW) == dataclasses.replace(
        session, is_self=True
    )
