"""Index advice for PostgreSQL: the workload, the catalog facts, the verified choice.

``advise(engine)`` takes the database's top statements of pg_stat_statements
(``advisor_source.py``) and the running sessions' queries, parses them with pglast
(``workload.py``), reads the statistics and indexes of the tables they reach, lets the
engine-neutral core (``dbtop.analysis.advisor``) generate candidates and choose a small set,
and costs every choice with the planner's generic plans (``generic_plan.py``) and hypopg's
hypothetical indexes (``hypopg.py``). docs/advisor.md tells the whole story.

Without hypopg the current plans are read instead: a sequential scan that filters most of
a large table's rows (or feeds a sort under a LIMIT) makes that table's candidates
eligible, the heuristic model of ``analysis/advisor/estimate.py`` ranks them, and the
suggestions are marked unverified, with a notice saying how to install hypopg.

Index health (unused, duplicate, invalid) comes from the snapshot (``indexhealth.py``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from pglast import ast, parse_sql
from pglast.enums import BoolExprType
from pglast.parser import ParseError
from pglast.stream import RawStream

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    Choice,
    ColumnFacts,
    Effect,
    ExistingIndex,
    HeuristicOracle,
    QueryInfo,
    Selection,
    TableFacts,
    TableRef,
    Workload,
    estimated_size,
    generate,
    select,
)
from dbtop.engines.postgresql.advisor_source import recorded_workload
from dbtop.engines.postgresql.hypopg import PlannerOracle, index_body
from dbtop.engines.postgresql.indexes import index_health
from dbtop.engines.postgresql.workload import (
    Catalog,
    NotAnalyzable,
    NothingToIndex,
    TableInfo,
    analyze,
    is_own,
    param_count,
    quote_ident,
    relation_names,
)
from dbtop.model import (
    Advice,
    Finding,
    IndexStat,
    Notice,
    QueryShare,
    Rejection,
    Session,
    Severity,
    Statement,
    Suggestion,
    frozen,
)

if TYPE_CHECKING:
    from dbtop.engines.postgresql import PostgresEngine

#: the text pg_stat_statements shows for another role's statement without pg_read_all_stats
HIDDEN_TEXT = "<insufficient privilege>"
#: a sequential scan "filters most rows" when it keeps at most this share of the table
SEQ_SCAN_KEEPS = 0.1

HYPOPG_HINT = (
    "install hypopg (Debian/Ubuntu: apt install postgresql-{major}-hypopg; RHEL: "
    "dnf install hypopg_{major}; or build it from https://github.com/HypoPG/hypopg), "
    "then run CREATE EXTENSION hypopg; in this database"
)


async def advise(engine: PostgresEngine, settings: AdvisorSettings | None = None) -> Advice:
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
        )
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class _Item:
    """A statement of the workload before parsing."""

    id: str
    text: str
    calls: int
    total_ms: float
    user: str | None
    source: str


async def advise_connection(
    conn: asyncpg.Connection,
    *,
    statements: Sequence[Statement],
    sessions: Sequence[Session] = (),
    findings: Sequence[Finding] = (),
    indexes: Sequence[IndexStat] = (),
    settings: AdvisorSettings | None = None,
    recorded_ms: float | None = None,
) -> Advice:
    """The advice for these statements on the database ``conn`` is connected to.

    ``recorded_ms``: the time of the database's whole workload (dbtop's own statements left
    out), when ``statements`` are only its top part: shares are of it; the statements' sum
    otherwise.

    ``conn`` is dbtop's own connection (the caller closes it): everything here runs in a
    read-only transaction that is rolled back; hypothetical indexes are session-local and
    removed before returning.
    """
    started = time.monotonic()
    built = await build_workload(conn, statements, sessions, recorded_ms)
    server, workload, items, skipped = built.server, built.workload, built.items, built.skipped
    version = server.version
    settings = settings or default_settings(version)
    notices: list[Notice] = []
    generated = generate(workload, settings)
    rejected: list[Rejection] = list(generated.rejected)

    oracle = PlannerOracle(conn, version=version, hypopg=server.hypopg is not None)
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
            verified = True
        else:
            candidates, eligible_rejected, plan_costs, evidence = await _plan_analysis(
                oracle, workload, generated.candidates, settings
            )
            rejected.extend(eligible_rejected)
            sizes = {c: estimated_size(c, workload.tables[c.table]) for c in candidates}
            selection = await select(
                workload, candidates, HeuristicOracle(workload), settings, sizes
            )
            selection = _with_plan_costs(selection, plan_costs)
            verified = False
            notices.append(_no_hypopg_notice(server))
    finally:
        await oracle.close()

    rejected.extend(selection.rejected)
    suggestions = _suggestions(workload, selection, sizes, evidence, workload.tables)
    failures = dict(oracle.failures)
    skipped.extend((item, failures[item.id]) for item in items if item.id in failures)
    if skipped:
        notices.append(_skipped_notice(skipped))
    if not items:
        notices.append(
            Notice(
                feature="suggest",
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
        **stats,
    )
    return Advice(
        suggestions=tuple(suggestions),
        findings=tuple(health),
        rejected=tuple(rejected),
        notices=tuple(notices),
        extra=extra,
    )


def _no_hypopg_notice(server: ServerFacts) -> Notice:
    major = server.version // 10000
    return Notice(
        feature="suggest",
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


# -- the workload ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerFacts:
    database: str
    search_path: tuple[str, ...]
    version: int
    hypopg: str | None
    hypopg_available: bool


@dataclass(frozen=True, slots=True)
class BuiltWorkload:
    server: ServerFacts
    workload: Workload
    #: every statement considered, and those that could not be analyzed (with why)
    items: tuple[_Item, ...]
    skipped: list[tuple[_Item, str]]
    #: statements no index can help (utility commands, INSERT … VALUES)
    not_indexable: int = 0


def default_settings(version: int) -> AdvisorSettings:
    """INCLUDE exists from PostgreSQL 11."""
    return AdvisorSettings(covering="include" if version >= 110000 else "none")


async def build_workload(
    conn: asyncpg.Connection,
    statements: Sequence[Statement],
    sessions: Sequence[Session] = (),
    recorded_ms: float | None = None,
) -> BuiltWorkload:
    """The statements of ``conn``'s database, parsed and resolved, with their tables' facts."""
    row = await conn.fetchrow(
        """
        SELECT /* dbtop */ current_database() AS db,
               current_setting('search_path') AS search_path,
               current_setting('server_version_num')::int AS version,
               (SELECT extversion FROM pg_extension WHERE extname = 'hypopg') AS hypopg,
               EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hypopg')
                   AS hypopg_available
        """
    )
    server = ServerFacts(
        database=row["db"],
        search_path=tuple(_search_path(row["search_path"])),
        version=row["version"],
        hypopg=row["hypopg"],
        hypopg_available=row["hypopg_available"],
    )
    items = _workload_items(server.database, statements, sessions)
    parsed, skipped, not_indexable = _parse_all(items)
    catalog, facts = await _catalog(conn, parsed, server.search_path)
    queries: list[QueryInfo] = []
    for item, _names in parsed:
        try:
            accesses = analyze(item.text, catalog, item.user)
        except NothingToIndex:
            not_indexable += 1
            continue
        except NotAnalyzable as err:
            skipped.append((item, str(err)))
            continue
        if not accesses:
            continue  # system catalogs, views, functions: nothing of ours to index
        queries.append(
            QueryInfo(
                id=item.id,
                text=item.text,
                calls=item.calls,
                total_ms=item.total_ms,
                accesses=accesses,
                extra=frozen(source=item.source, params=param_count(item.text)),
            )
        )
    listed_ms = sum(i.total_ms for i in items)
    # Shares are of everything pg_stat_statements recorded for this database when the
    # caller knows it (the snapshot lists the top statements only), plus the running
    # sessions' time so far.
    session_ms = sum(i.total_ms for i in items if i.source == "session")
    total_ms = max(listed_ms, (recorded_ms or 0.0) + session_ms)
    workload = Workload(tuple(queries), facts, total_ms=total_ms)
    return BuiltWorkload(server, workload, tuple(items), skipped, not_indexable)


def _workload_items(
    database: str, statements: Sequence[Statement], sessions: Sequence[Session]
) -> list[_Item]:
    items: list[_Item] = []
    for stmt in statements:
        if stmt.database not in (None, database) or not stmt.query or stmt.total_ms <= 0:
            continue
        if is_own(stmt.query):
            continue  # the advisor's own EXPLAINs and catalog reads of an earlier run
        items.append(_Item(stmt.id, stmt.query, stmt.calls, stmt.total_ms, stmt.user, "statements"))
    for session in sessions:
        if (
            session.is_self
            or session.is_idle
            or not session.query
            or session.database not in (None, database)
            or (session.kind not in (None, "client backend"))
        ):
            continue
        # a running query weighs what it has cost so far
        duration_ms = max((session.duration_s or 0.0) * 1000.0, 1.0)
        items.append(
            _Item(
                f"session:{session.id}",
                session.query,
                1,
                duration_ms,
                session.user,
                "session",
            )
        )
    return items


def _parse_all(
    items: Sequence[_Item],
) -> tuple[list[tuple[_Item, set[tuple[str | None, str]]]], list[tuple[_Item, str]], int]:
    parsed = []
    skipped = []
    not_indexable = 0
    for item in items:
        try:
            parsed.append((item, relation_names(item.text)))
        except NothingToIndex:
            not_indexable += 1
        except NotAnalyzable as err:
            skipped.append((item, str(err)))
    return parsed, skipped, not_indexable


def _search_path(setting: str) -> list[str]:
    path = []
    for part in setting.split(","):
        part = part.strip()
        if part.startswith('"') and part.endswith('"'):
            part = part[1:-1].replace('""', '"')
        if part:
            path.append(part)
    return path


def _skipped_notice(skipped: Sequence[tuple[_Item, str]]) -> Notice:
    hidden = [item for item, _ in skipped if item.text.strip() == HIDDEN_TEXT]
    if hidden:
        return Notice(
            feature="suggest",
            message=f"{len(hidden)} statement(s) of other roles are hidden from this role "
            f"(pg_stat_statements shows {HIDDEN_TEXT}) and were not analyzed",
            hint="GRANT pg_read_all_stats TO this role to advise on the whole workload",
            severity=Severity.WARNING,
        )
    item, why = skipped[0]
    text = " ".join(item.text.split())
    example = text[:80] + ("…" if len(text) > 80 else "")
    return Notice(
        feature="suggest",
        message=f"{len(skipped)} statement(s) could not be analyzed, e.g. {example!r}: {why}",
        hint="statements that do not parse (truncated by track_activity_query_size) or that "
        "the planner rejects are left out of the advice",
        severity=Severity.INFO,
    )


# -- the catalog ----------------------------------------------------------------------------

_TABLES_SQL = """
SELECT /* dbtop */ c.oid, n.nspname, c.relname, c.reltuples::float8 AS reltuples,
       s.n_live_tup, pg_relation_size(c.oid) AS size
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm')
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
      AND st.attname = a.attname AND NOT st.inherited
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
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


