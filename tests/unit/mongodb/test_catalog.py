"""The catalog learns collection sizes a few per poll, the biggest databases first."""

import asyncio

from dbtop.engines.mongodb.catalog import CATALOG_TTL_S, SIZE_BATCH, Catalog


def test_catalog_sizes_a_few_per_poll_biggest_databases_first():
    catalog = Catalog()
    names = {"small": ["a", "b"], "big": [f"c{n}" for n in range(40)]}
    catalog.replace(names, {"small": 10, "big": 10_000})
    first = catalog.to_size(0.0)
    assert len(first) == SIZE_BATCH
    assert all(c.database == "big" for c in first)
    for n, info in enumerate(first):
        catalog.learn(info.database, info.name, n, 0.0)
    second = catalog.to_size(1.0)
    assert {c.name for c in second} >= {"a", "b"}
    assert catalog.largest(3)[0].size == SIZE_BATCH - 1
    catalog.replace({"big": ["c0"]}, {})
    assert list(catalog.collections) == [("big", "c0")]
    assert catalog.collections[("big", "c0")].size == 0  # what was learned is kept


def test_the_listing_is_read_once_a_minute_even_when_it_failed():
    now = [0.0]
    catalog = Catalog(clock=lambda: now[0])
    reads: list[float] = []

    async def listing() -> bool:
        reads.append(now[0])
        return False  # what the section guard gives back when the listing failed

    async def polls() -> None:
        for at in (0.0, 10.0, CATALOG_TTL_S):
            now[0] = at
            await catalog.listing.get(listing)

    asyncio.run(polls())
    assert reads == [0.0, CATALOG_TTL_S]
