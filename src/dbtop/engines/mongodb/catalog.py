"""Which collections exist and how big they are: what the Indexes pane and the profiler
choose from.

A server can hold thousands of collections; reading every one each second would be the
monitor making the incident worse. So the catalog (listDatabases, listCollections with
``nameOnly``) is read once a minute, and sizes are learned a few collections per poll
(unknown ones first, from the biggest databases) with ``$collStats``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dbtop.engines.mongodb.connection import Connection
from dbtop.engines.mongodb.summary import integer
from dbtop.engines.refresh import Every

#: collections whose indexes are read at every poll
TOP = 20
#: collections sized per poll while learning the catalog
SIZE_BATCH = 25
#: the catalog is re-read after this long
CATALOG_TTL_S = 60.0
#: a size is re-checked after this long (for collections outside the top)
SIZE_TTL_S = 600.0
#: databases and collections listed at most
MAX_DATABASES = 100
MAX_COLLECTIONS = 20_000
SYSTEM_DATABASES = frozenset({"admin", "local", "config"})


@dataclass(slots=True)
class CollectionInfo:
    database: str
    name: str
    size: int | None = None
    checked: float | None = None

    @property
    def namespace(self) -> str:
        return f"{self.database}.{self.name}"


class Catalog:
    """The collections dbtop knows of, with the sizes learned so far."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        #: the listing, re-read every ``CATALOG_TTL_S`` (a failed one too: it is tried
        #: again a minute later, not at every poll)
        self.listing: Every[bool] = Every(CATALOG_TTL_S, False, clock)
        self.collections: dict[tuple[str, str], CollectionInfo] = {}
        self.database_sizes: dict[str, int] = {}
        self.truncated = False

    def replace(self, names: Mapping[str, Sequence[str]], sizes: Mapping[str, int]) -> None:
        known = self.collections
        fresh: dict[tuple[str, str], CollectionInfo] = {}
        for database, colls in names.items():
            for name in colls:
                key = (database, name)
                fresh[key] = known.get(key) or CollectionInfo(database, name)
        self.collections = fresh
        self.database_sizes = dict(sizes)

    def to_size(self, now: float, batch: int = SIZE_BATCH) -> list[CollectionInfo]:
        """Collections whose size is unknown (biggest databases first) or stale."""

        def order(info: CollectionInfo) -> tuple[int, float, int, str]:
            unknown = info.size is None
            age = now - info.checked if info.checked is not None else float("inf")
            db_size = self.database_sizes.get(info.database, 0)
            return (0 if unknown else 1, -age, -db_size, info.namespace)

        due = [
            c
            for c in self.collections.values()
            if c.checked is None or now - c.checked >= SIZE_TTL_S
        ]
        return sorted(due, key=order)[:batch]

    def largest(self, count: int = TOP) -> list[CollectionInfo]:
        sized = [c for c in self.collections.values() if c.size is not None]
        return sorted(sized, key=lambda c: (-(c.size or 0), c.namespace))[:count]

    def learn(self, database: str, name: str, size: int | None, now: float) -> None:
        info = self.collections.get((database, name))
        if info is not None:
            info.size = size if size is not None else 0
            info.checked = now

    async def refresh(self, conn: Connection) -> bool:
        """Re-read the databases and their collections (the largest databases first)."""
        default = conn.default_database
        sizes: dict[str, int] = {}
        if default:
            names = [default]
        else:
            reply = await conn.command(
                "admin", {"listDatabases": 1, "nameOnly": False, "authorizedDatabases": True}
            )
            names = []
            for db in reply.get("databases", []):
                if not isinstance(db, Mapping) or not isinstance(db.get("name"), str):
                    continue
                if db["name"] in SYSTEM_DATABASES:
                    continue
                names.append(db["name"])
                sizes[db["name"]] = integer(db.get("sizeOnDisk")) or 0
            names.sort(key=lambda n: (-sizes.get(n, 0), n))
            self.truncated = len(names) > MAX_DATABASES
            names = names[:MAX_DATABASES]
        listed = await asyncio.gather(*(list_collections(conn, db) for db in names))
        collections: dict[str, list[str]] = {}
        total = 0
        for db, colls in zip(names, listed, strict=True):
            room = MAX_COLLECTIONS - total
            if room <= 0:
                self.truncated = True
                break
            collections[db] = colls[:room]
            total += len(collections[db])
        self.replace(collections, sizes)
        return True

    def databases(self, default: str | None, limit: int) -> list[str]:
        """The databases worth watching: the URL's, or the largest known ones."""
        if default:
            return [default]
        names = sorted(
            {info.database for info in self.collections.values()} | set(self.database_sizes),
            key=lambda d: (-self.database_sizes.get(d, 0), d),
        )
        return [n for n in names if n not in SYSTEM_DATABASES][:limit]


async def list_collections(conn: Connection, database: str) -> list[str]:
    reply = await conn.command(
        database,
        {
            "listCollections": 1,
            "filter": {"type": "collection"},
            "nameOnly": True,
            "authorizedCollections": True,
        },
    )
    batch: Sequence[Any] = reply.get("cursor", {}).get("firstBatch", [])
    names = [
        d["name"]
        for d in batch
        if isinstance(d, Mapping)
        and isinstance(d.get("name"), str)
        and not d["name"].startswith("system.")
    ]
    return sorted(names)
