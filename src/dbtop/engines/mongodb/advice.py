"""Suggest: compound indexes in Equality, Sort, Range order for the shapes that read badly.

A shape is a candidate when the evidence says an index would help: it examines far more
documents than it returns, it reads the collection (COLLSCAN), or it sorts in memory. Its
index is the ESR rule applied to its filter and sort:

1. the equality fields (and the ``$in`` fields when nothing is sorted), most of the work;
2. the sort fields, in the sort's directions, so documents come out in order;
3. the range fields (and ``$in`` fields when something is sorted), which then only narrow the
   scan.

A candidate whose fields an existing index already serves through its prefix is dropped with
that reason; a candidate that is a prefix of another candidate is folded into the longer one
(one index serves both shapes). The engine-neutral selection (``dbtop.analysis.advisor``)
then chooses a small set by the share of time each saves, with the heuristic cost model:
MongoDB has no hypothetical indexes, so suggestions are estimates, marked unverified.

Pure: the engine supplies the shapes with their figures and the collections' facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dbtop.analysis.advisor import (
    AccessBuilder,
    AdvisorSettings,
    Candidate,
    Draft,
    ExistingIndex,
    HeuristicOracle,
    Prepared,
    QueryInfo,
    Selection,
    SortKey,
    TableAccess,
    TableFacts,
    TableRef,
    Workload,
    advise,
    select,
    served_by,
)
from dbtop.analysis.advisor.candidates import serves
from dbtop.engines.mongodb import shell
from dbtop.engines.mongodb.indexes import collection_prefix, index_type, key_fields
from dbtop.engines.mongodb.shapes import QueryShape
from dbtop.model import Advice, Feature, Finding, Notice, Rejection, Severity, frozen

#: docsExamined / nreturned at or above this is "far more documents than it returns"
SCAN_RATIO = 10.0
#: ... when each call examines at least this many documents
MIN_DOCS_PER_CALL = 100
#: MongoDB settings for the engine-neutral core: no INCLUDE, collections this small are
#: read fast enough without an index
SETTINGS = AdvisorSettings(covering="none", min_rows=1_000, max_key_columns=6)


@dataclass(frozen=True, slots=True)
class ShapeWork:
    """A query shape and what it cost: from the profiler, or one running operation."""

    shape: QueryShape
    calls: int
    total_ms: float
    docs_examined: int = 0
    keys_examined: int = 0
    nreturned: int = 0
    collscans: int = 0
    in_memory_sorts: int = 0
    plan_summary: str | None = None
    source: str = "system.profile"


@dataclass(frozen=True, slots=True)
class CollectionFacts:
    database: str
    name: str
    documents: float
    size_bytes: int | None
    #: listIndexes documents (key, name, unique, sparse, partialFilterExpression …)
    indexes: tuple[Mapping[str, object], ...] = ()


def evidence(work: ShapeWork) -> str | None:
    """Why this shape wants an index, or None when it reads well enough."""
    reasons = []
    if work.docs_examined and work.calls:
        per_call = work.docs_examined / work.calls
        ratio = work.docs_examined / max(work.nreturned, 1)
        if ratio >= SCAN_RATIO and per_call >= MIN_DOCS_PER_CALL:
            reasons.append(
                f"examines {ratio:,.0f} documents per document returned ({per_call:,.0f} per call)"
            )
    plan = work.plan_summary or ""
    if work.collscans or "COLLSCAN" in plan:
        count = f"{work.collscans} of {work.calls} calls" if work.collscans else "its plan"
        reasons.append(f"reads the whole collection (COLLSCAN: {count})")
    if work.in_memory_sorts:
        reasons.append(f"sorts in memory ({work.in_memory_sorts} of {work.calls} calls)")
    return "; ".join(reasons) or None


@dataclass(frozen=True, slots=True)
class EsrKey:
    fields: tuple[str, ...]
    directions: tuple[int, ...]
    #: leading fields compared with single values (their order does not matter)
    lookups: int
    why: str
    #: trailing range fields (their direction does not matter)
    ranges: int = 0


def esr_key(shape: QueryShape, max_fields: int = SETTINGS.max_key_columns) -> EsrKey | None:
    """The compound index the ESR rule gives for a shape, None when it has no field."""
    sort_fields = [f for f, _ in shape.sort if f not in shape.equality]
    equality = list(dict.fromkeys(shape.equality))
    in_fields = [f for f in shape.in_list if f not in equality and f not in sort_fields]
    if not sort_fields:
        equality += in_fields  # a $in without a sort is a few equality lookups
        in_fields = []
    ranges = [
        f
        for f in dict.fromkeys((*in_fields, *shape.range))
        if f not in equality and f not in sort_fields
    ]
    fields: list[str] = []
    directions: list[int] = []
    for field in equality:
        fields.append(field)
        directions.append(1)
    sort_dir = dict(shape.sort)
    for field in sort_fields:
        if field not in fields:
            fields.append(field)
            directions.append(sort_dir[field])
    for field in ranges:
        if field not in fields:
            fields.append(field)
            directions.append(1)
    if not fields:
        return None
    fields, directions = fields[:max_fields], directions[:max_fields]
    parts = []
    if equality:
        parts.append("equality on " + ", ".join(equality))
    if sort_fields:
        parts.append("sort on " + ", ".join(sort_fields))
    if ranges:
        parts.append("range on " + ", ".join(ranges))
    return EsrKey(
        tuple(fields),
        tuple(directions),
        min(len(equality), len(fields)),
        "ESR: " + ", then ".join(parts),
        ranges=max(len(fields) - len(equality) - len(sort_fields), 0),
    )


def key_document(fields: Sequence[str], directions: Sequence[int]) -> dict[str, int]:
    return dict(zip(fields, directions, strict=True))


def create_index_statement(
    table: TableRef, fields: Sequence[str], directions: Sequence[int]
) -> str:
    key = shell.value_text(key_document(fields, directions), 500)
    return f"{collection_prefix(table.schema or 'test', table.name)}.createIndex({key})"


def existing_indexes(facts: CollectionFacts, table: TableRef) -> tuple[ExistingIndex, ...]:
    out = []
    for spec in facts.indexes:
        key = key_fields(spec.get("key"))
        if not key:
            continue
        kind = index_type(key)
        where: tuple[str, ...] = ()
        if isinstance(spec.get("partialFilterExpression"), Mapping):
            where = ("partial " + shell.value_text(spec["partialFilterExpression"], 200),)
        elif spec.get("sparse"):
            where = ("sparse",)
        out.append(
            ExistingIndex(
                name=str(spec.get("name", "?")),
                table=table,
                columns=tuple(f for f, _ in key),
                descending=tuple(isinstance(d, int | float) and d < 0 for _, d in key),
                where=where,
                method=kind,
                valid=not spec.get("hidden"),
                unique=bool(spec.get("unique")),
            )
        )
    return tuple(out)


def _access(shape: QueryShape, table: TableRef) -> TableAccess:
    access = AccessBuilder(
        table,
        equality=list(shape.equality),
        in_list=list(shape.in_list),
        range=list(shape.range),
        order_by=[SortKey(f, d < 0) for f, d in shape.sort if f not in shape.equality],
        limit=shape.limit,
        star=True,
    )
    return access.build()


def _range_variants(cand: Candidate, ranges: int) -> list[Candidate]:
    """The candidate with its trailing range fields in either direction: a range is served
    the same scanned forwards or backwards."""
    if not ranges:
        return [cand]
    width = len(cand.columns)
    head = tuple(cand.is_descending(i) for i in range(width - ranges))
    return [
        replace(cand, descending=(*head, *((flag,) * ranges)) if any((*head, flag)) else ())
        for flag in (False, True)
    ]


def _served(indexes: Sequence[ExistingIndex], cand: Candidate, ranges: int) -> ExistingIndex | None:
    for variant in _range_variants(cand, ranges):
        index, _ = served_by(indexes, variant)
        if index is not None:
            return index
    return None


def _fold_prefixes(candidates: list[Candidate]) -> list[Candidate]:
    """A candidate served by a longer candidate's prefix joins that one."""
    ordered = sorted(candidates, key=lambda c: (-len(c.columns), c.label))
    kept: list[Candidate] = []
    for cand in ordered:
        home = None
        for index, longer in enumerate(kept):
            if longer.table != cand.table:
                continue
            as_index = ExistingIndex(
                name=longer.label,
                table=longer.table,
                columns=longer.columns,
                descending=longer.descending,
            )
            if serves(as_index, cand):
                home = index
                break
        if home is None:
            kept.append(cand)
        else:
            longer = kept[home]
            kept[home] = replace(
                longer,
                queries=longer.queries | cand.queries,
                origin=tuple(dict.fromkeys((*longer.origin, *cand.origin))),
            )
    return kept


