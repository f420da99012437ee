"""Indexes and tables: structure, size, usage, and what is unused, redundant or scanned.

Structure comes from information_schema.STATISTICS and TABLES (read once a minute: on a
server with many tables both are costly), sizes from mysql.innodb_index_stats. Usage (rows
read through each index, and rows read by full scans) comes from
performance_schema.table_io_waits_summary_by_index_usage, or from MariaDB's user statistics
(INDEX_STATISTICS, TABLE_STATISTICS, with ``userstat=ON``). Redundant indexes (one whose
columns are a leading prefix of another's) are computed here from STATISTICS, so they are
found without the sys schema.

``IndexStat.scans`` is the rows read through the index since the server started (MySQL
counts rows, not scans); an index is ``unused`` when usage is known and it read none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbtop.model import Finding, IndexStat, Severity, TableStat, frozen

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
_NOT_SYSTEM = "NOT IN ({})".format(", ".join(f"'{name}'" for name in SYSTEM_SCHEMAS))

STATISTICS = f"""
SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME,
       SUB_PART, INDEX_TYPE, CARDINALITY, COLLATION
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA {_NOT_SYSTEM}
ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

TABLES = f"""
SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH
FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA {_NOT_SYSTEM}
"""

INDEX_SIZES = f"""
SELECT database_name, table_name, index_name, stat_value
FROM mysql.innodb_index_stats
WHERE stat_name = 'size' AND database_name {_NOT_SYSTEM}
"""

PFS_USAGE = f"""
SELECT OBJECT_SCHEMA, OBJECT_NAME, INDEX_NAME, COUNT_STAR, COUNT_READ, COUNT_FETCH
FROM performance_schema.table_io_waits_summary_by_index_usage
WHERE OBJECT_TYPE = 'TABLE' AND OBJECT_SCHEMA {_NOT_SYSTEM}
"""

USERSTAT_INDEXES = f"""
SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, ROWS_READ
FROM information_schema.INDEX_STATISTICS
WHERE TABLE_SCHEMA {_NOT_SYSTEM}
"""

USERSTAT_TABLES = f"""
SELECT TABLE_SCHEMA, TABLE_NAME, ROWS_READ, ROWS_CHANGED
FROM information_schema.TABLE_STATISTICS
WHERE TABLE_SCHEMA {_NOT_SYSTEM}
"""

#: a table is "read by full scans" when these many rows were read without an index …
FULL_SCAN_MIN_ROWS = 100_000
#: … and at least this share of its reads went through no index
FULL_SCAN_SHARE = 0.5


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True, slots=True)
class IndexDef:
    """One index as STATISTICS describes it."""

    schema: str
    table: str
    name: str
    columns: tuple[str | None, ...]
    sub_parts: tuple[int | None, ...]
    descending: tuple[bool, ...]
    unique: bool
    index_type: str
    cardinality: tuple[int | None, ...] = field(default=())

    @property
    def primary(self) -> bool:
        return self.name == "PRIMARY"

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.table)

    @property
    def parts(self) -> tuple[tuple[str | None, int | None, bool], ...]:
        return tuple(zip(self.columns, self.sub_parts, self.descending, strict=True))

    def definition(self) -> str:
        cols = []
        for col, sub, desc in self.parts:
            text = quote(col) if col else "(expression)"
            if sub:
                text += f"({sub})"
            if desc:
                text += " DESC"
            cols.append(text)
        kind = "PRIMARY KEY" if self.primary else ("UNIQUE INDEX" if self.unique else "INDEX")
        using = f" USING {self.index_type}" if self.index_type not in ("BTREE", "") else ""
        name = "" if self.primary else f" {quote(self.name)}"
        return f"{kind}{name} ({', '.join(cols)}){using}"


@dataclass(frozen=True, slots=True)
class TableDef:
    schema: str
    table: str
    engine: str | None
    rows: int | None
    data_bytes: int | None
    index_bytes: int | None


def index_defs(rows: Iterable[Mapping[str, Any]]) -> list[IndexDef]:
    grouped: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = (str(row["TABLE_SCHEMA"]), str(row["TABLE_NAME"]), str(row["INDEX_NAME"]))
        grouped.setdefault(key, []).append(row)
    defs = []
    for (schema, table, name), parts in grouped.items():
        parts.sort(key=lambda r: int(r["SEQ_IN_INDEX"]))
        defs.append(
            IndexDef(
                schema=schema,
                table=table,
                name=name,
                columns=tuple(r.get("COLUMN_NAME") for r in parts),
                sub_parts=tuple(_opt_int(r.get("SUB_PART")) for r in parts),
                descending=tuple(str(r.get("COLLATION") or "A").upper() == "D" for r in parts),
                unique=str(parts[0].get("NON_UNIQUE")) in ("0", "False"),
                index_type=str(parts[0].get("INDEX_TYPE") or "BTREE").upper(),
                cardinality=tuple(_opt_int(r.get("CARDINALITY")) for r in parts),
            )
        )
    return defs


