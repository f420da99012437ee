"""Indexes of the search module (RediSearch / Redis Query Engine), when it is loaded.

``FT._LIST`` names the indexes and ``FT.INFO`` describes each: the key prefixes it covers,
its fields, documents, memory and indexing failures. FT.INFO is read at most every
``REFRESH_S`` seconds, since it is not free on big indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dbtop.engines.redis.connection import CommandError, Link
from dbtop.engines.redis.info import integer, number, text
from dbtop.errors import DbtopError, PrivilegeError
from dbtop.model import IndexStat, frozen

REFRESH_S = 30.0
MAX_INDEXES = 100
#: FT.INFO figures (in MB) that add up to the index's memory
_SIZE_FIELDS = (
    "inverted_sz_mb",
    "vector_index_sz_mb",
    "offset_vectors_sz_mb",
    "doc_table_size_mb",
    "sortable_values_size_mb",
    "key_table_size_mb",
    "tag_overhead_sz_mb",
    "text_overhead_sz_mb",
    "geoshapes_sz_mb",
)


def has_search(modules: object) -> bool:
    """Is a search module in the ``MODULE LIST`` reply?"""
    if not isinstance(modules, list):
        return False
    for module in modules:
        fields = _pairs(module)
        if text(fields.get("name")).lower() in ("search", "ft", "searchlight"):
            return True
    return False


def _pairs(reply: object) -> dict[str, Any]:
    if not isinstance(reply, list):
        return {}
    return {text(k): v for k, v in zip(reply[0::2], reply[1::2], strict=False)}


def index_stat(name: str, reply: object, *, node: str | None) -> IndexStat:
    """One FT.INFO reply (RESP2: a flat name, value … list) as an IndexStat."""
    info = _pairs(reply)
    definition = _pairs(info.get("index_definition"))
    prefixes = [text(p) for p in definition.get("prefixes") or []]
    key_type = text(definition.get("key_type")) or "HASH"
    columns: list[str] = []
    for attribute in info.get("attributes") or info.get("fields") or []:
        fields = _pairs(attribute)
        label = text(fields.get("attribute") or fields.get("identifier"))
        kind = text(fields.get("type"))
        if label:
            columns.append(f"{label} {kind}".strip())
    size_mb = sum(number(text(info.get(f)), 0.0) or 0.0 for f in _SIZE_FIELDS)
    total = number(text(info.get("total_index_memory_sz_mb")))
    size_bytes = round((total if total is not None else size_mb) * 1024 * 1024)
    uses = integer(text(info.get("number_of_uses"))) if "number_of_uses" in info else None
    failures = integer(text(info.get("hash_indexing_failures")), 0) or 0
    percent = number(text(info.get("percent_indexed")))
    return IndexStat(
        schema=None,
        table=f"{key_type} {' '.join(prefixes) or '*'}",
        name=name,
        columns=tuple(columns),
        definition=f"FT.CREATE {name} ON {key_type} PREFIX {len(prefixes)} "
        + " ".join(prefixes)
        + " SCHEMA "
        + " ".join(columns),
        scans=uses,
        size_bytes=size_bytes,
        unused=uses == 0 if uses is not None else False,
        valid=failures == 0,
        node=node,
        extra=frozen(
            num_docs=integer(text(info.get("num_docs"))),
            indexing=integer(text(info.get("indexing"))),
            percent_indexed=percent,
            hash_indexing_failures=failures,
            prefixes=prefixes,
            key_type=key_type,
        ),
    )


async def search_indexes(link: Link, *, node: str | None) -> list[IndexStat]:
    names = await link.call("FT._LIST")
    stats: list[IndexStat] = []
    for raw in list(names or [])[:MAX_INDEXES]:
        name = text(raw)
        reply = (await link.pipeline([["FT.INFO", raw]]))[0]
        if isinstance(reply, Exception):
            continue
        stats.append(index_stat(name, reply, node=node))
    return stats


async def search_nodes(links: Mapping[str, Link]) -> set[str]:
    """The nodes that have the search module (MODULE LIST; refused means not known: none)."""
    found: set[str] = set()
    for name, link in links.items():
        try:
            modules = await link.call("MODULE", "LIST")
        except (CommandError, PrivilegeError):
            continue
        if has_search(modules):
            found.add(name)
    return found


async def all_search_indexes(
    links: Mapping[str, Link], nodes: Iterable[str], *, cluster: bool
) -> list[IndexStat]:
    """The search indexes of ``nodes``; a node that fails is left out."""
    found: list[IndexStat] = []
    for name in sorted(nodes):
        link = links.get(name)
        if link is None:
            continue
        try:
            found.extend(await search_indexes(link, node=name if cluster else None))
        except DbtopError:
            continue
    return found