async def suggest(
    works: Sequence[ShapeWork],
    facts: Mapping[tuple[str, str], CollectionFacts],
    *,
    findings: Sequence[Finding] = (),
    notices: Sequence[Notice] = (),
    settings: AdvisorSettings = SETTINGS,
) -> Advice:
    """Suggestions for the shapes with evidence, plus the index findings passed through."""
    total_ms = sum(w.total_ms for w in works) or None
    queries: list[QueryInfo] = []
    keys: dict[str, EsrKey] = {}
    reasons: dict[str, str] = {}
    rejected: list[Rejection] = []
    shapes_by_id: dict[str, ShapeWork] = {}
    tables: dict[TableRef, TableFacts] = {}
    unindexable = 0
    for work in works:
        shape = work.shape
        why = evidence(work)
        if why is None or not shape.database or not shape.collection:
            continue
        if not shape.indexable:
            unindexable += 1
            continue
        key = esr_key(shape, settings.max_key_columns)
        if key is None:
            continue
        table = TableRef(shape.database, shape.collection)
        fact = facts.get((shape.database, shape.collection))
        if fact is None:
            continue
        tables.setdefault(
            table,
            TableFacts(
                table=table,
                rows=fact.documents,
                size_bytes=fact.size_bytes,
                indexes=existing_indexes(fact, table),
            ),
        )
        queries.append(
            QueryInfo(
                id=shape.id,
                text=shape.text,
                calls=max(work.calls, 1),
                total_ms=max(work.total_ms, 0.001),
                accesses=(_access(shape, table),),
                extra=frozen(source=work.source),
            )
        )
        keys[shape.id] = key
        reasons[shape.id] = why
        shapes_by_id[shape.id] = work
    candidates: list[Candidate] = []
    for query in queries:
        key = keys[query.id]
        table = query.accesses[0].table
        cand = Candidate(
            table=table,
            columns=key.fields,
            descending=tuple(d < 0 for d in key.directions)
            if any(d < 0 for d in key.directions)
            else (),
            lookups=key.lookups,
            queries=frozenset({query.id}),
            origin=(key.why,),
        )
        facts_of = tables[table]
        if facts_of.rows < settings.min_rows:
            rejected.append(
                cand.rejection(
                    f"small collection: {table.key} has about {facts_of.rows:,.0f} documents "
                    f"(fewer than {settings.min_rows:,}), a collection scan reads it quickly"
                )
            )
            continue
        index = _served(facts_of.indexes, cand, key.ranges)
        if index is not None:
            rejected.append(
                cand.rejection(f"already served by index {index.name} through its prefix")
            )
            continue
        candidates.append(cand)
    candidates = _fold_prefixes(candidates)
    workload = Workload(tuple(queries), tables, total_ms=total_ms)
    selection: Selection = await select(workload, candidates, HeuristicOracle(workload), settings)
    rejected.extend(selection.rejected)
    out_notices = list(notices)
    if unindexable:
        out_notices.append(
            Notice(
                feature=Feature.SUGGEST,
                message=(
                    f"{unindexable} slow shape(s) use $or, $text, $where, $expr, geo operators "
                    "or were truncated: one compound index cannot serve them"
                ),
                hint="look at them in the Slow queries pane; $or branches each want an index",
                severity=Severity.INFO,
            )
        )
    if queries:
        out_notices.append(
            Notice(
                feature=Feature.SUGGEST,
                message=(
                    "MongoDB has no hypothetical indexes: suggestions are estimated from the "
                    "profiler's figures, not verified by the planner"
                ),
                hint="after creating one, check the shape's plan with explain",
                severity=Severity.INFO,
            )
        )
    prepared = Prepared(
        workload,
        selection.chosen,
        rejected=rejected,
        findings=findings,
        notices=out_notices,
        extra=frozen(
            statements=len(works),
            analyzed=len(queries),
            candidates=len(candidates),
            evaluations=selection.evaluations,
            estimate="heuristic (rows touched)",
            verification=(
                "estimated, not costed: MongoDB has no hypothetical indexes, so no plan can be "
                "costed with an index that does not exist; ranked from the profiler's "
                "documents examined and returned"
            ),
        ),
    )
    return advise(prepared, _Dialect(shapes_by_id, reasons))


