"""Progress of ALTER TABLE, CREATE INDEX, OPTIMIZE, LOAD DATA: MariaDB reports it in
information_schema.PROCESSLIST (STAGE, MAX_STAGE, PROGRESS); MySQL 8 in
performance_schema.events_stages_current (WORK_COMPLETED / WORK_ESTIMATED of the
``stage/innodb/alter table …`` stages, when those instruments and the
events_stages_current consumer are enabled: docs/health.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dbtop.analysis.progress import build
from dbtop.engines.mysql.flavor import Flavor
from dbtop.progress import Progress

MARIADB_SQL = """SELECT ID, STAGE, MAX_STAGE, PROGRESS, CAST(STATE AS BINARY) AS STATE,
  CAST(LEFT(INFO, 60) AS BINARY) AS INFO
FROM information_schema.PROCESSLIST WHERE PROGRESS > 0"""

MYSQL_SQL = """SELECT t.PROCESSLIST_ID AS ID, s.EVENT_NAME, s.WORK_COMPLETED, s.WORK_ESTIMATED,
  CAST(LEFT(t.PROCESSLIST_INFO, 60) AS BINARY) AS INFO
FROM performance_schema.events_stages_current s
JOIN performance_schema.threads t ON t.THREAD_ID = s.THREAD_ID
WHERE s.WORK_ESTIMATED > 0 AND t.PROCESSLIST_ID IS NOT NULL"""


def progress_sql(flavor: Flavor) -> str | None:
    if flavor.mariadb:
        return MARIADB_SQL
    if flavor.performance_schema:
        return MYSQL_SQL
    return None


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def command_of(query: str) -> str:
    """``ALTER TABLE`` / ``CREATE INDEX`` / ``OPTIMIZE`` … from the statement's first words."""
    words = query.split()
    head = [w.upper() for w in words[:3]]
    if head[:1] == ["CREATE"] and "INDEX" in head:
        return "CREATE INDEX"
    if head[:1] in (["ALTER"], ["LOAD"]) and len(head) > 1:
        return " ".join(head[:2])
    return head[0] if head else "statement"


def mariadb_progress(rows: Iterable[Mapping[str, Any]]) -> dict[str, Progress]:
    found: dict[str, Progress] = {}
    for row in rows:
        stage, stages = int(row.get("STAGE") or 0), int(row.get("MAX_STAGE") or 0)
        state = _text(row.get("STATE"))
        phase = f"stage {stage} of {stages}" + (f": {state}" if state else "")
        found[str(row["ID"])] = build(
            command_of(_text(row.get("INFO"))),
            phase,
            None,
            None,
            server_percent=float(row.get("PROGRESS") or 0),
        )
    return found


def mysql_progress(rows: Iterable[Mapping[str, Any]]) -> dict[str, Progress]:
    """MySQL 8 stage events: ``stage/innodb/alter table (read PK and internal sort)`` with
    WORK_COMPLETED of WORK_ESTIMATED (InnoDB's estimate grows as it learns)."""
    found: dict[str, Progress] = {}
    for row in rows:
        event = _text(row.get("EVENT_NAME"))
        phase = event.split("/", 2)[-1] if event.startswith("stage/") else event
        done, total = row.get("WORK_COMPLETED"), row.get("WORK_ESTIMATED")
        found[str(row["ID"])] = build(
            command_of(_text(row.get("INFO"))),
            phase,
            float(done) if done is not None else None,
            float(total) if total is not None else None,
            "work units",
        )
    return found


def parse(flavor: Flavor, rows: Iterable[Mapping[str, Any]]) -> dict[str, Progress]:
    return mariadb_progress(rows) if flavor.mariadb else mysql_progress(rows)
