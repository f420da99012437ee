"""Slow queries: statement digests from performance_schema, or the slow log table.

events_statements_summary_by_digest holds cumulative figures per normalized statement and
schema; analysis/ turns two polls into rates. Beside calls, time and rows, each row keeps
what tells a missing index (rows examined against rows sent, statements that used no index)
and spills (temporary tables on disk, sort merge passes) in ``extra``.

Without performance_schema, mysql.slow_log gives single executions (``SlowEvent``) when
log_output includes TABLE. Reading it scans a CSV table, so it is read at most every few
seconds and capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from dbtop.engines.mysql.flavor import Flavor
from dbtop.model import SlowEvent, Statement, frozen

#: picoseconds (performance_schema timers) per millisecond
PS_PER_MS = 1_000_000_000
#: digests read per poll, the costliest first (the table holds up to 10,000 by default)
DIGEST_LIMIT = 500
SLOW_LOG_LIMIT = 200

_DIGEST_COLUMNS = """SCHEMA_NAME, DIGEST, DIGEST_TEXT, COUNT_STAR, SUM_TIMER_WAIT, MAX_TIMER_WAIT,
       SUM_LOCK_TIME, SUM_ERRORS, SUM_ROWS_SENT, SUM_ROWS_EXAMINED, SUM_ROWS_AFFECTED,
       SUM_NO_INDEX_USED, SUM_NO_GOOD_INDEX_USED, SUM_CREATED_TMP_TABLES,
       SUM_CREATED_TMP_DISK_TABLES, SUM_SORT_MERGE_PASSES, SUM_SELECT_FULL_JOIN,
       SUM_SELECT_SCAN, FIRST_SEEN, LAST_SEEN"""


def digest_sql(flavor: Flavor, limit: int = DIGEST_LIMIT) -> str:
    # MySQL 8.0.3 keeps one real statement per digest: what EXPLAIN needs for the advisor.
    sample = ", QUERY_SAMPLE_TEXT" if not flavor.mariadb and flavor.version >= (8, 0, 3) else ""
    return (
        f"SELECT {_DIGEST_COLUMNS}{sample}\n"
        "FROM performance_schema.events_statements_summary_by_digest\n"
        "WHERE DIGEST IS NOT NULL\n"
        f"ORDER BY SUM_TIMER_WAIT DESC LIMIT {int(limit)}"
    )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat() if value.tzinfo is None else value.isoformat()
    return None


def statements(rows: Iterable[Mapping[str, Any]]) -> tuple[Statement, ...]:
    result = []
    for row in rows:
        calls = _int(row.get("COUNT_STAR"))
        total_ms = _int(row.get("SUM_TIMER_WAIT")) / PS_PER_MS
        schema = row.get("SCHEMA_NAME")
        sent = _int(row.get("SUM_ROWS_SENT"))
        affected = _int(row.get("SUM_ROWS_AFFECTED"))
        result.append(
            Statement(
                id=f"{schema or ''}:{row['DIGEST']}",
                query=str(row.get("DIGEST_TEXT") or ""),
                calls=calls,
                total_ms=total_ms,
                mean_ms=total_ms / calls if calls else None,
                rows=sent + affected,
                database=schema,
                counters=frozen(
                    {
                        name: value
                        for name, value in (
                            ("rows_examined", _int(row.get("SUM_ROWS_EXAMINED"))),
                            ("rows_sent", sent),
                            ("no_index_used", _int(row.get("SUM_NO_INDEX_USED"))),
                            ("tmp_disk_tables", _int(row.get("SUM_CREATED_TMP_DISK_TABLES"))),
                            ("sort_merge_passes", _int(row.get("SUM_SORT_MERGE_PASSES"))),
                            ("full_scans", _int(row.get("SUM_SELECT_SCAN"))),
                        )
                        if value is not None
                    }
                ),
                extra=frozen(
                    digest=row["DIGEST"],
                    rows_sent=sent,
                    rows_affected=affected,
                    rows_examined=_int(row.get("SUM_ROWS_EXAMINED")),
                    no_index_used=_int(row.get("SUM_NO_INDEX_USED")),
                    no_good_index_used=_int(row.get("SUM_NO_GOOD_INDEX_USED")),
                    tmp_tables=_int(row.get("SUM_CREATED_TMP_TABLES")),
                    tmp_disk_tables=_int(row.get("SUM_CREATED_TMP_DISK_TABLES")),
                    sort_merge_passes=_int(row.get("SUM_SORT_MERGE_PASSES")),
                    full_joins=_int(row.get("SUM_SELECT_FULL_JOIN")),
                    full_scans=_int(row.get("SUM_SELECT_SCAN")),
                    errors=_int(row.get("SUM_ERRORS")),
                    lock_ms=_int(row.get("SUM_LOCK_TIME")) / PS_PER_MS,
                    max_ms=_int(row.get("MAX_TIMER_WAIT")) / PS_PER_MS,
                    first_seen=_time(row.get("FIRST_SEEN")),
                    last_seen=_time(row.get("LAST_SEEN")),
                    sample=row.get("QUERY_SAMPLE_TEXT"),
                ),
            )
        )
    return tuple(result)


SLOW_LOG = f"""
SELECT start_time, user_host, query_time, lock_time, rows_sent, rows_examined, db,
       thread_id, sql_text
FROM mysql.slow_log
ORDER BY start_time DESC
LIMIT {SLOW_LOG_LIMIT}
"""


def _seconds(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _user_of(user_host: str | None) -> tuple[str | None, str | None]:
    """``app[app] @ web1 [10.0.0.5]`` -> ("app", "web1 [10.0.0.5]")."""
    if not user_host:
        return None, None
    who, _, where = user_host.partition("@")
    user = who.split("[", 1)[0].strip() or None
    return user, where.strip() or None


def slow_events(rows: Iterable[Mapping[str, Any]], own: frozenset[str]) -> tuple[SlowEvent, ...]:
    events = []
    for row in rows:
        thread = str(row.get("thread_id") or "")
        if thread in own:
            continue
        text = row.get("sql_text")
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8", "replace")
        started = row.get("start_time")
        at = started.replace(tzinfo=UTC) if isinstance(started, datetime) else None
        user, client = _user_of(row.get("user_host"))
        events.append(
            SlowEvent(
                id=f"{at.isoformat() if at else ''}:{thread}",
                query=str(text or ""),
                duration_ms=_seconds(row.get("query_time")) * 1000.0,
                at=at,
                client=client,
                user=user,
                database=row.get("db") or None,
                extra=frozen(
                    thread_id=thread or None,
                    lock_ms=_seconds(row.get("lock_time")) * 1000.0,
                    rows_sent=_int(row.get("rows_sent")),
                    rows_examined=_int(row.get("rows_examined")),
                ),
            )
        )
    return tuple(events)