async def _catalog(
    conn: asyncpg.Connection,
    parsed: Sequence[tuple[_Item, set[tuple[str | None, str]]]],
    search_path: Sequence[str],
) -> tuple[Catalog, dict[TableRef, TableFacts]]:
    names = sorted({name for _, rels in parsed for _, name in rels})
    if not names:
        return Catalog((), search_path), {}
    tables = await conn.fetch(_TABLES_SQL, names)
    oids = [row["oid"] for row in tables]
    columns: dict[int, dict[str, ColumnFacts]] = {oid: {} for oid in oids}
    for row in await conn.fetch(_COLUMNS_SQL, oids):
        columns[row["attrelid"]][row["attname"]] = ColumnFacts(
            name=row["attname"],
            n_distinct=row["n_distinct"],
            null_frac=row["null_frac"] or 0.0,
            avg_width=row["avg_width"],
            max_frequency=row["max_frequency"],
        )
    refs = {row["oid"]: TableRef(row["nspname"], row["relname"]) for row in tables}
    existing: dict[int, list[ExistingIndex]] = {oid: [] for oid in oids}
    for row in await conn.fetch(_INDEXES_SQL, oids):
        keys = row["indnkeyatts"]
        cols = tuple(row["columns"])
        options = tuple(row["options"] or ())
        existing[row["indrelid"]].append(
            ExistingIndex(
                name=row["name"],
                table=refs[row["indrelid"]],
                columns=cols[:keys],
                include=tuple(c for c in cols[keys:] if c is not None),
                descending=tuple(bool(o & 1) for o in options[:keys]),
                where=predicate_conjuncts(row["predicate"]),
                method=row["amname"],
                valid=row["indisvalid"],
                unique=row["indisunique"],
            )
        )
    facts: dict[TableRef, TableFacts] = {}
    infos = []
    for row in tables:
        ref = refs[row["oid"]]
        rows = row["reltuples"]
        if rows is None or rows < 0:  # never analyzed: the live-tuple counter is all we have
            rows = float(row["n_live_tup"] or 0)
        facts[ref] = TableFacts(
            table=ref,
            rows=rows,
            size_bytes=row["size"],
            columns=columns[row["oid"]],
            indexes=tuple(existing[row["oid"]]),
        )
        infos.append(TableInfo(ref, frozenset(columns[row["oid"]])))
    return Catalog(infos, search_path), facts


