"""The sections of a poll, without a server: a timed-out section is a notice on its pane, a
missing privilege disables its source for good (the GRANT goes to the capabilities), a lost
connection ends the poll, and --read-only declares no kill."""

from __future__ import annotations

from typing import Any, cast

import pymysql
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql.capabilities import Access, Grants
from dbtop.engines.mysql.connection import Link, failure_notice
from dbtop.engines.mysql.engine import MySQLEngine
from dbtop.engines.mysql.flavor import from_variables
from dbtop.engines.mysql.poll import Cached, Poll
from dbtop.engines.sections import Sections
from dbtop.errors import ConnectError, RefusedError
from dbtop.model import Feature, KillMode, Notice

PFS = from_variables({"version": "10.11.6-MariaDB", "performance_schema": "ON"})


class FakeLink:
    """Answers every statement with ``error`` (or no rows) and counts them."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.statements: list[str] = []

    async def fetch(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        self.statements.append(sql)
        if self.error is not None:
            raise self.error
        return []


def make_poll(link: FakeLink, denied: dict[str, Notice], lost: Any = None) -> Poll:
    return Poll(
        link=cast(Link, link),
        flavor=PFS,
        access=Access(Grants("'app'@'%'", PFS), digests=True),
        own=frozenset(),
        sections=Sections(
            recoverable=(pymysql.err.MySQLError,),
            lost=lost or (lambda exc, what: None),
            notice=lambda feature, what, exc: failure_notice(feature, what, exc, 2000),
        ),
        cached=Cached(),
        denied=denied,
        deny=denied.__setitem__,
        database=None,
    )


async def test_a_timed_out_section_is_a_notice_on_its_pane():
    link = FakeLink(pymysql.err.OperationalError(1969, "max_statement_time exceeded"))
    poll = make_poll(link, {})
    assert await poll.statements() == ()
    (notice,) = poll.sections.notices
    assert notice.feature is Feature.STATEMENTS
    assert "cut off by the 2s server-side limit" in notice.message
    assert notice.hint and "--statement-timeout" in notice.hint


async def test_a_missing_privilege_disables_the_source_for_good():
    denied: dict[str, Notice] = {}
    link = FakeLink(pymysql.err.OperationalError(1142, "SELECT command denied"))
    poll = make_poll(link, denied)
    assert await poll.statements() == ()
    assert poll.sections.notices == []
    notice = denied["performance_schema"]
    assert notice.feature is Feature.STATEMENTS
    assert notice.hint == "GRANT SELECT ON performance_schema.* TO 'app'@'%'"
    asked = len(link.statements)
    assert await make_poll(link, denied).statements() == ()
    assert len(link.statements) == asked, "a denied source is not read again"


async def test_a_lost_connection_ends_the_poll():
    engine = MySQLEngine("mysql://root@127.0.0.1:1/", ConnectOptions())
    link = FakeLink(pymysql.err.OperationalError(2013, "Lost connection to server"))
    poll = make_poll(link, {}, lost=engine._lost)
    with pytest.raises(ConnectError, match="lost the connection"):
        await poll.statements()


async def test_read_only_declares_no_kill_and_says_why():
    engine = MySQLEngine("mysql://root@127.0.0.1:1/", ConnectOptions(read_only=True))
    engine._flavor = PFS
    engine._declare()
    caps = engine.capabilities
    assert not caps.has(Feature.CANCEL) and not caps.has(Feature.TERMINATE)
    assert caps.has(Feature.EXPLAIN) and caps.read_only
    assert caps.notices_for(Feature.CANCEL), "the sessions pane says why k and K are gone"
    with pytest.raises(RefusedError, match="read-only"):
        await engine.kill("42", KillMode.CANCEL)
