"""PostgreSQL health of tables and sequences: sequences near the end of their type, dead
rows autovacuum should have cleaned, and bloat estimated from the planner's statistics
(engines/postgresql/health.py reads them; docs/health.md lists the thresholds)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dbtop.analysis.health import duration, level, quote_ident, share, size
from dbtop.model import Finding, Severity, frozen

Row = Mapping[str, Any]

#: a sequence's share of its range (the column's type when it is smaller)
SEQ_WARN, SEQ_CRITICAL = 0.75, 0.90
#: dead tuples past this many times autovacuum's own trigger point, and at least
VACUUM_OVERDUE_FACTOR = 2.0
VACUUM_OVERDUE_MIN_DEAD = 10_000
#: estimated bloat: share of the table's pages, and bytes wasted
BLOAT_WARN_SHARE, BLOAT_CRITICAL_SHARE = 0.5, 0.8
BLOAT_MIN_BYTES = 64 * 1024**2

#: the largest value of each integer type a sequence or column may have
TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}


def setting_int(settings: Mapping[str, str], name: str, default: int) -> int:
    """A numeric setting (pg_settings' text), ``default`` when absent or not a number."""
    try:
        return int(float(settings.get(name, default)))
    except (TypeError, ValueError):
        return default


def sequence_limit(row: Row) -> tuple[int, str]:
    """The largest value the sequence may reach: its own maximum or its column's type's."""
    limit = int(row["max_value"])
    column_type = str(row.get("column_type") or "")
    if column_type in TYPE_MAX and TYPE_MAX[column_type] < limit:
        return TYPE_MAX[column_type], f"the {column_type} column {row.get('column')}"
    return limit, f"its {row.get('data_type') or ''} maximum".replace("  ", " ")


def sequence_exhaustion(rows: Sequence[Row]) -> list[Finding]:
    out: list[Finding] = []
    for row in rows:
        last = row.get("last_value")
        if last is None or int(row.get("increment_by") or 1) <= 0:
            continue
        limit, what = sequence_limit(row)
        start = int(row.get("min_value") or 1)
        used = share(int(last) - start, limit - start)
        sev = level(used, SEQ_WARN, SEQ_CRITICAL)
        if sev is None or used is None:
            continue
        name = str(row["sequence"])
        fixes: list[str] = []
        column = row.get("column")
        if column and row.get("column_type") in ("smallint", "integer"):
            table = str(row["table"])
            column_id = quote_ident(str(column))
            fixes.append(f"ALTER TABLE {table} ALTER COLUMN {column_id} TYPE bigint;")
        if row.get("data_type") in ("smallint", "integer"):
            fixes.append(f"ALTER SEQUENCE {name} AS bigint;")
        owner = f" (for {row['table']}.{column})" if column else ""
        out.append(
            Finding(
                "sequence_exhaustion",
                name,
                f"sequence {name}{owner} is at {int(last):,}, {used:.0%} of {what} "
                f"({limit:,}): inserts fail once it is reached"
                + (" (it cycles: keys will repeat)" if row.get("cycle") else ""),
                sev,
                statement=" ".join(fixes) or None,
                warning="ALTER COLUMN TYPE rewrites the table under an exclusive lock"
                if column and fixes
                else None,
                extra=frozen(last_value=int(last), limit=limit, used_share=round(used, 4)),
            )
        )
    return out


def vacuum_overdue(settings: Mapping[str, str], rows: Sequence[Row]) -> list[Finding]:
    threshold = setting_int(settings, "autovacuum_vacuum_threshold", 50)
    try:
        scale = float(settings.get("autovacuum_vacuum_scale_factor", 0.2))
    except ValueError:
        scale = 0.2
    autovacuum_on = settings.get("autovacuum", "on") == "on"
    out: list[Finding] = []
    for row in rows:
        dead = int(row.get("n_dead_tup") or 0)
        live = int(row.get("n_live_tup") or 0)
        trigger = threshold + scale * live
        if dead < VACUUM_OVERDUE_MIN_DEAD or dead < VACUUM_OVERDUE_FACTOR * trigger:
            continue
        last = row.get("last_vacuum_s")
        when = (
            f"last vacuumed {duration(float(last))} ago" if last is not None else "never vacuumed"
        )
        why = "" if autovacuum_on else " (autovacuum is off)"
        out.append(
            Finding(
                "vacuum_overdue",
                str(row["relation"]),
                f"table {row['relation']} has {dead:,} dead rows, {dead / max(trigger, 1):.1f}x "
                f"the point where autovacuum should start{why}; {when}",
                Severity.WARNING,
                statement=f"VACUUM (ANALYZE, VERBOSE) {row['relation']};",
                extra=frozen(n_dead_tup=dead, n_live_tup=live, trigger=round(trigger)),
            )
        )
    return out


#: per-row overhead on a heap page: tuple header (23, aligned 24) and line pointer (4)
_ROW_OVERHEAD = 28
_PAGE_HEADER = 24


def bloat_estimate(rows: Sequence[Row]) -> list[Finding]:
    """Pages the table has against pages its rows need, from planner statistics (reltuples
    and pg_stats' average widths): an estimate, like check_postgres' and PgHero's."""
    out: list[Finding] = []
    for row in rows:
        width, pages, tuples = row.get("row_width"), row.get("relpages"), row.get("reltuples")
        block = int(row.get("block_size") or 8192)
        if width is None or not pages or tuples is None or float(tuples) < 0:
            continue
        fill = int(row.get("fillfactor") or 100) / 100
        room = (block - _PAGE_HEADER) * fill
        per_page = max(1, math.floor(room / (float(width) + _ROW_OVERHEAD)))
        expected = math.ceil(float(tuples) / per_page)
        wasted_pages = int(pages) - expected
        wasted = wasted_pages * block
        ratio = share(wasted_pages, int(pages))
        sev = level(ratio, BLOAT_WARN_SHARE, BLOAT_CRITICAL_SHARE)
        if sev is None or ratio is None or wasted < BLOAT_MIN_BYTES:
            continue
        out.append(
            Finding(
                "bloat_estimate",
                str(row["relation"]),
                f"table {row['relation']} is an estimated {ratio:.0%} empty space "
                f"({size(wasted)} of {size(int(pages) * block)}, from statistics): "
                "scans read the empty pages too",
                sev,
                statement=f"VACUUM FULL {row['relation']};",
                warning="VACUUM FULL locks the table for its whole run; pg_repack does not",
                extra=frozen(wasted_bytes=wasted, bloat_share=round(ratio, 3)),
            )
        )
    return out
