"""Index advice for MySQL / MariaDB: no-index digests -> EXPLAIN -> candidate indexes.

The workload is the statements that read far more rows than they return or that used no
(good) index: digests from performance_schema, else slow-log entries grouped by their
digest-like text, plus the statements running now. Each is parsed with sqlglot
(``workload.py``); the tables it reaches are described from information_schema (row
estimates, columns, indexes, with cardinalities as statistics; MariaDB's mysql.column_stats
where ANALYZE … PERSISTENT filled it). The engine-neutral core (``dbtop.analysis.advisor``)
generates candidates and chooses a small set with its heuristic cost model: MySQL has no
hypothetical indexes, so every suggestion is unverified and they are ranked by the rows
their statements examine. Before a candidate is suggested, EXPLAIN of one of its statements
must show that no existing index already serves its leading column.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pymysql
from sqlglot import exp

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    ColumnFacts,
    ExistingIndex,
    HeuristicOracle,
    QueryInfo,
    Selection,
    TableFacts,
    TableRef,
    Workload,
    generate,
    select,
)
from dbtop.engines.mysql import explain as explain_mod
from dbtop.engines.mysql import indexes as index_mod
from dbtop.engines.mysql.locks import objects_filter
from dbtop.engines.mysql.workload import NotAnalyzable, analyze, parse, table_refs, with_values
from dbtop.errors import DbtopError
from dbtop.model import (
    Advice,
    Feature,
    Notice,
    QueryShare,
    Rejection,
    Severity,
    Snapshot,
    Statement,
    Suggestion,
    frozen,
)

if TYPE_CHECKING:
    from dbtop.engines.mysql.engine import MySQLEngine

#: a statement examines "far more rows than it sends" beyond this ratio …
EXAMINED_RATIO = 10.0
#: … and when it examines at least this many rows per call
EXAMINED_MIN = 100
#: statements looked at (the costliest first) and EXPLAINs run per advice
MAX_STATEMENTS = 100
MAX_EXPLAINS = 30
INDEX_NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Item:
    """One statement of the workload, before parsing."""

    id: str
    text: str
    calls: int
    total_ms: float
    rows_examined: int
    database: str | None
    source: str
    #: a real execution of it (with values) for EXPLAIN, when one is known
    sample: str | None = None


def workload_items(snapshot: Snapshot, database: str | None) -> list[Item]:
    items: list[Item] = []
    for stmt in snapshot.statements:
        if _wants_index(stmt) and (database is None or stmt.database in (None, database)):
            items.append(
                Item(
                    id=stmt.id,
                    text=stmt.query,
                    calls=stmt.calls,
                    total_ms=stmt.total_ms,
                    rows_examined=int(stmt.extra.get("rows_examined") or 0),
                    database=stmt.database or database,
                    source="digest",
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


# -- the advice ---------------------------------------------------------------------------------


async def advise(engine: MySQLEngine, settings: AdvisorSettings | None = None) -> Advice:
    started = time.monotonic()
    snapshot = await engine.snapshot()
    database = engine.target.database
    settings = settings or AdvisorSettings(covering="key")
    notices: list[Notice] = []
    items = workload_items(snapshot, database)
    parsed: list[tuple[Item, exp.Expression]] = []
    skipped: list[tuple[Item, str]] = []
    refs: set[TableRef] = set()
    for item in items:
        try:
            tree = parse(item.text)
        except NotAnalyzable as err:
            skipped.append((item, str(err)))
            continue
        parsed.append((item, tree))
        refs |= table_refs(tree, item.database)
    facts, columns = await catalog(engine, refs)
    queries: list[QueryInfo] = []
    trees: dict[str, tuple[Item, exp.Expression, Mapping[str, TableRef]]] = {}
    for item, tree in parsed:
        analysis = analyze(tree, item.database, columns)
        accesses = tuple(a for a in analysis.accesses if a.table in facts)
        if not accesses:
            continue
        queries.append(
            QueryInfo(
                id=item.id,
                text=item.text,
                calls=item.calls,
                total_ms=item.total_ms,
                accesses=accesses,
                extra=frozen(source=item.source, rows_examined=item.rows_examined),
            )
        )
        trees[item.id] = (item, tree, analysis.aliases)
    total = sum(s.total_ms for s in snapshot.statements) or sum(i.total_ms for i in items)
    workload = Workload(tuple(queries), facts, total_ms=total or None)
    generated = generate(workload, settings)
    selection = await select(workload, generated.candidates, HeuristicOracle(workload), settings)
    rejected: list[Rejection] = [*generated.rejected, *selection.rejected]
    checked, evidence, refused = await _explain_check(engine, workload, selection, trees)
    rejected.extend(refused)
    suggestions = _suggestions(engine, workload, selection, checked, evidence, facts)
    if skipped:
        item, why = skipped[0]
        notices.append(
            Notice(
                "suggest",
                f"{len(skipped)} statement(s) could not be analyzed, e.g. "
                f"{' '.join(item.text.split())[:80]!r}: {why}",
                None,
                Severity.INFO,
            )
        )
    if not items:
        notices.append(_no_workload_notice(snapshot))
    notices.append(
        Notice(
            "suggest",
            "MySQL has no hypothetical indexes: suggestions are ranked by the rows their "
            "statements examine and are not verified; EXPLAIN checked that no existing index "
            "serves them",
            None,
            Severity.INFO,
        )
    )
    findings = tuple(
        f
        for f in snapshot.findings
        if f.kind in ("unused_index", "duplicate_index", "full_scan_heavy")
    )
    shares = {q.id: workload.share(q) for q in workload.queries}
    before, after = selection.workload_cost(shares)
    return Advice(
        suggestions=tuple(suggestions),
        findings=findings,
        rejected=tuple(sorted(rejected, key=lambda r: (r.schema or "", r.table, r.columns))),
        notices=tuple(notices),
        extra=frozen(
            database=database,
            verified=False,
            statements=len(items),
            analyzed=len(queries),
            candidates=len(generated.candidates),
            evaluations=selection.evaluations,
            workload_share_costed=before,
            workload_relative_cost_after=(after / before) if before else None,
            source=(
                "performance_schema digests"
                if snapshot.statements
                else "slow log table"
                if snapshot.slow_events
                else "running statements"
            ),
            elapsed_s=round(time.monotonic() - started, 3),
        ),
    )


def _no_workload_notice(snapshot: Snapshot) -> Notice:
    caps = snapshot.capabilities
    if caps.has(Feature.STATEMENTS) or caps.extra.get("slow_log_table"):
        message = (
            "no statement examines far more rows than it returns or runs without an index: "
            "nothing to advise on yet"
        )
        hint = "let the application run, then ask again"
    else:
        message = (
            "no workload to advise on: performance_schema is off and the slow log is not a "
            "table, so only running statements are seen"
        )
        hint = (
            "turn performance_schema on, or SET GLOBAL log_output = 'FILE,TABLE', "
            "slow_query_log = ON"
        )
    return Notice("suggest", message, hint, Severity.INFO)


async def _explain_check(
    engine: MySQLEngine,
    workload: Workload,
    selection: Selection,
    trees: Mapping[str, tuple[Item, exp.Expression, Mapping[str, TableRef]]],
) -> tuple[list[Any], dict[Candidate, str], list[Rejection]]:
    """Keep the chosen candidates that EXPLAIN confirms no existing index serves."""
    kept = []
    evidence: dict[Candidate, str] = {}
    refused: list[Rejection] = []
    budget = MAX_EXPLAINS
    for choice in selection.chosen:
        cand = choice.candidate
        facts = workload.tables[cand.table]
        found: str | None = None
        served_by: str | None = None
        for effect in choice.effects:
            if budget <= 0 or effect.query_id not in trees:
                continue
            item, tree, aliases = trees[effect.query_id]
            sql = item.sample or with_values(tree)
            budget -= 1
            try:
                prepared = explain_mod.prepare(sql)
                rows = await engine.work_fetch(f"EXPLAIN FORMAT=JSON {prepared.sql}")
                root, _ = explain_mod.parse_json_plan(str(next(iter(rows[0].values()))))
            except (
                pymysql.err.MySQLError,
                DbtopError,
                ValueError,
                IndexError,
                StopIteration,
            ) as exc:
                # A statement EXPLAIN cannot take (a sample cut short, a refused form) leaves
                # the candidate with the model's evidence only.
                found = found or f"EXPLAIN failed ({str(exc).splitlines()[0][:80]})"
                continue
            for table, access, key in explain_mod.tables_scanned(root):
                if aliases.get(table, TableRef(None, table)).name != cand.table.name:
                    continue
                index = next((i for i in facts.indexes if i.name == key), None)
                if index is not None and index.columns[:1] == cand.columns[:1]:
                    served_by = key
                elif key:
                    found = (
                        f"EXPLAIN: {table} is read through {key}, "
                        f"which does not lead with {cand.columns[0]}"
                    )
                else:
                    found = f"EXPLAIN: full scan of {table} (access {access})"
            if found or served_by:
                break
        if served_by is not None:
            refused.append(
                cand.rejection(f"EXPLAIN shows index {served_by} already serves {cand.columns[0]}")
            )
            continue
        kept.append(choice)
        evidence[cand] = found or "EXPLAIN was not run for it"
    return kept, evidence, refused


def index_name(cand: Candidate, taken: set[str]) -> str:
    base = "ix_" + "_".join((cand.table.name, *cand.columns))
    if len(base) > INDEX_NAME_MAX:
        digest = hashlib.sha1(base.encode()).hexdigest()[:8]
        base = base[: INDEX_NAME_MAX - 9] + "_" + digest
    name, n = base, 2
    while name in taken:
        suffix = f"_{n}"
        name = base[: INDEX_NAME_MAX - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def create_statement(cand: Candidate, name: str, descending_ok: bool) -> str:
    cols = []
    for i, col in enumerate(cand.columns):
        text = index_mod.quote(col)
        if descending_ok and cand.is_descending(i):
            text += " DESC"
        cols.append(text)
    table = index_mod.quote(cand.table.name)
    if cand.table.schema:
        table = f"{index_mod.quote(cand.table.schema)}.{table}"
    # Online on InnoDB: no table copy, reads and writes go on while it builds.
    return (
        f"CREATE INDEX {index_mod.quote(name)} ON {table} ({', '.join(cols)}) "
        "ALGORITHM=INPLACE LOCK=NONE"
    )


def _suggestions(
    engine: MySQLEngine,
    workload: Workload,
    selection: Selection,
    chosen: Sequence[Any],
    evidence: Mapping[Candidate, str],
    facts: Mapping[TableRef, TableFacts],
) -> list[Suggestion]:
    taken = {i.name for t in facts.values() for i in t.indexes}
    result = []
    for choice in chosen:
        cand = choice.candidate
        shares = []
        examined = 0
        for effect in choice.effects:
            query = workload.query(effect.query_id)
            examined += int(query.extra.get("rows_examined") or 0)
            shares.append(
                QueryShare(
                    query=query.text,
                    share=effect.share,
                    calls=query.calls,
                    cost_before=round(effect.cost_before, 2),
                    cost_after=round(effect.cost_after, 2),
                    id=query.id,
                )
            )
        before = sum(q.cost_before or 0.0 for q in shares)
        after = sum(q.cost_after or 0.0 for q in shares)
        share = sum(q.share for q in shares)
        name = index_name(cand, taken)
        reason = (
            f"{'; '.join(cand.origin)}. {len(shares)} statement(s), {share:.1%} of the "
            f"workload's time, {examined:,} rows examined; {evidence.get(cand, '')}. "
            "Not verified (MySQL has no hypothetical indexes)"
        )
        result.append(
            Suggestion(
                table=cand.table.name,
                schema=cand.table.schema,
                columns=cand.columns,
                statement=create_statement(cand, name, engine.flavor.has_descending_indexes),
                verified=False,
                reason=reason,
                cost_before=round(before, 2),
                cost_after=round(after, 2),
                queries=tuple(shares),
                extra=frozen(
                    name=name,
                    rows_examined=examined,
                    benefit=round(choice.benefit, 6),
                    workload_share=round(share, 6),
                    evidence=evidence.get(cand),
                    descending=[cand.is_descending(i) for i in range(len(cand.columns))],
                ),
            )
        )
    result.sort(key=lambda s: (-int(s.extra["rows_examined"]), s.table, s.columns))
    return result
