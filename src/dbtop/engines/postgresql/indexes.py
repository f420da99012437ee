"""Index and table statistics of the connected database, the findings they support, and
the index health the advisor completes from them.

Sizes come from ``pg_class.relpages`` (as of the last VACUUM, ANALYZE or CREATE INDEX), not
``pg_relation_size()``: that one opens each relation with a lock, and during an incident
with an ACCESS EXCLUSIVE lock pending the whole poll would wait on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from dbtop.analysis.indexes import find_redundant
from dbtop.engines.postgresql.text import decode, raw
from dbtop.model import Feature, Finding, IndexStat, Notice, Severity, TableStat, frozen

#: tables whose reads are mostly sequential are flagged from this many live rows on
SEQ_SCAN_TABLE_ROWS = 10_000
MAX_TABLES = 1000
_RELATION = {"duplicate": "a duplicate of", "redundant": "a left prefix of"}


def indexes_sql(version_num: int) -> str:
    key_atts = "i.indnkeyatts" if version_num >= 110000 else "i.indnatts"
    last_scan = "s.last_idx_scan" if version_num >= 160000 else "NULL::timestamptz"
    return f"""
        SELECT /* dbtop */ {raw("s.schemaname", "schemaname")}, {raw("s.relname", "relname")},
               {raw("s.indexrelname", "indexrelname")}, s.idx_scan, s.idx_tup_read,
               s.idx_tup_fetch, {last_scan} AS last_idx_scan,
               c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
               i.indisunique, i.indisprimary, i.indisvalid, i.indisready,
               {key_atts} AS key_atts,
               ARRAY(SELECT {raw("pg_get_indexdef(i.indexrelid, k, true)")}
                     FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS columns,
               {raw("pg_get_indexdef(i.indexrelid)", "definition")},
               {raw("am.amname", "amname")},
               {raw("pg_get_expr(i.indpred, i.indrelid, true)", "predicate")},
               {raw("con.conname", "conname")}, con.contype,
               {
        raw(
            "(SELECT string_agg(f.conname, ', ' ORDER BY f.conname) FROM pg_constraint f "
            "WHERE f.conindid = i.indexrelid AND f.contype = 'f')",
            "referenced_by",
        )
    },
               t.n_live_tup AS table_rows
        FROM pg_stat_user_indexes s
        JOIN pg_index i ON i.indexrelid = s.indexrelid
        JOIN pg_class c ON c.oid = s.indexrelid
        JOIN pg_am am ON am.oid = c.relam
        LEFT JOIN pg_stat_user_tables t ON t.relid = s.relid
        LEFT JOIN pg_constraint con
               ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
                  AND con.conrelid = i.indrelid
    """


TABLES_SQL = f"""
    SELECT /* dbtop */ {raw("t.schemaname", "schemaname")}, {raw("t.relname", "relname")},
           t.seq_scan, t.seq_tup_read, t.idx_scan,
           t.n_live_tup,
           t.n_dead_tup, t.last_autovacuum, t.last_vacuum, t.last_autoanalyze, t.last_analyze,
           c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes
    FROM pg_stat_user_tables t
    JOIN pg_class c ON c.oid = t.relid
    ORDER BY t.seq_tup_read DESC NULLS LAST, t.n_live_tup DESC NULLS LAST
    LIMIT {MAX_TABLES}
"""


#: the text columns of the two catalog reads, read as bytes (dbtop.engines.postgresql.text)
_INDEX_TEXT = (
    "schemaname", "relname", "indexrelname", "definition", "amname", "predicate", "conname",
    "referenced_by",
)  # fmt: skip
_TABLE_TEXT = ("schemaname", "relname")


def _decoded(row: asyncpg.Record, names: Sequence[str]) -> dict[str, Any]:
    """The row with its byte columns as text (an object name may hold any bytes)."""
    values = dict(row)
    for name in names:
        values[name] = decode(values[name])
    return values


def _index(record: asyncpg.Record) -> IndexStat:
    row = _decoded(record, _INDEX_TEXT)
    row["columns"] = [decode(c) or "" for c in row["columns"]]
    key_atts = row["key_atts"]
    columns = tuple(row["columns"][:key_atts])
    include = tuple(row["columns"][key_atts:])
    constraint = row["conname"]
    extra = {
        "method": row["amname"],
        "predicate": row["predicate"],
        "include": include or None,
        "constraint_type": {"p": "primary key", "u": "unique", "x": "exclusion"}.get(
            row["contype"]
        ),
        "referenced_by": row["referenced_by"],
        "ready": row["indisready"],
        "last_scan": row["last_idx_scan"],
        "table_rows": row["table_rows"],
    }
    return IndexStat(
        schema=row["schemaname"],
        table=row["relname"],
        name=row["indexrelname"],
        columns=columns,
        definition=row["definition"],
        scans=row["idx_scan"],
        tuples_read=row["idx_tup_read"],
        tuples_fetched=row["idx_tup_fetch"],
        size_bytes=row["size_bytes"],
        unused=(
            row["idx_scan"] == 0
            and row["indisvalid"]
            and not row["indisunique"]
            and not row["indisprimary"]
            and constraint is None
        ),
        valid=bool(row["indisvalid"]),
        is_unique=bool(row["indisunique"]),
        is_primary=bool(row["indisprimary"]),
        constraint=constraint,
        extra=frozen({k: v for k, v in extra.items() if v is not None}),
    )


def _table(record: asyncpg.Record) -> TableStat:
    row = _decoded(record, _TABLE_TEXT)
    extra = {
        "dead_rows": row["n_dead_tup"],
        "last_vacuum": row["last_autovacuum"] or row["last_vacuum"],
        "last_analyze": row["last_autoanalyze"] or row["last_analyze"],
    }
    return TableStat(
        schema=row["schemaname"],
        table=row["relname"],
        seq_scans=row["seq_scan"],
        seq_rows_read=row["seq_tup_read"],
        index_scans=row["idx_scan"],
        live_rows=row["n_live_tup"],
        size_bytes=row["size_bytes"],
        extra=frozen({k: v for k, v in extra.items() if v is not None}),
    )


def with_redundancy(indexes: Sequence[IndexStat]) -> tuple[IndexStat, ...]:
    """Fill ``duplicate_of`` from the engine-neutral redundancy analysis."""
    found = find_redundant(indexes)
    result = []
    for index in indexes:
        hit = found.get(index.key)
        if hit is None:
            result.append(index)
            continue
        other = hit.covered_by_name
        result.append(
            dataclasses.replace(
                index,
                duplicate_of=other,
                extra=frozen(index.extra, redundancy=hit.kind),
            )
        )
    return tuple(result)


def findings_for(indexes: Sequence[IndexStat], tables: Sequence[TableStat]) -> tuple[Finding, ...]:
    findings: list[Finding] = []
    for index in indexes:
        where = f"{index.schema}.{index.table}"
        # what DROP INDEX takes: index names are unique within a PostgreSQL schema
        name = f"{index.schema}.{index.name}"
        if not index.valid:
            # Imported here, as in _complete: pglast's keyword lists load in a quarter of a
            # second, which the first snapshot must not wait for.
            from dbtop.engines.postgresql.sqlnames import quote_ident

            findings.append(
                Finding(
                    "invalid_index",
                    name,
                    f"index {name} on {where} is invalid (a failed CREATE INDEX "
                    "CONCURRENTLY?): it is maintained on writes but never used",
                    Severity.WARNING,
                    statement=(
                        f"DROP INDEX CONCURRENTLY {quote_ident(index.schema or 'public')}."
                        f"{quote_ident(index.name)};"
                    ),
                    warning="or REINDEX INDEX CONCURRENTLY once its cause (duplicates?) is fixed",
                )
            )
        elif index.duplicate_of:
            kind = index.extra.get("redundancy", "duplicate")
            findings.append(
                Finding(
                    f"{kind}_index",
                    name,
                    f"index {name} is {_RELATION[kind]} "
                    f"{index.schema}.{index.duplicate_of} on {where}",
                    Severity.WARNING,
                    extra=frozen(covered_by=f"{index.schema}.{index.duplicate_of}"),
                )
            )
        elif index.unused:
            findings.append(
                Finding(
                    "unused_index",
                    name,
                    f"index {name} on {where} has not been scanned since the statistics were reset",
                    Severity.INFO,
                    extra=frozen(size_bytes=index.size_bytes),
                )
            )
    for table in tables:
        share = table.seq_scan_share
        if (
            share is not None
            and share > 0.5
            and (table.live_rows or 0) >= SEQ_SCAN_TABLE_ROWS
            and (table.seq_scans or 0) >= 10
        ):
            findings.append(
                Finding(
                    "seq_scan_table",
                    table.key,
                    f"table {table.key} ({table.live_rows} rows) is read by sequential scans "
                    f"{share:.0%} of the time ({table.seq_rows_read} rows read that way)",
                    Severity.INFO,
                    extra=frozen(seq_scans=table.seq_scans, index_scans=table.index_scans),
                )
            )
    return tuple(findings)


async def fetch_catalog(
    conn: asyncpg.Connection, version_num: int
) -> tuple[tuple[IndexStat, ...], tuple[TableStat, ...]]:
    index_rows = await conn.fetch(indexes_sql(version_num))
    table_rows = await conn.fetch(TABLES_SQL)
    indexes = with_redundancy([_index(r) for r in index_rows])
    return indexes, tuple(_table(r) for r in table_rows)


# -- index health, for the advisor ---------------------------------------------------------
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
                feature=Feature.SUGGEST,
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
            # Imported here: the quoting rule needs pglast's keyword lists, and loading
            # pglast (a quarter of a second) must not delay the first snapshot.
            from dbtop.engines.postgresql.sqlnames import quote_ident

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
