"""Index advice for PostgreSQL: the workload, the catalog facts, the verified choice.

``suggest(engine)`` (what ``PostgresEngine.suggest`` calls) takes the database's top
statements of pg_stat_statements (``advisor_source.py``) and the running sessions' queries,
parses them with pglast (``advice_facts.py``, ``workload.py``), reads the statistics and
indexes of the tables they reach, lets the engine-neutral core (``dbtop.analysis.advisor``)
generate candidates and choose a small set, and costs every choice with the planner's
generic plans (``generic_plan.py``) and hypopg's hypothetical indexes (``hypopg.py``);
``dbtop.analysis.advisor.advise`` builds the suggestions, this module's ``_Dialect`` wording
them. docs/advisor.md tells the whole story.

Without hypopg the current plans are read instead: a sequential scan that filters most of
a large table's rows (or feeds a sort under a LIMIT) makes that table's candidates
eligible, the heuristic model of ``analysis/advisor/estimate.py`` ranks them, and the
suggestions are marked unverified, with a notice saying how to install hypopg.

Index health (unused, duplicate, invalid) comes from the snapshot (``indexes.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    Draft,
    ExistingIndex,
    HeuristicOracle,
    IndexNaming,
    Prepared,
    Replacement,
    TableFacts,
    TableRef,
    advise,
    estimated_size,
    generate,
    select,
)
from dbtop.engines.postgresql.advice_facts import (
    Item,
    ServerFacts,
    build_workload,
    default_settings,
)
from dbtop.engines.postgresql.advisor_source import recorded_workload
from dbtop.engines.postgresql.connection import close_connection
from dbtop.engines.postgresql.hypopg import PlannerOracle, index_body
from dbtop.engines.postgresql.indexes import index_health
from dbtop.engines.postgresql.plan_evidence import plan_analysis, with_plan_costs
from dbtop.engines.postgresql.replacements import checked_replacements
from dbtop.engines.postgresql.workload import quote_ident, quote_table
from dbtop.model import (
    Advice,
    Feature,
    Finding,
    IndexStat,
    Notice,
    Rejection,
    Session,
    Severity,
    Statement,
    frozen,
)

if TYPE_CHECKING:
    from dbtop.engines.postgresql import PostgresEngine

#: the text pg_stat_statements shows for another role's statement without pg_read_all_stats
HIDDEN_TEXT = "<insufficient privilege>"
HYPOPG_HINT = (
    "install hypopg (Debian/Ubuntu: apt install postgresql-{major}-hypopg; RHEL: "
    "dnf install hypopg_{major}; or build it from https://github.com/HypoPG/hypopg), "
    "then run CREATE EXTENSION hypopg; in this database"
)


async def suggest(engine: PostgresEngine, settings: AdvisorSettings | None = None) -> Advice:
    """Index suggestions and index-health findings for the engine's current workload.

    The statements are this database's top ones from pg_stat_statements
    (``advisor_source.py``), or the snapshot's when they cannot be read directly; the
    running sessions, the index rows and the findings come from the snapshot.
    """
    snapshot = await engine.snapshot()
    conn = await engine.open_connection()
    try:
        recorded = await recorded_workload(conn)
        return await advise_connection(
            conn,
            statements=recorded.statements if recorded is not None else snapshot.statements,
            sessions=snapshot.sessions,
            findings=snapshot.findings,
            indexes=snapshot.indexes,
            settings=settings,
            recorded_ms=recorded.total_ms if recorded is not None else None,
            period_s=recorded.period_s if recorded is not None else None,
        )
    finally:
        await close_connection(conn)


async def advise_connection(
    conn: asyncpg.Connection,
    *,
    statements: Sequence[Statement],
    sessions: Sequence[Session] = (),
    findings: Sequence[Finding] = (),
    indexes: Sequence[IndexStat] = (),
    settings: AdvisorSettings | None = None,
    recorded_ms: float | None = None,
    period_s: float | None = None,
) -> Advice:
    """The advice for these statements on the database ``conn`` is connected to.

    ``recorded_ms``: the time of the database's whole workload (dbtop's own statements left
    out), when ``statements`` are only its top part: shares are of it; the statements' sum
    otherwise. ``period_s``: the seconds the statements' counters cover (the write
    statements' calls/s are shown over it).

    ``conn`` is dbtop's own connection (the caller closes it): everything here runs in a
    read-only transaction that is rolled back; hypothetical indexes are session-local and
    removed before returning.
    """
    started = time.monotonic()
    built = await build_workload(conn, statements, sessions, recorded_ms, period_s)
    server, workload, items, skipped = built.server, built.workload, built.items, built.skipped
    version = server.version
    settings = settings or default_settings(version)
    notices: list[Notice] = []
    generated = generate(workload, settings)
    rejected: list[Rejection] = list(generated.rejected)

    oracle = PlannerOracle(conn, version=version, hypopg=server.hypopg is not None)
    replaces: Mapping[Candidate, Replacement] | None = None
    evidence: dict[Candidate, str] = {}
    sizes: dict[Candidate, int] = {}
    try:
        await oracle.begin()
        await oracle.prepare(workload.queries)
        if server.hypopg is not None:
            candidates, invalid = await oracle.validate(generated.candidates)
            rejected.extend(invalid)
            sizes = oracle.sizes
            selection = await select(workload, candidates, oracle, settings, sizes)
            replaces = await checked_replacements(oracle, workload, selection, settings)
            verified = True
        else:
            candidates, eligible_rejected, plan_costs, evidence = await plan_analysis(
                oracle, workload, generated.candidates, settings, built.leaf_rows
            )
            rejected.extend(eligible_rejected)
            sizes = {c: estimated_size(c, workload.tables[c.table]) for c in candidates}
            selection = await select(
                workload, candidates, HeuristicOracle(workload), settings, sizes
            )
            selection = with_plan_costs(selection, plan_costs)
            verified = False
            notices.append(_no_hypopg_notice(server))
    finally:
        await oracle.close()

    rejected.extend(selection.rejected)
    failures = dict(oracle.failures)
    skipped.extend((item, failures[item.id]) for item in items if item.id in failures)
    if skipped:
        notices.append(_skipped_notice(skipped))
    if not items:
        notices.append(
            Notice(
                feature=Feature.SUGGEST,
                message="no workload to advise on: pg_stat_statements has no statement for "
                "this database and no session is running a query",
                hint="let the application run, or check that pg_stat_statements is in "
                "shared_preload_libraries and CREATE EXTENSION pg_stat_statements was run",
                severity=Severity.INFO,
            )
        )
    health, health_notices, stats = await index_health(conn, findings, indexes)
    notices.extend(health_notices)
    shares = {q.id: workload.share(q) for q in workload.queries}
    before, after = selection.workload_cost(shares)
    extra = frozen(
        database=server.database,
        hypopg=server.hypopg,
        verified=verified,
        plan_mode=oracle.plans.mode,
        untracked=oracle.plans.untracked,
        statements=len(items),
        analyzed=len(workload.queries),
        not_indexable=built.not_indexable,
        candidates=len(generated.candidates),
        evaluations=selection.evaluations,
        explains=oracle.explains,
        hypopg_resets=oracle.resets,
        workload_total_ms=round(workload.total, 3),
        workload_share_costed=before,
        workload_relative_cost_after=(after / before) if before else None,
        elapsed_s=round(time.monotonic() - started, 3),
        verification=(
            f"verified with hypopg {server.hypopg}: each statement's generic plan costed "
            "with the hypothetical indexes"
            if verified
            else "not verified: hypopg is not installed, so the current plans were read "
            "(plan analysis) and a model of the statistics ranked the candidates"
        ),
        **stats,
    )
    prepared = Prepared(
        workload, selection.chosen, rejected, health, notices, sizes, extra, replaces
    )
    return advise(prepared, _Dialect(evidence, workload.tables))


def _no_hypopg_notice(server: ServerFacts) -> Notice:
    major = server.version // 10000
    return Notice(
        feature=Feature.SUGGEST,
        message=(
            "hypopg is not installed in this database: suggestions come from plan analysis "
            "and are not verified"
        ),
        hint=(
            "run CREATE EXTENSION hypopg; in this database"
            if server.hypopg_available
            else HYPOPG_HINT.format(major=major)
        ),
    )


def _skipped_notice(skipped: Sequence[tuple[Item, str]]) -> Notice:
    hidden = [item for item, _ in skipped if item.text.strip() == HIDDEN_TEXT]
    if hidden:
        return Notice(
            feature=Feature.SUGGEST,
            message=f"{len(hidden)} statement(s) of other roles are hidden from this role "
            f"(pg_stat_statements shows {HIDDEN_TEXT}) and were not analyzed",
            hint="GRANT pg_read_all_stats TO this role to advise on the whole workload",
            severity=Severity.WARNING,
        )
    item, why = skipped[0]
    text = " ".join(item.text.split())
    example = text[:80] + ("…" if len(text) > 80 else "")
    return Notice(
        feature=Feature.SUGGEST,
        message=f"{len(skipped)} statement(s) could not be analyzed, e.g. {example!r}: {why}",
        hint="statements that do not parse (truncated by track_activity_query_size) or that "
        "the planner rejects are left out of the advice",
        severity=Severity.INFO,
    )


# -- DDL and the words of a suggestion ------------------------------------------------------

#: ``table_col1_col2_idx`` as PostgreSQL names them, under its 63-byte limit
NAMING = IndexNaming(suffix="_idx", max_bytes=63)


def create_statement(cand: Candidate, name: str, *, partitioned: bool = False) -> str:
    """``CREATE INDEX CONCURRENTLY …``; on a partitioned table, where CONCURRENTLY is
    refused, a plain ``CREATE INDEX`` (which creates it on every partition)."""
    body = index_body(cand).replace(" USING btree ", " ")
    how = "CREATE INDEX" if partitioned else "CREATE INDEX CONCURRENTLY"
    return f"{how} {quote_ident(name)} {body};"


def _on_partitions(cand: Candidate, name: str, partitions: int) -> str:
    table = cand.table.key
    return (
        f"{table} is partitioned: the index is created on every partition ({partitions}) "
        f"and serves statements on each. CONCURRENTLY is refused on a partitioned table, so "
        f"the build blocks writes to it; to avoid that, CREATE INDEX {name} ON ONLY {table} "
        "(…), then CREATE INDEX CONCURRENTLY on each partition and ALTER INDEX "
        f"{name} ATTACH PARTITION each of those"
    )


@dataclass(frozen=True, slots=True)
class _Dialect:
    """``evidence``: the plan finding behind each unverified candidate (empty when hypopg
    verified them all)."""

    evidence: Mapping[Candidate, str]
    tables: Mapping[TableRef, TableFacts]

    @property
    def naming(self) -> IndexNaming:
        return NAMING

    def partitions(self, cand: Candidate) -> int:
        facts = self.tables.get(cand.table)
        return facts.partitions if facts is not None else 0

    def statement(self, cand: Candidate, name: str | None) -> str:
        return create_statement(cand, name or "", partitioned=self.partitions(cand) > 0)

    def drop(self, index: ExistingIndex, cand: Candidate) -> str:
        # (index names are unique within a schema; CONCURRENTLY is refused on a
        # partitioned table's index)
        how = "DROP INDEX" if self.partitions(cand) else "DROP INDEX CONCURRENTLY"
        return f"{how} {quote_table(TableRef(index.table.schema, index.name))};"

    def verified(self, cand: Candidate) -> bool:
        return cand not in self.evidence

    def reason(self, draft: Draft) -> str:
        cand, count, share = draft.candidate, len(draft.queries), draft.share
        if self.verified(cand):
            before, after = draft.cost_before or 0.0, draft.cost_after or 0.0
            text = (
                f"{draft.origin}. With it (hypothetically) {count} statement(s), "
                f"{share:.1%} of the workload's time, cost {before:,.1f} → {after:,.1f} "
                f"in the planner's estimate"
            )
        else:
            text = (
                f"{draft.origin}. {count} statement(s), {share:.1%} of the workload's time; "
                f"{self.evidence[cand]}. Not verified (hypopg is not installed)"
            )
        partitions = self.partitions(cand)
        if partitions:
            text += ". " + _on_partitions(cand, draft.name or "…", partitions)
        return text

    def extra(self, draft: Draft) -> Mapping[str, Any]:
        cand = draft.candidate
        return {
            "method": cand.method,
            "descending": [cand.is_descending(i) for i in range(len(cand.columns))],
        }
