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

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pymysql
from sqlglot import exp

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    Choice,
    Draft,
    ExistingIndex,
    HeuristicOracle,
    IndexNaming,
    Prepared,
    QueryInfo,
    Selection,
    TableRef,
    Workload,
    advise,
    generate,
    select,
)
from dbtop.engines.mysql import explain as explain_mod
from dbtop.engines.mysql import indexes as index_mod
from dbtop.engines.mysql.advice_facts import Item, catalog, workload_items
from dbtop.engines.mysql.workload import NotAnalyzable, analyze, parse, table_refs, with_values
from dbtop.errors import DbtopError
from dbtop.model import Advice, Feature, Notice, Rejection, Severity, Snapshot, frozen

if TYPE_CHECKING:
    from dbtop.engines.mysql.engine import MySQLEngine

#: EXPLAINs run per advice
MAX_EXPLAINS = 30


# -- the advice ---------------------------------------------------------------------------------


async def suggest(engine: MySQLEngine, settings: AdvisorSettings | None = None) -> Advice:
    """The advice for the engine's current workload (what ``MySQLEngine.suggest`` calls)."""
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
        queries.append(item.query(accesses, rows_examined=item.rows_examined))
        trees[item.id] = (item, tree, analysis.aliases)
    total = sum(s.total_ms for s in snapshot.statements) or sum(i.total_ms for i in items)
    workload = Workload(tuple(queries), facts, total_ms=total or None)
    generated = generate(workload, settings)
    selection = await select(workload, generated.candidates, HeuristicOracle(workload), settings)
    rejected: list[Rejection] = [*generated.rejected, *selection.rejected]
    checked, evidence, refused = await _explain_check(engine, workload, selection, trees)
    rejected.extend(refused)
    if skipped:
        item, why = skipped[0]
        notices.append(
            Notice(
                Feature.SUGGEST,
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
            Feature.SUGGEST,
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
    extra = frozen(
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
        verification=verification(engine.flavor.mariadb),
    )
    dialect = _Dialect(workload, evidence, engine.flavor.has_descending_indexes)
    # the statements examining the most rows first
    checked.sort(key=lambda c: (-dialect.examined(c), c.candidate.table.name, c.candidate.columns))
    prepared = Prepared(
        workload,
        checked,
        rejected=sorted(rejected, key=lambda r: (r.schema or "", r.table, r.columns)),
        findings=findings,
        notices=notices,
        extra=extra,
    )
    return advise(prepared, dialect)


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
    return Notice(Feature.SUGGEST, message, hint, Severity.INFO)


async def _explain_check(
    engine: MySQLEngine,
    workload: Workload,
    selection: Selection,
    trees: Mapping[str, tuple[Item, exp.Expression, Mapping[str, TableRef]]],
) -> tuple[list[Choice], dict[Candidate, str], list[Rejection]]:
    """Keep the chosen candidates that EXPLAIN confirms no existing index serves."""
    kept: list[Choice] = []
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


def verification(mariadb: bool) -> str:
    """What checks a suggestion on this engine, and why no more: the line ``suggest`` shows."""
    name = "MariaDB" if mariadb else "MySQL"
    return (
        f"checked with EXPLAIN, not costed: {name} has no hypothetical indexes (hypopg is "
        "PostgreSQL's), so no plan can be costed with an index that does not exist (an "
        "invisible index would have to be built first); EXPLAIN showed that no existing "
        "index serves the statements, which are ranked by the rows they examine"
    )


#: ``ix_table_col1_col2``, under MySQL's 64-character limit
NAMING = IndexNaming(prefix="ix_", max_bytes=64)


@dataclass(frozen=True, slots=True)
class _Dialect:
    """``evidence``: what EXPLAIN showed for each chosen candidate."""

    workload: Workload
    evidence: Mapping[Candidate, str]
    descending_ok: bool

    @property
    def naming(self) -> IndexNaming:
        return NAMING

    def examined(self, choice: Choice) -> int:
        """The rows the statements it helps examine."""
        return sum(
            int(cast(int, self.workload.query(e.query_id).extra.get("rows_examined") or 0))
            for e in choice.effects
        )

    def statement(self, cand: Candidate, name: str | None) -> str:
        return create_statement(cand, name or "", self.descending_ok)

    def verified(self, cand: Candidate) -> bool:
        return False

    def drop(self, index: ExistingIndex, cand: Candidate) -> str:
        quote = index_mod.quote
        table = quote(index.table.name)
        if index.table.schema:
            table = f"{quote(index.table.schema)}.{table}"
        return f"ALTER TABLE {table} DROP INDEX {quote(index.name)}, ALGORITHM=INPLACE, LOCK=NONE;"

    def reason(self, draft: Draft) -> str:
        return (
            f"{draft.origin}. {len(draft.queries)} statement(s), {draft.share:.1%} of the "
            f"workload's time, {self.examined(draft.choice):,} rows examined; "
            f"{self.evidence.get(draft.candidate, '')}. "
            "Not verified (MySQL has no hypothetical indexes)"
        )

    def extra(self, draft: Draft) -> Mapping[str, Any]:
        cand = draft.candidate
        return {
            "rows_examined": self.examined(draft.choice),
            "evidence": self.evidence.get(cand),
            "descending": [cand.is_descending(i) for i in range(len(cand.columns))],
        }