def predicate_conjuncts(predicate: str | None) -> tuple[str, ...]:
    """A partial index's predicate as the conjuncts the workload parser writes."""
    if not predicate:
        return ()
    try:
        (raw,) = parse_sql(f"SELECT WHERE {predicate}")
    except (ParseError, ValueError):
        return (predicate,)
    where = raw.stmt.whereClause
    parts = (
        where.args
        if isinstance(where, ast.BoolExpr) and where.boolop == BoolExprType.AND_EXPR
        else (where,)
    )
    return tuple(sorted(str(RawStream()(part)) for part in parts))


# -- DDL ------------------------------------------------------------------------------------


def index_name(cand: Candidate, taken: set[str]) -> str:
    """``table_col1_col2_idx`` as PostgreSQL names them, kept under 63 bytes and unique."""
    base = "_".join((cand.table.name, *cand.columns))
    if cand.where:
        base += "_partial"
    name = f"{base}_idx"
    if len(name.encode()) > 63:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{base.encode()[:50].decode(errors='ignore')}_{digest}_idx"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name[:59]}{n}"
    taken.add(candidate)
    return candidate


def create_statement(cand: Candidate, name: str) -> str:
    body = index_body(cand).replace(" USING btree ", " ")
    return f"CREATE INDEX CONCURRENTLY {quote_ident(name)} {body};"