def table_defs(rows: Iterable[Mapping[str, Any]]) -> list[TableDef]:
    return [
        TableDef(
            schema=str(r["TABLE_SCHEMA"]),
            table=str(r["TABLE_NAME"]),
            engine=r.get("ENGINE"),
            rows=_opt_int(r.get("TABLE_ROWS")),
            data_bytes=_opt_int(r.get("DATA_LENGTH")),
            index_bytes=_opt_int(r.get("INDEX_LENGTH")),
        )
        for r in rows
    ]


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def redundant(defs: Sequence[IndexDef]) -> dict[tuple[str, str, str], str]:
    """(schema, table, index) -> the index that makes it redundant.

    An index is redundant when its key parts are a leading prefix of another B-tree index's
    on the same table (same columns, prefix lengths and directions). A unique index is only
    redundant beside another unique index with the very same parts (it enforces a rule the
    longer one does not); of two identical indexes, the primary key, then a unique one, then
    the first by name is kept. Full-text, spatial and hash indexes are left alone.
    """
    by_table: dict[tuple[str, str], list[IndexDef]] = {}
    for d in defs:
        if d.index_type == "BTREE" and all(c is not None for c in d.columns):
            by_table.setdefault(d.key, []).append(d)
    found: dict[tuple[str, str, str], str] = {}
    for indexes in by_table.values():
        for a in indexes:
            if a.primary:
                continue
            for b in indexes:
                if a is b or len(a.parts) > len(b.parts) or b.parts[: len(a.parts)] != a.parts:
                    continue
                same = len(a.parts) == len(b.parts)
                if a.unique and not (same and b.unique):
                    continue
                if same and _keep_rank(a) < _keep_rank(b):
                    continue  # a is the one to keep of the two
                found[(a.schema, a.table, a.name)] = b.name
                break
    return found


def _keep_rank(index: IndexDef) -> tuple[int, int, str]:
    """Smaller is kept when two indexes have the same parts."""
    return (0 if index.primary else 1, 0 if index.unique else 1, index.name)


@dataclass(frozen=True, slots=True)
class Usage:
    """Rows read per index and by full scans, from one source."""

    source: str
    #: (schema, table, index) -> rows read through it
    index_reads: Mapping[tuple[str, str, str], int]
    #: (schema, table, index) -> rows fetched (performance_schema only)
    index_fetches: Mapping[tuple[str, str, str], int]
    #: (schema, table) -> rows read without an index (performance_schema), or all rows
    #: read (userstat: TABLE_STATISTICS does not split them)
    table_reads: Mapping[tuple[str, str], int]
    table_full_scan_reads: Mapping[tuple[str, str], int]


def pfs_usage(rows: Iterable[Mapping[str, Any]]) -> Usage:
    reads: dict[tuple[str, str, str], int] = {}
    fetches: dict[tuple[str, str, str], int] = {}
    table_reads: dict[tuple[str, str], int] = {}
    full: dict[tuple[str, str], int] = {}
    for row in rows:
        schema, table = str(row["OBJECT_SCHEMA"]), str(row["OBJECT_NAME"])
        read = int(row.get("COUNT_READ") or 0)
        table_reads[(schema, table)] = table_reads.get((schema, table), 0) + read
        if row.get("INDEX_NAME") is None:
            full[(schema, table)] = read
            continue
        key = (schema, table, str(row["INDEX_NAME"]))
        reads[key] = read
        fetches[key] = int(row.get("COUNT_FETCH") or 0)
    return Usage("performance_schema", reads, fetches, table_reads, full)


def userstat_usage(
    index_rows: Iterable[Mapping[str, Any]], table_rows: Iterable[Mapping[str, Any]]
) -> Usage:
    reads = {
        (str(r["TABLE_SCHEMA"]), str(r["TABLE_NAME"]), str(r["INDEX_NAME"])): int(
            r.get("ROWS_READ") or 0
        )
        for r in index_rows
    }
    tables = {
        (str(r["TABLE_SCHEMA"]), str(r["TABLE_NAME"])): int(r.get("ROWS_READ") or 0)
        for r in table_rows
    }
    return Usage("userstat", reads, {}, tables, {})