@dataclass(frozen=True, slots=True)
class _Dialect:
    """``reasons``: each shape's evidence; MongoDB names the index itself."""

    shapes: Mapping[str, ShapeWork]
    reasons: Mapping[str, str]

    @property
    def naming(self) -> None:
        return None

    def statement(self, cand: Candidate, name: str | None) -> str:
        return create_index_statement(cand.table, cand.columns, _directions(cand))

    def verified(self, cand: Candidate) -> bool:
        return False

    def drop(self, index: ExistingIndex, cand: Candidate) -> str:
        prefix = collection_prefix(index.table.schema or "", index.table.name)
        return f"{prefix}.dropIndex({shell.quote(index.name)})"

    def _evidence(self, draft: Draft) -> tuple[str, ...]:
        lines = (self.reasons.get(i, "") for i in _query_ids(draft))
        return tuple(line for line in lines if line)

    def reason(self, draft: Draft) -> str:
        first = next(iter(self._evidence(draft)), "")
        return (
            f"{draft.origin}. Helps {len(draft.queries)} shape(s), {draft.share:.1%} of the "
            f"slow queries' time; {first}. Estimated, not verified (MongoDB has no "
            "hypothetical indexes)"
        )

    def extra(self, draft: Draft) -> Mapping[str, Any]:
        cand = draft.candidate
        directions = _directions(cand)
        return {
            "key": shell.value_text(key_document(cand.columns, directions), 300),
            "directions": directions,
            "evidence": self._evidence(draft),
            "sources": tuple(
                sorted({self.shapes[i].source for i in _query_ids(draft) if i in self.shapes})
            ),
        }


def _directions(cand: Candidate) -> tuple[int, ...]:
    return tuple(-1 if cand.is_descending(i) else 1 for i in range(len(cand.columns)))


def _query_ids(draft: Draft) -> list[str]:
    return [effect.query_id for effect in draft.choice.effects]