# -- without hypopg: what the current plans say ---------------------------------------------


async def _plan_analysis(
    oracle: PlannerOracle,
    workload: Workload,
    candidates: Sequence[Candidate],
    settings: AdvisorSettings,
) -> tuple[list[Candidate], list[Rejection], dict[str, float], dict[Candidate, str]]:
    """Candidates of the (statement, table) pairs whose plan reads the table badly, and
    that evidence per candidate."""
    wanted: dict[tuple[str, TableRef], str] = {}
    plan_costs: dict[str, float] = {}
    plans = await oracle.current_plans(workload.queries, verbose=True)
    for query in workload.queries:
        plan = plans.get(query.id)
        if plan is None:
            continue
        plan_costs[query.id] = float(plan["Total Cost"])
        for table, why in _bad_reads(plan, workload, settings):
            wanted.setdefault((query.id, table), why)
    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    evidence: dict[Candidate, str] = {}
    for cand in candidates:
        reasons = [wanted[(q, cand.table)] for q in cand.queries if (q, cand.table) in wanted]
        if reasons:
            kept.append(cand)
            evidence[cand] = reasons[0]
        else:
            rejected.append(
                cand.rejection(
                    f"the current plans do not read {cand.table.key} with a sequential scan "
                    "that filters most rows (checked without hypopg)"
                )
            )
    return kept, rejected, plan_costs, evidence


