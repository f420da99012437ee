"""What suggest reads before the advisor decides: the workload's query shapes (the
profiler's totals, plus the query operations running now) and the facts of the collections
they read (documents, size, index specs)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dbtop.engines.mongodb import indexes
from dbtop.engines.mongodb.advice import CollectionFacts, ShapeWork
from dbtop.engines.mongodb.connection import Connection
from dbtop.engines.mongodb.sessions import Parsed
from dbtop.engines.mongodb.shapes import shape_of_entry
from dbtop.engines.mongodb.statements import ShapeStats
from dbtop.engines.mongodb.summary import integer, section
from dbtop.engines.sections import Sections
from dbtop.model import Feature, Finding, Notice, Session, Snapshot


@dataclass(frozen=True, slots=True)
class Workload:
    """What the advisor gets: the shapes, their collections' facts, the index findings of
    the snapshot, and the notices that qualify the advice."""

    works: list[ShapeWork]
    facts: dict[tuple[str, str], CollectionFacts]
    findings: list[Finding]
    notices: list[Notice]


async def gather(
    conn: Connection,
    snapshot: Snapshot,
    shapes: Iterable[ShapeStats],
    ops: Mapping[str, Parsed],
    sections: Sections,
) -> Workload:
    works = workloads(shapes, snapshot.sessions, ops)
    facts = await facts_of(conn, works, sections)
    return Workload(
        works=works,
        facts=facts,
        findings=[f for f in snapshot.findings if f.kind in HEALTH_FINDINGS],
        notices=[*snapshot.capabilities.notices_for(Feature.STATEMENTS), *sections.notices],
    )


#: the findings suggest passes on to the advisor
HEALTH_FINDINGS = ("unused_index", "redundant_index", "collscan")
#: collections read for suggest at most
MAX_SUGGEST_COLLECTIONS = 50
#: operations that read documents through a query plan (what suggest looks at)
QUERY_OPS = frozenset(
    {"find", "aggregate", "count", "distinct", "update", "delete", "findAndModify", "getMore"}
)


def workloads(
    shapes: Iterable[ShapeStats], sessions: Iterable[Session], ops: Mapping[str, Parsed]
) -> list[ShapeWork]:
    """The profiler's shapes, then the query operations running now that it has not seen."""
    works = [
        ShapeWork(
            shape=stats.shape,
            calls=stats.calls,
            total_ms=stats.total_ms,
            docs_examined=stats.docs_examined,
            keys_examined=stats.keys_examined,
            nreturned=stats.nreturned,
            collscans=stats.collscans,
            in_memory_sorts=stats.sort_stages,
            plan_summary=stats.plan_summary,
        )
        for stats in shapes
    ]
    known = {w.shape.id for w in works}
    for session in sessions:
        op = ops.get(session.id)
        if op is None or session.is_self or session.is_idle or op.internal:
            continue
        shape = shape_of_entry(op.doc)
        if shape.id in known or shape.op not in QUERY_OPS:
            continue
        known.add(shape.id)
        works.append(
            ShapeWork(
                shape=shape,
                calls=1,
                total_ms=max((session.duration_s or 0.0) * 1000, 1.0),
                plan_summary=session.extra.get("plan_summary"),
                source="currentOp",
            )
        )
    return works


async def collection_facts(conn: Connection, database: str, collection: str) -> CollectionFacts:
    client = conn.require()

    async def specs() -> list[dict[str, Any]]:
        cursor = await client[database][collection].list_indexes()
        docs: list[dict[str, Any]] = await cursor.to_list(None)
        return docs

    index_docs, stats_docs = await asyncio.gather(
        conn.timed(specs()), indexes.collstats(conn, database, collection)
    )
    documents = sum(integer(section(d, "storageStats").get("count")) or 0 for d in stats_docs)
    size = sum(integer(section(d, "storageStats").get("size")) or 0 for d in stats_docs)
    return CollectionFacts(
        database=database,
        name=collection,
        documents=float(documents),
        size_bytes=size or None,
        indexes=tuple(index_docs),
    )


async def facts_of(
    conn: Connection, works: Iterable[ShapeWork], sections: Sections
) -> dict[tuple[str, str], CollectionFacts]:
    """The facts of the collections the shapes read (a collection that cannot be read is
    a notice, the others still count)."""
    wanted: list[tuple[str, str]] = []
    for work in works:
        shape = work.shape
        if shape.database and shape.collection:
            key = (shape.database, shape.collection)
            if key not in wanted:
                wanted.append(key)
    wanted = wanted[:MAX_SUGGEST_COLLECTIONS]
    results = await asyncio.gather(
        *(
            sections.read(Feature.SUGGEST, f"{db}.{coll}", collection_facts(conn, db, coll), None)
            for db, coll in wanted
        )
    )
    return {key: fact for key, fact in zip(wanted, results, strict=True) if fact is not None}
