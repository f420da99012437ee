"""The figures MySQL's and MariaDB's health checks need, read on the monitor connection
(its statement time limit applies): a few SHOW GLOBAL STATUS counters every poll, SHOW
ENGINE INNODB STATUS (history list, latest deadlock; needs PROCESS) every INNODB_S. The
replication rows and the sessions' transactions come from the poll's own sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pymysql

from dbtop.analysis.health.mysql import MyHealthFacts, history_length, judge, latest_deadlock
from dbtop.engines.mysql.connection import PRIVILEGE_CODES, Link, error_code
from dbtop.engines.mysql.summary import name_values
from dbtop.engines.refresh import Every
from dbtop.model import Feature, Finding, Notice, Session

INNODB_S = 10.0

STATUS = (
    "Threads_connected",
    "Connections",
    "Aborted_connects",
    "Aborted_clients",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
    "Innodb_buffer_pool_pages_free",
    "Innodb_buffer_pool_pages_total",
    "Innodb_buffer_pool_wait_free",
)
STATUS_SQL = "SHOW GLOBAL STATUS WHERE Variable_name IN ({})".format(
    ", ".join(f"'{n}'" for n in STATUS)
)
# InnoDB prints its timestamps in the server's system time zone; the monitor session's is UTC.
DEADLOCK_AGE_SQL = (
    "SELECT TIMESTAMPDIFF(SECOND, CONVERT_TZ(%s, 'SYSTEM', @@session.time_zone), NOW()) AS age"
)


class HealthSource:
    """One server's health figures, kept between polls."""

    def __init__(self) -> None:
        self._innodb: Every[str | None] = Every(INNODB_S, None)
        self._denied: Notice | None = None

    async def read(
        self,
        link: Link,
        sessions: tuple[Session, ...],
        *,
        max_connections: int | None,
        replica: Mapping[str, Any] | None,
        who: str,
    ) -> tuple[list[Finding], list[Notice]]:
        status = name_values(await link.fetch(STATUS_SQL))
        text = None
        if self._denied is None:
            try:
                text = await self._innodb.get(lambda: _innodb_status(link))
            except pymysql.err.MySQLError as exc:
                if error_code(exc) not in PRIVILEGE_CODES:
                    raise
                self._denied = Notice(
                    Feature.HEALTH,
                    "health: the InnoDB history list and the latest deadlock are not checked: "
                    "SHOW ENGINE INNODB STATUS needs the PROCESS privilege",
                    hint=f"GRANT PROCESS ON *.* TO {who}",
                )
        found = latest_deadlock(text) if text else None
        if found is not None and found.at:
            rows = await link.fetch(DEADLOCK_AGE_SQL, (found.at,))
            age = rows[0].get("age") if rows else None
            if age is not None:
                found = replace(found, age_s=float(age))
        facts = MyHealthFacts(
            status=status,
            max_connections=max_connections,
            replica=replica,
            history_length=history_length(text) if text else None,
            deadlock=found,
        )
        return judge(facts, sessions), [self._denied] if self._denied else []


async def _innodb_status(link: Link) -> str | None:
    rows = await link.fetch("SHOW ENGINE INNODB STATUS")
    if not rows:
        return None
    value = rows[0].get("Status")
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return None if value is None else str(value)
