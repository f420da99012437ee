"""The catalog facts of the tables a workload reaches: statistics, indexes, views, partitions.

``read_catalog(conn, names, search_path, version)`` reads, for the relation names the
statements mention, each table's row estimate, size, column statistics (pg_stats) and
indexes, and returns the ``Catalog`` the parser resolves names with and the ``TableFacts``
the advisor reads. Beyond plain tables and materialized views (which are indexed
themselves):

- a **view** is read with its definition (``pg_get_viewdef``), parsed, and the relations it
  reads are read too (views of views, up to ``VIEW_DEPTH`` levels): the parser replaces the
  view by its query, as the planner does;
- a **partitioned table** is indexed on the parent (``CREATE INDEX`` there creates the index
  on every partition): its rows and size are its leaf partitions' sums, its column
  statistics the inherited ones (``ANALYZE`` of the parent); a **partition** is read with
  its partitioned root, so a statement on one partition also weighs for an index on the
  parent (``Workload.parents``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from pglast import ast, parse_sql
from pglast.enums import BoolExprType
from pglast.parser import ParseError
from pglast.stream import RawStream

from dbtop.analysis.advisor import ColumnFacts, ExistingIndex, TableFacts, TableRef
from dbtop.engines.postgresql.workload import Catalog, NotAnalyzable, TableInfo, relation_names

#: views of views followed this deep (the server allows any depth; a workload's rarely pass 3)
VIEW_DEPTH = 4

_TABLES_SQL = """
SELECT /* dbtop */ c.oid, n.nspname, c.relname, c.relkind::text AS relkind,
       c.reltuples::float8 AS reltuples, s.n_live_tup,
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) END AS size,
       CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END AS definition,
       parts.rows AS part_rows, parts.bytes AS part_bytes, parts.leaves,
       root.nspname AS root_schema, root.relname AS root_name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
LEFT JOIN LATERAL (
    WITH RECURSIVE tree(relid) AS (
        SELECT c.oid
        UNION ALL
        SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid
    )
    SELECT sum(greatest(pc.reltuples, 0))::float8 AS rows,
           sum(pc.relpages::bigint * current_setting('block_size')::int)::bigint AS bytes,
           count(*) AS leaves
    FROM tree JOIN pg_class pc ON pc.oid = tree.relid
    WHERE pc.relkind IN ('r', 'm')
) parts ON c.relkind = 'p'
LEFT JOIN LATERAL (
    WITH RECURSIVE up(relid, depth) AS (
        SELECT c.oid, 0
        UNION ALL
        SELECT i.inhparent, up.depth + 1 FROM pg_inherits i JOIN up ON i.inhrelid = up.relid
    )
    SELECT rn.nspname, rc.relname
    FROM up JOIN pg_class rc ON rc.oid = up.relid
    JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE up.depth > 0 AND rc.relkind = 'p'
    ORDER BY up.depth DESC LIMIT 1
) root ON c.relispartition
WHERE c.relkind IN ('r', 'm', 'p', 'v')
  AND c.relname = ANY($1::text[])
  AND n.nspname <> 'information_schema'
  AND n.nspname NOT LIKE 'pg\\_%'
"""

_COLUMNS_SQL = """
SELECT /* dbtop */ a.attrelid, a.attname, st.n_distinct, st.null_frac, st.avg_width,
       (st.most_common_freqs)[1] AS max_frequency
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stats st
       ON st.schemaname = n.nspname AND st.tablename = c.relname
      AND st.attname = a.attname AND st.inherited = (c.relkind = 'p')
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_INDEXES_SQL = """
SELECT /* dbtop */ i.indrelid, ic.relname AS name, am.amname, i.indisvalid, i.indisunique,
       i.indnkeyatts, i.indoption::int2[] AS options,
       ARRAY(
           SELECT a.attname
           FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS columns,
       pg_get_expr(i.indpred, i.indrelid) AS predicate
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY($1::oid[])
"""


_LEAVES_SQL = """
WITH RECURSIVE tree(root, relid) AS (
    SELECT /* dbtop */ c.oid, c.oid FROM pg_class c
    WHERE c.oid = ANY($1::oid[]) AND c.relkind = 'p'
    UNION ALL
    SELECT t.root, i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid
)
SELECT t.root, n.nspname, c.relname, greatest(c.reltuples, 0)::float8 AS rows
FROM tree t JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm')
"""


@dataclass(frozen=True, slots=True)
class CatalogFacts:
    catalog: Catalog
    facts: dict[TableRef, TableFacts]
    #: each partition (of the workload's partitioned tables, and of the roots of its
    #: partitions) and its partitioned root
    parents: dict[TableRef, TableRef]
    #: the row estimate of each leaf partition of those roots (what plan analysis reads a
    #: statement on the parent's sequential scans of them with)
    leaf_rows: dict[TableRef, float]