def _bad_reads(
    plan: Mapping[str, Any], workload: Workload, settings: AdvisorSettings
) -> Iterable[tuple[TableRef, str]]:
    def walk(node: Mapping[str, Any], under_sort_limit: bool) -> Iterable[tuple[TableRef, str]]:
        kind = node.get("Node Type", "")
        if kind == "Seq Scan" and "Relation Name" in node:
            ref = TableRef(node.get("Schema"), node["Relation Name"])
            facts = workload.tables.get(ref)
            if facts is not None and facts.rows >= settings.min_rows:
                kept = float(node.get("Plan Rows", 0))
                if "Filter" in node and kept / max(facts.rows, 1.0) <= SEQ_SCAN_KEEPS:
                    yield (
                        ref,
                        f"Seq Scan on {ref.key} keeps about {kept:,.0f} of "
                        f"{facts.rows:,.0f} rows (Filter: {node['Filter']})",
                    )
                elif under_sort_limit:
                    yield ref, f"Seq Scan on {ref.key} feeds a sort under a LIMIT"
        child_flag = (under_sort_limit or kind == "Limit") and kind in (
            "Limit",
            "Sort",
            "Incremental Sort",
            "Gather Merge",
            "Gather",
        )
        for child in node.get("Plans", ()):
            yield from walk(child, child_flag if kind != "Limit" else True)

    yield from walk(plan, False)


def _with_plan_costs(selection: Selection, plan_costs: Mapping[str, float]) -> Selection:
    """Unverified choices report today's planner cost and no cost after."""
    chosen = []
    for choice in selection.chosen:
        effects = tuple(
            Effect(e.query_id, e.share, plan_costs.get(e.query_id, float("nan")), float("nan"))
            for e in choice.effects
        )
        chosen.append(Choice(choice.candidate, effects, choice.benefit))
    return Selection(
        chosen=tuple(chosen),
        rejected=selection.rejected,
        cost_before=selection.cost_before,
        cost_after=selection.cost_after,
        evaluations=selection.evaluations,
    )


# -- suggestions ----------------------------------------------------------------------------


def _suggestions(
    workload: Workload,
    selection: Selection,
    sizes: Mapping[Candidate, int],
    evidence: Mapping[Candidate, str],
    facts: Mapping[TableRef, TableFacts],
) -> list[Suggestion]:
    """Model suggestions; ``evidence`` holds the plan finding behind each unverified one
    (empty when hypopg verified them all)."""
    taken = {index.name for table in facts.values() for index in table.indexes}
    result = []
    for choice in selection.chosen:
        cand = choice.candidate
        shares = []
        for effect in choice.effects:
            query = workload.query(effect.query_id)
            shares.append(
                QueryShare(
                    query=query.text,
                    share=effect.share,
                    calls=query.calls,
                    cost_before=_number(effect.cost_before),
                    cost_after=_number(effect.cost_after),
                    id=query.id,
                )
            )
        before = _sum(q.cost_before for q in shares)
        after = _sum(q.cost_after for q in shares)
        share = sum(q.share for q in shares)
        what = "; ".join(cand.origin)
        verified = cand not in evidence
        if verified:
            reason = (
                f"{what}. With it (hypothetically) {len(shares)} statement(s), "
                f"{share:.1%} of the workload's time, cost {before:,.1f} → {after:,.1f} "
                f"in the planner's estimate"
            )
        else:
            reason = (
                f"{what}. {len(shares)} statement(s), {share:.1%} of the workload's time; "
                f"{evidence[cand]}. Not verified (hypopg is not installed)"
            )
        name = index_name(cand, taken)
        result.append(
            Suggestion(
                table=cand.table.name,
                schema=cand.table.schema,
                columns=cand.columns,
                include=cand.include,
                where=" AND ".join(cand.where) or None,
                statement=create_statement(cand, name),
                verified=verified,
                reason=reason,
                cost_before=before,
                cost_after=after if verified else None,
                size_bytes=sizes.get(cand),
                queries=tuple(shares),
                extra=frozen(
                    name=name,
                    method=cand.method,
                    descending=[cand.is_descending(i) for i in range(len(cand.columns))],
                    benefit=round(choice.benefit, 6),
                    workload_share=round(share, 6),
                ),
            )
        )
    return result


def _number(value: float | None) -> float | None:
    if value is None or value != value:
        return None
    return round(value, 2)


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known), 2) if known else None
