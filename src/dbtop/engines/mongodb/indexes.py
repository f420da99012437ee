"""The Indexes pane: $indexStats and $collStats for the largest collections only.

A server can hold thousands of collections; reading every one each second would be the
monitor making the incident worse. So the ``catalog`` knows the collections and learns their
sizes a few per poll, and only its ``TOP`` largest collections get ``$collStats`` (sizes,
document count, collection scans) and ``$indexStats`` (accesses since the server started or
the index was built) at every poll.

From those rows come the findings: unused indexes (no access since a stated time, long ago
enough to mean something), indexes whose key is a prefix of another's (the longer one serves
the same queries), and collections read by collection scans.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pymongo.errors import PyMongoError

from dbtop.engines.mongodb import shell, values
from dbtop.engines.mongodb.capabilities import StickyNotices
from dbtop.engines.mongodb.catalog import MAX_COLLECTIONS, MAX_DATABASES, Catalog
from dbtop.engines.mongodb.connection import (
    COMMAND_NOT_SUPPORTED_ON_VIEW,
    MONITOR_ROLE_HINT,
    NAMESPACE_NOT_FOUND,
    Connection,
    is_code,
    is_connection_error,
    is_unauthorized,
)
from dbtop.engines.mongodb.summary import integer, number, section
from dbtop.engines.sections import Sections
from dbtop.model import Feature, Finding, IndexStat, Notice, Severity, TableStat, frozen

#: an index without access is called unused only once its statistics are this old
UNUSED_MIN_AGE_S = 24 * 3600.0
#: collections smaller than this are not worth a collection-scan finding
COLLSCAN_MIN_DOCS = 10_000


# -- $collStats -------------------------------------------------------------------------------

COLLSTATS_PIPELINE: tuple[dict[str, Any], ...] = (
    {"$collStats": {"storageStats": {}, "queryExecStats": {}}},
)
INDEXSTATS_PIPELINE: tuple[dict[str, Any], ...] = ({"$indexStats": {}},)


def ranking_size(docs: Sequence[Mapping[str, Any]]) -> int:
    """What collections are ranked by: data plus indexes, summed over shards."""
    total = 0
    for doc in docs:
        storage = section(doc, "storageStats")
        total += integer(storage.get("totalSize")) or (
            (integer(storage.get("size")) or 0) + (integer(storage.get("totalIndexSize")) or 0)
        )
    return total


def table_stat(
    database: str, name: str, docs: Sequence[Mapping[str, Any]], index_ops: int | None
) -> TableStat:
    """One row per collection, figures summed over the shards that reported it."""
    count = size = storage_size = index_size = 0
    scans = nontailable = 0
    have_scans = False
    capped = False
    nodes: list[str] = []
    for doc in docs:
        storage = section(doc, "storageStats")
        count += integer(storage.get("count")) or 0
        size += integer(storage.get("size")) or 0
        storage_size += integer(storage.get("storageSize")) or 0
        index_size += integer(storage.get("totalIndexSize")) or 0
        capped = capped or bool(storage.get("capped"))
        collscans = section(doc, "queryExecStats", "collectionScans")
        if collscans:
            have_scans = True
            scans += integer(collscans.get("total")) or 0
            nontailable += integer(collscans.get("nonTailable")) or 0
        node = values.text(doc.get("shard")) or values.text(doc.get("host"))
        if node and node not in nodes:
            nodes.append(node)
    return TableStat(
        schema=database,
        table=name,
        seq_scans=scans if have_scans else None,
        seq_rows_read=None,
        index_scans=index_ops,
        live_rows=count,
        size_bytes=storage_size or size,
        node=",".join(nodes) or None,
        extra=frozen(
            data_size=size,
            storage_size=storage_size,
            total_index_size=index_size,
            avg_obj_size=round(size / count) if count else None,
            capped=capped,
            collscans_nontailable=nontailable if have_scans else None,
            shards=tuple(values.text(d.get("shard")) for d in docs if d.get("shard")) or None,
        ),
    )


def index_sizes(docs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for doc in docs:
        for name, size in section(doc, "storageStats", "indexSizes").items():
            sizes[str(name)] += integer(size) or 0
    return dict(sizes)


# -- $indexStats ------------------------------------------------------------------------------


def key_fields(key: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(key, Mapping):
        return ()
    return tuple((str(field), direction) for field, direction in key.items())


def index_type(key: Sequence[tuple[str, Any]]) -> str:
    """``btree`` for ascending / descending keys, else the special kind (text, 2dsphere …)."""
    for field, direction in key:
        if field == "$**" or field.endswith(".$**"):
            return "wildcard"
        if isinstance(direction, str):
            return direction
    return "btree"


def key_text(key: Any) -> str:
    return shell.value_text(key, 300) if isinstance(key, Mapping) else "?"


def collection_prefix(database: str, collection: str) -> str:
    return f"db.getSiblingDB({shell.quote(database)})" + shell.collection_ref(collection)[2:]


def create_index_text(
    database: str, collection: str, key: Mapping[str, Any], options: Mapping[str, Any]
) -> str:
    args = [shell.value_text(key, 500)]
    if options:
        args.append(shell.value_text(dict(options), 500))
    return f"{collection_prefix(database, collection)}.createIndex({', '.join(args)})"


_SPEC_OPTIONS = (
    "unique",
    "sparse",
    "partialFilterExpression",
    "expireAfterSeconds",
    "hidden",
    "collation",
    "weights",
    "2dsphereIndexVersion",
)


def _options(spec: Mapping[str, Any], name: str, key: Mapping[str, Any]) -> dict[str, Any]:
    options = {k: spec[k] for k in _SPEC_OPTIONS if k in spec and spec[k] not in (None, False)}
    default_name = "_".join(f"{f}_{d}" for f, d in key.items())
    if name != default_name:
        options = {"name": name, **options}
    return options


@dataclass(slots=True)
class _Merged:
    """One index over every shard that reported it."""

    name: str
    key: Mapping[str, Any]
    spec: Mapping[str, Any]
    ops: int | None
    since: dt.datetime | None
    building: bool
    shards: dict[str, int | None]


def _merge(docs: Iterable[Mapping[str, Any]]) -> list[_Merged]:
    merged: dict[str, _Merged] = {}
    for doc in docs:
        name = values.text(doc.get("name")) or "?"
        accesses = section(doc, "accesses")
        ops = integer(accesses.get("ops"))
        since = values.as_utc(accesses.get("since"))
        where = values.text(doc.get("shard")) or values.text(doc.get("host")) or ""
        raw_spec, raw_key = doc.get("spec"), doc.get("key")
        spec: Mapping[str, Any] = raw_spec if isinstance(raw_spec, Mapping) else {}
        key: Mapping[str, Any] = raw_key if isinstance(raw_key, Mapping) else spec.get("key", {})
        current = merged.get(name)
        if current is None:
            merged[name] = _Merged(
                name, key, spec, ops, since, bool(doc.get("building")), {where: ops}
            )
            continue
        if ops is not None:
            current.ops = (current.ops or 0) + ops
        if since is not None and (current.since is None or since < current.since):
            current.since = since
        current.building = current.building or bool(doc.get("building"))
        current.shards[where] = ops
    return list(merged.values())


def index_rows(
    database: str,
    collection: str,
    docs: Sequence[Mapping[str, Any]],
    sizes: Mapping[str, int],
    now: dt.datetime,
) -> list[IndexStat]:
    rows = []
    merged = _merge(docs)
    for index in merged:
        key = key_fields(index.key)
        kind = index_type(key)
        options = _options(index.spec, index.name, index.key)
        age_s = (now - index.since).total_seconds() if index.since else None
        is_id = index.name == "_id_"
        unused = (
            index.ops == 0
            and not is_id
            and age_s is not None
            and age_s >= UNUSED_MIN_AGE_S
            and "expireAfterSeconds" not in index.spec
        )
        nodes = [n for n in index.shards if n]
        extra: dict[str, Any] = {
            "key": key_text(index.key),
            "type": kind,
            "since": index.since,
            "stats_age_s": round(age_s, 1) if age_s is not None else None,
            "building": index.building or None,
            "hidden": bool(index.spec.get("hidden")) or None,
            "ttl_s": number(index.spec.get("expireAfterSeconds")),
            "sparse": bool(index.spec.get("sparse")) or None,
            "partial": key_text(index.spec["partialFilterExpression"])
            if isinstance(index.spec.get("partialFilterExpression"), Mapping)
            else None,
            "shards": values.plain(index.shards) if len(index.shards) > 1 else None,
        }
        rows.append(
            IndexStat(
                schema=database,
                table=collection,
                name=index.name,
                columns=tuple(f for f, _ in key),
                definition=create_index_text(database, collection, index.key, options),
                scans=index.ops,
                size_bytes=sizes.get(index.name),
                unused=unused,
                duplicate_of=None,
                valid=True,
                is_unique=bool(index.spec.get("unique")) or is_id,
                is_primary=is_id,
                node=",".join(nodes) or None,
                extra=frozen({k: v for k, v in extra.items() if v is not None}),
            )
        )
    return _mark_redundant(rows, merged)


def _comparable(spec: Mapping[str, Any]) -> tuple[str, str, str]:
    """What must match for one index to stand in for another: partial filter, sparseness,
    collation."""
    return (
        shell.value_text(spec.get("partialFilterExpression"), 500),
        str(bool(spec.get("sparse"))),
        shell.value_text(spec.get("collation"), 500),
    )


def _mark_redundant(rows: list[IndexStat], merged: Sequence[_Merged]) -> list[IndexStat]:
    """An index whose key is a prefix of another's (same directions, same partial filter,
    sparseness and collation) is redundant: the longer one serves its queries. Not for the
    _id index, unique indexes (they enforce a constraint), TTL indexes (they delete) or
    special kinds (text, 2dsphere, hashed, wildcard)."""
    specs = {m.name: m for m in merged}
    keyed = []
    for row in rows:
        m = specs[row.name]
        key = key_fields(m.key)
        if index_type(key) != "btree" or m.building:
            continue
        keyed.append((row, key, _comparable(m.spec)))
    keyed.sort(key=lambda k: (-len(k[1]), k[0].name))  # name the longest index that serves
    out = []
    for row in rows:
        m = specs[row.name]
        found = None
        if not row.is_primary and not row.is_unique and "expireAfterSeconds" not in m.spec:
            mine = next((k for r, k, _ in keyed if r is row), None)
            same = _comparable(m.spec)
            for other, key, comparable in keyed:
                if other is row or mine is None or comparable != same:
                    continue
                longer = len(key) > len(mine) and key[: len(mine)] == mine
                # equal keys: the one with the later name is the duplicate
                duplicate = key == mine and other.name < row.name
                if longer or duplicate:
                    found = other.name
                    break
        if found is not None:
            row = replace(row, duplicate_of=found)
        out.append(row)
    return out


# -- findings ---------------------------------------------------------------------------------


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    days = seconds / 86400
    if days >= 2:
        return f"{days:.0f} days"
    return f"{seconds / 3600:.0f} hours"


def drop_text(index: IndexStat) -> str:
    return (
        f"{collection_prefix(index.schema or '', index.table)}.dropIndex({shell.quote(index.name)})"
    )


def hide_text(index: IndexStat) -> str:
    return (
        f"{collection_prefix(index.schema or '', index.table)}.hideIndex({shell.quote(index.name)})"
    )


def index_findings(indexes: Iterable[IndexStat], tables: Iterable[TableStat]) -> list[Finding]:
    findings: list[Finding] = []
    for index in indexes:
        where = f"{index.schema}.{index.table}.{index.name}"
        if index.unused:
            since = index.extra.get("since")
            stamp = since.strftime("%Y-%m-%d %H:%M UTC") if isinstance(since, dt.datetime) else "?"
            message = (
                f"index {index.name} {index.extra.get('key', '')} on {index.schema}.{index.table} "
                f"has had no access since {stamp} ({_age(index.extra.get('stats_age_s'))}; "
                "the count restarts when the server restarts)"
            )
            warning = (
                "it enforces uniqueness: dropping it drops the constraint"
                if index.is_unique
                else f"hide it first to be sure: {hide_text(index)}"
            )
            findings.append(
                Finding(
                    kind="unused_index",
                    object=where,
                    message=message,
                    statement=drop_text(index),
                    warning=warning,
                    extra=frozen(size_bytes=index.size_bytes, node=index.node),
                )
            )
        if index.duplicate_of:
            findings.append(
                Finding(
                    kind="redundant_index",
                    object=where,
                    message=(
                        f"index {index.name} {index.extra.get('key', '')} is a prefix of "
                        f"{index.duplicate_of} on {index.schema}.{index.table}: that index "
                        "serves the same queries"
                    ),
                    statement=drop_text(index),
                    warning=f"hide it first to be sure: {hide_text(index)}",
                    extra=frozen(size_bytes=index.size_bytes, node=index.node),
                )
            )
    for table in tables:
        scans = table.extra.get("collscans_nontailable")
        if scans and (table.live_rows or 0) >= COLLSCAN_MIN_DOCS:
            findings.append(
                Finding(
                    kind="collscan",
                    object=f"{table.schema}.{table.table}",
                    message=(
                        f"{table.schema}.{table.table} ({table.live_rows:,} documents) was read "
                        f"by {scans:,} collection scans since the server started: see the Slow "
                        "queries pane for the shapes, and suggest for an index"
                    ),
                    severity=Severity.WARNING,
                    extra=frozen(collscans=scans, documents=table.live_rows),
                )
            )
    return findings


# -- reading ----------------------------------------------------------------------------------


async def collstats(conn: Connection, database: str, collection: str) -> list[dict[str, Any]]:
    return await _stats(conn, database, collection, COLLSTATS_PIPELINE)


async def _stats(
    conn: Connection, database: str, collection: str, pipeline: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    try:
        return await conn.aggregate(database, collection, list(pipeline))
    except PyMongoError as exc:
        if is_code(exc, NAMESPACE_NOT_FOUND, COMMAND_NOT_SUPPORTED_ON_VIEW):
            return []  # dropped since the catalog was read, or a view
        raise


async def _collection_pair(
    conn: Connection, database: str, collection: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stats_docs, index_docs = await asyncio.gather(
        collstats(conn, database, collection),
        _stats(conn, database, collection, INDEXSTATS_PIPELINE),
    )
    return stats_docs, index_docs


async def read(
    conn: Connection,
    catalog: Catalog,
    *,
    now: float,
    wall: dt.datetime,
    sticky: StickyNotices,
    sections: Sections,
) -> tuple[list[IndexStat], list[TableStat], list[Finding]]:
    """One poll of the Indexes pane: a few sizes learned, the largest collections read."""
    to_size = catalog.to_size(now)
    sized = await asyncio.gather(
        *(collstats(conn, c.database, c.name) for c in to_size), return_exceptions=True
    )
    refused = 0
    for info, docs in zip(to_size, sized, strict=True):
        if isinstance(docs, BaseException):
            if is_connection_error(docs):
                raise docs
            refused += is_unauthorized(docs)
            catalog.learn(info.database, info.name, 0, now)
            continue
        catalog.learn(info.database, info.name, ranking_size(docs), now)
    top = catalog.largest()
    results = await asyncio.gather(
        *(_collection_pair(conn, c.database, c.name) for c in top), return_exceptions=True
    )
    indexes: list[IndexStat] = []
    tables: list[TableStat] = []
    for info, result in zip(top, results, strict=True):
        if isinstance(result, BaseException):
            if is_connection_error(result):
                raise result
            refused += is_unauthorized(result)
            continue
        stats_docs, index_docs = result
        if stats_docs:
            catalog.learn(info.database, info.name, ranking_size(stats_docs), now)
        rows = index_rows(info.database, info.name, index_docs, index_sizes(stats_docs), wall)
        indexes.extend(rows)
        ops = sum(r.scans or 0 for r in rows) if rows else None
        tables.append(table_stat(info.database, info.name, stats_docs, ops))
    if refused:
        sticky.keep(
            "indexstats",
            Notice(
                Feature.INDEXES,
                f"$collStats / $indexStats were refused on {refused} collection(s)",
                MONITOR_ROLE_HINT,
            ),
        )
    if catalog.truncated:
        sections.note(
            Notice(
                Feature.INDEXES,
                f"more than {MAX_DATABASES} databases or {MAX_COLLECTIONS:,} collections: "
                "only the largest databases' collections are considered",
                severity=Severity.INFO,
            )
        )
    return indexes, tables, index_findings(indexes, tables)
