"""Index and table statistics of the connected database, and the findings they support.

Sizes come from ``pg_class.relpages`` (as of the last VACUUM, ANALYZE or CREATE INDEX), not
``pg_relation_size()``: that one opens each relation with a lock, and during an incident
with an ACCESS EXCLUSIVE lock pending the whole poll would wait on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import asyncpg

from dbtop.analysis.indexes import find_redundant
from dbtop.model import Finding, IndexStat, Severity, TableStat, frozen

#: tables whose reads are mostly sequential are flagged from this many live rows on
SEQ_SCAN_TABLE_ROWS = 10_000
MAX_TABLES = 1000
_RELATION = {"duplicate": "a duplicate of", "redundant": "a left prefix of"}


def indexes_sql(version_num: int) -> str:
    key_atts = "i.indnkeyatts" if version_num >= 110000 else "i.indnatts"
    last_scan = "s.last_idx_scan" if version_num >= 160000 else "NULL::timestamptz"
    return f"""
        SELECT /* dbtop */ s.schemaname, s.relname, s.indexrelname, s.idx_scan, s.idx_tup_read,
               s.idx_tup_fetch, {last_scan} AS last_idx_scan,
               c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
               i.indisunique, i.indisprimary, i.indisvalid, i.indisready,
               {key_atts} AS key_atts,
               ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                     FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS columns,
               pg_get_indexdef(i.indexrelid) AS definition,
               am.amname, pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
               con.conname, con.contype,
               (SELECT string_agg(f.conname, ', ' ORDER BY f.conname) FROM pg_constraint f
                WHERE f.conindid = i.indexrelid AND f.contype = 'f') AS referenced_by,
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
    SELECT /* dbtop */ t.schemaname, t.relname, t.seq_scan, t.seq_tup_read, t.idx_scan,
           t.n_live_tup,
           t.n_dead_tup, t.last_autovacuum, t.last_vacuum, t.last_autoanalyze, t.last_analyze,
           c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes
    FROM pg_stat_user_tables t
    JOIN pg_class c ON c.oid = t.relid
    ORDER BY t.seq_tup_read DESC NULLS LAST, t.n_live_tup DESC NULLS LAST
    LIMIT {MAX_TABLES}
"""


def _index(row: asyncpg.Record) -> IndexStat:
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


def _table(row: asyncpg.Record) -> TableStat:
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
            findings.append(
                Finding(
                    "invalid_index",
                    name,
                    f"index {name} on {where} is invalid (a failed CREATE INDEX "
                    "CONCURRENTLY?): it is maintained on writes but never used",
                    Severity.WARNING,
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
