"""The facts MySQL / MariaDB index advice is built from: the workload and the catalog.

``workload_items(snapshot, database)`` picks the statements worth an index (digests that
read far more rows than they return or used no good index; slow-log entries grouped by their
shape when performance_schema is off; the statements running now). ``catalog(engine, refs)``
describes the tables they reach from information_schema (row estimates, columns, indexes
with their cardinalities; MariaDB's mysql.column_stats where ANALYZE … PERSISTENT filled it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql
from sqlglot import exp

from dbtop.analysis.advisor import ColumnFacts, ExistingIndex, TableFacts, TableRef, WorkItem
from dbtop.engines.mysql import indexes as index_mod
from dbtop.engines.mysql.locks import objects_filter
from dbtop.engines.mysql.workload import NotAnalyzable, parse
from dbtop.model import Snapshot, Statement, frozen

if TYPE_CHECKING:
    from dbtop.engines.mysql.engine import MySQLEngine

EXAMINED_RATIO = 10.0
#: … and when it examines at least this many rows per call
EXAMINED_MIN = 100
#: statements looked at (the costliest first) per advice
MAX_STATEMENTS = 100


@dataclass(frozen=True, slots=True)
class Item(WorkItem):
    """One statement of the workload, before parsing, with the rows it examined."""

    rows_examined: int
    database: str | None
    #: a real execution of it (with values) for EXPLAIN, when one is known
    sample: str | None = None


def workload_items(snapshot: Snapshot, database: str | None) -> list[Item]:
    items: list[Item] = []
    for stmt in snapshot.statements:
        if _wants_index(stmt) and (database is None or stmt.database in (None, database)):
            items.append(
                Item.of(
                    stmt,
                    "digest",
                    rows_examined=int(stmt.extra.get("rows_examined") or 0),
                    database=stmt.database or database,
                    sample=stmt.extra.get("sample"),
                )
            )
    if not snapshot.statements:
        items.extend(_from_slow_log(snapshot, database))
    for session in snapshot.sessions:
        if session.is_self or session.is_idle or not session.query or session.kind != "Query":
            continue
        if database is not None and session.database not in (None, database):
            continue
        examined = int(session.extra.get("examined_rows") or 0)
        items.append(
            Item(
                id=f"session:{session.id}",
                text=session.query,
                calls=1,
                total_ms=max((session.duration_s or 0.0) * 1000.0, 1.0),
                rows_examined=examined,
                database=session.database or database,
                source="session",
                sample=session.query,
            )
        )
    items.sort(key=lambda i: -i.total_ms)
    return items[:MAX_STATEMENTS]


def _wants_index(stmt: Statement) -> bool:
    extra = stmt.extra
    if extra.get("no_index_used") or extra.get("no_good_index_used"):
        return True
    examined = int(extra.get("rows_examined") or 0)
    returned = int(extra.get("rows_sent") or 0) + int(extra.get("rows_affected") or 0)
    calls = max(stmt.calls, 1)
    return examined / calls >= EXAMINED_MIN and examined > EXAMINED_RATIO * max(returned, 1)


def _from_slow_log(snapshot: Snapshot, database: str | None) -> list[Item]:
    """Slow-log entries grouped by their text with values replaced (one item per shape)."""
    groups: dict[str, dict[str, Any]] = {}
    for event in snapshot.slow_events:
        if database is not None and event.database not in (None, database):
            continue
        examined = int(event.extra.get("rows_examined") or 0)
        sent = int(event.extra.get("rows_sent") or 0)
        if examined < EXAMINED_MIN or examined <= EXAMINED_RATIO * max(sent, 1):
            continue
        try:
            shape = _shape(event.query)
        except NotAnalyzable:
            continue
        group = groups.setdefault(
            shape,
            {"calls": 0, "ms": 0.0, "examined": 0, "sample": event.query, "db": event.database},
        )
        group["calls"] += 1
        group["ms"] += event.duration_ms
        group["examined"] += examined
    return [
        Item(
            id="slow:" + hashlib.sha1(shape.encode()).hexdigest()[:16],
            text=shape,
            calls=g["calls"],
            total_ms=max(g["ms"], 0.001),
            rows_examined=g["examined"],
            database=g["db"] or database,
            source="slow_log",
            sample=g["sample"],
        )
        for shape, g in groups.items()
    ]


def _shape(text: str) -> str:
    tree = parse(text)

    def normalize(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal) and not isinstance(node.parent, exp.Limit):
            return exp.Placeholder()
        return node

    return tree.transform(normalize).sql(dialect="mysql")


# -- the catalog -------------------------------------------------------------------------------

_TABLES = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH "
    "FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND ({where})"
)
_COLUMNS = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE {where}"
)
_STATISTICS = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, "
    "SUB_PART, INDEX_TYPE, CARDINALITY, COLLATION FROM information_schema.STATISTICS WHERE {where}"
)
_COLUMN_STATS = (
    "SELECT db_name, table_name, column_name, nulls_ratio, avg_frequency, avg_length "
    "FROM mysql.column_stats WHERE {where}"
)


async def catalog(
    engine: MySQLEngine, refs: Iterable[TableRef]
) -> tuple[dict[TableRef, TableFacts], dict[TableRef, frozenset[str]]]:
    objects = {(r.schema, r.name) for r in refs}
    if not objects:
        return {}, {}
    where, args = objects_filter(objects, "TABLE_SCHEMA", "TABLE_NAME")
    tables = await engine.work_fetch(_TABLES.format(where=where), args)
    column_rows = await engine.work_fetch(_COLUMNS.format(where=where), args)
    stat_rows = await engine.work_fetch(_STATISTICS.format(where=where), args)
    stats: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    if engine.flavor.mariadb:
        where2, args2 = objects_filter(objects, "db_name", "table_name")
        try:
            for row in await engine.work_fetch(_COLUMN_STATS.format(where=where2), args2):
                stats[(row["db_name"], row["table_name"], str(row["column_name"]).lower())] = row
        except pymysql.err.MySQLError:
            stats = {}  # no SELECT on mysql.column_stats: index cardinalities only
    columns: dict[TableRef, set[str]] = {}
    for row in column_rows:
        ref = TableRef(row["TABLE_SCHEMA"], row["TABLE_NAME"])
        columns.setdefault(ref, set()).add(str(row["COLUMN_NAME"]).lower())
    defs = index_mod.index_defs(stat_rows)
    facts: dict[TableRef, TableFacts] = {}
    for row in tables:
        ref = TableRef(row["TABLE_SCHEMA"], row["TABLE_NAME"])
        rows = float(row.get("TABLE_ROWS") or 0)
        mine = [d for d in defs if (d.schema, d.table) == (ref.schema, ref.name)]
        col_facts = _column_facts(ref, rows, columns.get(ref, set()), mine, stats)
        facts[ref] = TableFacts(
            table=ref,
            rows=rows,
            size_bytes=int(row.get("DATA_LENGTH") or 0) + int(row.get("INDEX_LENGTH") or 0),
            columns=frozen(col_facts),
            indexes=tuple(
                ExistingIndex(
                    name=d.name,
                    table=ref,
                    columns=tuple(
                        None if c is None or sub else c.lower()
                        for c, sub in zip(d.columns, d.sub_parts, strict=True)
                    ),
                    descending=d.descending,
                    method="btree" if d.index_type == "BTREE" else d.index_type.lower(),
                    unique=d.unique,
                )
                for d in mine
            ),
        )
    return facts, {ref: frozenset(cols) for ref, cols in columns.items()}


def _column_facts(
    ref: TableRef,
    rows: float,
    names: set[str],
    defs: Sequence[index_mod.IndexDef],
    stats: Mapping[tuple[str, str, str], Mapping[str, Any]],
) -> dict[str, ColumnFacts]:
    leading: dict[str, int] = {}
    for d in defs:
        if d.columns and d.columns[0] and d.cardinality and d.cardinality[0]:
            name = d.columns[0].lower()
            leading[name] = max(leading.get(name, 0), int(d.cardinality[0]))
    facts = {}
    for name in names:
        row = stats.get((str(ref.schema), ref.name, name))
        n_distinct: float | None = None
        null_frac = 0.0
        width = None
        if row is not None and row.get("avg_frequency"):
            n_distinct = max(rows / float(row["avg_frequency"]), 1.0) if rows else None
            null_frac = float(row.get("nulls_ratio") or 0.0)
            width = int(float(row["avg_length"])) if row.get("avg_length") is not None else None
        elif name in leading:
            n_distinct = float(leading[name])
        facts[name] = ColumnFacts(
            name=name, n_distinct=n_distinct, null_frac=null_frac, avg_width=width
        )
    return facts
