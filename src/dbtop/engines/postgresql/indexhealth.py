"""Index health for the advisor: the snapshot's findings, completed.

The engine's snapshot already flags unused, duplicate and invalid indexes; the advisor adds
how long the usage statistics have been collecting (an index unused for an hour says
little), the ``DROP INDEX CONCURRENTLY`` statement and a warning when the index backs a
constraint, and flags from the index rows that no finding carried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from dbtop.engines.postgresql.workload import quote_ident
from dbtop.model import Finding, IndexStat, Notice, Severity, frozen

#: index-health finding kinds the advisor passes on (and completes)
INDEX_FINDINGS = ("unused_index", "duplicate_index", "redundant_index", "invalid_index")
#: statistics younger than this make "unused" a weak finding
STATS_AGE_WARNING_S = 7 * 86400


async def index_health(
    conn: asyncpg.Connection, findings: Sequence[Finding], indexes: Sequence[IndexStat]
) -> tuple[list[Finding], list[Notice], dict[str, Any]]:
    row = await conn.fetchrow(
        """
        SELECT /* dbtop */ d.stats_reset, pg_postmaster_start_time() AS started, now() AS now
        FROM pg_stat_database d WHERE d.datname = current_database()
        """
    )
    since: datetime | None = None
    exact = False
    if row is not None:
        since, exact = (row["stats_reset"], True) if row["stats_reset"] else (row["started"], False)
    age_s = (row["now"] - since).total_seconds() if row is not None and since else None
    stats = {
        "stats_since": since.isoformat() if since else None,
        "stats_since_reset": exact,
        "stats_age_s": round(age_s, 1) if age_s is not None else None,
    }
    by_name = {(i.schema, i.name): i for i in indexes}
    by_plain = {i.name: i for i in indexes}
    result: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for finding in findings:
        if finding.kind not in INDEX_FINDINGS:
            continue
        index = _index_for(finding.object, by_name, by_plain)
        result.append(_complete(finding, index, age_s, since, exact))
        seen.add((finding.kind, _qualified_name(index) if index else finding.object))
    # what the snapshot's findings do not carry, the index rows still flag
    for index in indexes:
        for kind, flagged, message in (
            ("invalid_index", not index.valid, "invalid (a failed CREATE INDEX CONCURRENTLY?)"),
            ("unused_index", index.unused and index.valid, "never used"),
            (
                "duplicate_index",
                bool(index.duplicate_of),
                f"made redundant by {index.duplicate_of}",
            ),
        ):
            name = _qualified_name(index)
            if flagged and (kind, name) not in seen:
                finding = Finding(kind=kind, object=name, message=f"index {message}")
                result.append(_complete(finding, index, age_s, since, exact))
                seen.add((kind, name))
    notices = []
    if (
        age_s is not None
        and age_s < STATS_AGE_WARNING_S
        and any(f.kind == "unused_index" for f in result)
    ):
        notices.append(
            Notice(
                feature="suggest",
                message=(
                    f"index usage statistics cover only {_age(age_s)}: an index unused in that "
                    "time may still serve a weekly or monthly job"
                ),
                hint="wait before dropping, or check the job schedule",
                severity=Severity.INFO,
            )
        )
    return result, notices, stats


def _qualified_name(index: IndexStat) -> str:
    """What DROP INDEX takes (names are unique within a PostgreSQL schema)."""
    return f"{index.schema}.{index.name}" if index.schema else index.name


def _index_for(
    obj: str,
    by_name: Mapping[tuple[str | None, str], IndexStat],
    by_plain: Mapping[str, IndexStat],
) -> IndexStat | None:
    schema, _, name = obj.rpartition(".")
    return by_name.get((schema or None, name)) or by_plain.get(name) or by_plain.get(obj)


def _complete(
    finding: Finding,
    index: IndexStat | None,
    age_s: float | None,
    since: datetime | None,
    exact: bool,
) -> Finding:
    message = finding.message
    statement = finding.statement
    warning = finding.warning
    extra = dict(finding.extra)
    if index is not None:
        if statement is None:
            qualified = (
                f"{quote_ident(index.schema)}.{quote_ident(index.name)}"
                if index.schema
                else quote_ident(index.name)
            )
            statement = f"DROP INDEX CONCURRENTLY {qualified};"
        if warning is None and (index.constraint or index.is_primary):
            what = index.constraint or "the primary key"
            warning = (
                f"backs constraint {what}: drop the constraint (ALTER TABLE … DROP "
                "CONSTRAINT) rather than the index, and only if nothing relies on it"
            )
        if index.size_bytes is not None:
            extra.setdefault("size_bytes", index.size_bytes)
    if finding.kind == "unused_index" and age_s is not None and since is not None:
        when = since.strftime("%Y-%m-%d %H:%M %Z").strip()
        basis = "since they were reset" if exact else "at least since the server started"
        if "stats_age_s" not in extra:
            message = f"{message}; the usage statistics cover {_age(age_s)} ({basis}, {when})"
        extra.update(stats_since=since.isoformat(), stats_age_s=round(age_s, 1))
    return Finding(
        kind=finding.kind,
        object=finding.object,
        message=message,
        severity=finding.severity,
        statement=statement,
        warning=warning,
        extra=frozen(extra),
    )


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"