async def read_catalog(
    conn: asyncpg.Connection, names: Iterable[str], search_path: Sequence[str], version: int
) -> CatalogFacts:
    """The facts of the relations named (and of what their views read, and of their
    partitioned roots)."""
    inline = version >= 120000
    wanted = set(names)
    rows: dict[int, Any] = {}
    asked: set[str] = set()
    for _ in range(VIEW_DEPTH + 1):
        todo = sorted(wanted - asked)
        if not todo:
            break
        asked.update(todo)
        for row in await conn.fetch(_TABLES_SQL, todo):
            rows[row["oid"]] = row
            if row["definition"]:
                with contextlib.suppress(NotAnalyzable):
                    wanted.update(name for _, name in relation_names(row["definition"]))
            if row["root_name"]:
                wanted.add(row["root_name"])
    if not rows:
        return CatalogFacts(Catalog((), search_path, inline_ctes=inline), {}, {}, {})
    oids = list(rows)
    columns: dict[int, dict[str, ColumnFacts]] = {oid: {} for oid in oids}
    for row in await conn.fetch(_COLUMNS_SQL, oids):
        columns[row["attrelid"]][row["attname"]] = ColumnFacts(
            name=row["attname"],
            n_distinct=row["n_distinct"],
            null_frac=row["null_frac"] or 0.0,
            avg_width=row["avg_width"],
            max_frequency=row["max_frequency"],
        )
    refs = {oid: TableRef(row["nspname"], row["relname"]) for oid, row in rows.items()}
    existing: dict[int, list[ExistingIndex]] = {oid: [] for oid in oids}
    for row in await conn.fetch(_INDEXES_SQL, oids):
        existing[row["indrelid"]].append(_index(row, refs[row["indrelid"]]))
    facts: dict[TableRef, TableFacts] = {}
    parents: dict[TableRef, TableRef] = {}
    infos = []
    for oid, row in rows.items():
        ref = refs[oid]
        order = tuple(columns[oid])
        if row["relkind"] == "v":
            view = _view_query(row["definition"])
            if view is not None:
                infos.append(TableInfo(ref, frozenset(order), order, view=view))
            continue
        if row["relkind"] == "p":
            count, size, leaves = row["part_rows"] or 0.0, row["part_bytes"], row["leaves"]
        else:
            count, size, leaves = row["reltuples"], row["size"], 0
            if count is None or count < 0:  # never analyzed: the live-tuple counter is all
                count = float(row["n_live_tup"] or 0)
        facts[ref] = TableFacts(
            table=ref,
            rows=count,
            size_bytes=size,
            columns=columns[oid],
            indexes=tuple(existing[oid]),
            partitions=leaves or 0,
        )
        if row["root_name"]:
            parents[ref] = TableRef(row["root_schema"], row["root_name"])
        infos.append(TableInfo(ref, frozenset(order), order))
    leaf_rows: dict[TableRef, float] = {}
    roots = [oid for oid, row in rows.items() if row["relkind"] == "p"]
    if roots:
        for row in await conn.fetch(_LEAVES_SQL, roots):
            leaf = TableRef(row["nspname"], row["relname"])
            leaf_rows[leaf] = row["rows"]
            parents.setdefault(leaf, refs[row["root"]])
    # a root not read (its name was not asked for in time) is no parent to suggest on
    parents = {part: root for part, root in parents.items() if root in facts}
    catalog = Catalog(infos, search_path, inline_ctes=inline)
    return CatalogFacts(catalog, facts, parents, leaf_rows)


def _view_query(definition: str | None) -> Any:
    """A view's SELECT, parsed; None when it is something the walker cannot expand."""
    if not definition:
        return None
    try:
        (raw,) = parse_sql(definition)
    except (ParseError, ValueError):
        return None
    return raw.stmt if isinstance(raw.stmt, ast.SelectStmt) else None


def _index(row: asyncpg.Record, table: TableRef) -> ExistingIndex:
    keys = row["indnkeyatts"]
    cols = tuple(row["columns"])
    options = tuple(row["options"] or ())
    return ExistingIndex(
        name=row["name"],
        table=table,
        columns=cols[:keys],
        include=tuple(c for c in cols[keys:] if c is not None),
        descending=tuple(bool(o & 1) for o in options[:keys]),
        where=predicate_conjuncts(row["predicate"]),
        method=row["amname"],
        valid=row["indisvalid"],
        unique=row["indisunique"],
    )


def predicate_conjuncts(predicate: str | None) -> tuple[str, ...]:
    """A partial index's predicate as the conjuncts the workload parser writes."""
    if not predicate:
        return ()
    try:
        (raw,) = parse_sql(f"SELECT WHERE {predicate}")
    except (ParseError, ValueError):
        return (predicate,)
    where = cast(ast.SelectStmt, raw.stmt).whereClause
    parts = (
        where.args or ()
        if isinstance(where, ast.BoolExpr) and where.boolop == BoolExprType.AND_EXPR
        else (where,)
    )
    return tuple(sorted(str(RawStream()(part)) for part in parts))