def index_sizes(
    rows: Iterable[Mapping[str, Any]], page_size: int
) -> dict[tuple[str, str, str], int]:
    sizes: dict[tuple[str, str, str], int] = {}
    for row in rows:
        # Partitions are stored as t#P#p0 (t#p#p0 on MariaDB): sum them under the table.
        table = str(row["table_name"]).split("#P#")[0].split("#p#")[0]
        key = (str(row["database_name"]), table, str(row["index_name"]))
        sizes[key] = sizes.get(key, 0) + int(row.get("stat_value") or 0) * page_size
    return sizes


def build(
    defs: Sequence[IndexDef],
    tables: Sequence[TableDef],
    usage: Usage | None,
    sizes: Mapping[tuple[str, str, str], int],
    uptime_s: float | None,
) -> tuple[tuple[IndexStat, ...], tuple[TableStat, ...], tuple[Finding, ...]]:
    dupes = redundant(defs)
    stats: list[IndexStat] = []
    findings: list[Finding] = []
    for d in sorted(defs, key=lambda i: (i.schema, i.table, i.name)):
        key = (d.schema, d.table, d.name)
        reads = usage.index_reads.get(key, 0) if usage else None
        unused = usage is not None and not d.primary and reads == 0
        dup = dupes.get(key)
        target = f"{quote(d.schema)}.{quote(d.table)}"
        stats.append(
            IndexStat(
                schema=d.schema,
                table=d.table,
                name=d.name,
                columns=tuple(c or "(expression)" for c in d.columns),
                definition=d.definition(),
                scans=reads,
                tuples_read=reads,
                tuples_fetched=usage.index_fetches.get(key)
                if usage and usage.index_fetches
                else None,
                size_bytes=sizes.get(key),
                unused=unused,
                duplicate_of=dup,
                is_unique=d.unique,
                is_primary=d.primary,
                constraint=d.name if d.primary or d.unique else None,
                extra=frozen(
                    index_type=d.index_type,
                    sub_parts=list(d.sub_parts) if any(d.sub_parts) else None,
                    cardinality=list(d.cardinality),
                    usage_source=usage.source if usage else None,
                ),
            )
        )
        drop = f"ALTER TABLE {target} DROP INDEX {quote(d.name)}"
        warning = (
            f"{d.name} is UNIQUE: dropping it also drops the rule that values are unique"
            if d.unique
            else None
        )
        if dup is not None:
            other = next((o for o in defs if o.key == d.key and o.name == dup), None)
            relation = (
                "has the same columns as"
                if other is not None and len(other.parts) == len(d.parts)
                else "is a leading prefix of"
            )
            findings.append(
                Finding(
                    kind="duplicate_index",
                    object=f"{d.schema}.{d.table}.{d.name}",
                    message=f"{d.name} on {d.schema}.{d.table} {relation} {dup}: "
                    f"{dup} serves every lookup it serves",
                    statement=drop,
                    warning=warning,
                    extra=frozen(duplicate_of=dup),
                )
            )
        elif unused and usage is not None:
            since = f" in the last {_human(uptime_s)}" if uptime_s else ""
            findings.append(
                Finding(
                    kind="unused_index",
                    object=f"{d.schema}.{d.table}.{d.name}",
                    message=f"{d.name} on {d.schema}.{d.table} read no row{since} "
                    f"({usage.source} counts since the server started)",
                    severity=Severity.INFO,
                    statement=drop,
                    warning=warning,
                )
            )
    table_stats: list[TableStat] = []
    for t in sorted(tables, key=lambda x: (x.schema, x.table)):
        key2 = (t.schema, t.table)
        full = (
            usage.table_full_scan_reads.get(key2) if usage and usage.table_full_scan_reads else None
        )
        total = usage.table_reads.get(key2) if usage else None
        via_index = (total - full) if total is not None and full is not None else None
        size = (t.data_bytes or 0) + (t.index_bytes or 0) if t.data_bytes is not None else None
        table_stats.append(
            TableStat(
                schema=t.schema,
                table=t.table,
                seq_rows_read=full,
                live_rows=t.rows,
                size_bytes=size,
                extra=frozen(
                    engine=t.engine,
                    rows_read=total,
                    rows_read_by_index=via_index,
                    data_bytes=t.data_bytes,
                    index_bytes=t.index_bytes,
                ),
            )
        )
        if (
            full is not None
            and full >= FULL_SCAN_MIN_ROWS
            and total
            and full / total >= FULL_SCAN_SHARE
        ):
            findings.append(
                Finding(
                    kind="full_scan_heavy",
                    object=f"{t.schema}.{t.table}",
                    message=f"{t.schema}.{t.table}: {full:,} of {total:,} rows read "
                    f"({full / total:.0%}) came from full table scans",
                    extra=frozen(rows_full_scan=full, rows_read=total),
                )
            )
    return tuple(stats), tuple(table_stats), tuple(findings)


def _human(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
