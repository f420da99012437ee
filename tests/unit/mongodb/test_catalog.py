"""The catalog learns collection sizes a few per poll, the biggest databases first."""

from dbtop.engines.mongodb.catalog import CATALOG_TTL_S, SIZE_BATCH, Catalog


def test_catalog_sizes_a_few_per_poll_biggest_databases_first():
    catalog = Catalog()
    names = {"small": ["a", "b"], "big": [f"c{n}" for n in range(40)]}
    catalog.replace(names, {"small": 10, "big": 10_000}, now=0.0)
    first = catalog.to_size(0.0)
    assert len(first) == SIZE_BATCH
    assert all(c.database == "big" for c in first)
    for n, info in enumerate(first):
        catalog.learn(info.database, info.name, n, 0.0)
    second = catalog.to_size(1.0)
    assert {c.name for c in second} >= {"a", "b"}
    assert catalog.largest(3)[0].size == SIZE_BATCH - 1
    assert not catalog.stale(10.0) and catalog.stale(CATALOG_TTL_S)
    catalog.replace({"big": ["c0"]}, {}, now=100.0)
    assert list(catalog.collections) == [("big", "c0")]
    assert catalog.collections[("big", "c0")].size == 0  # what was learned is kept
