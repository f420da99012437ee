"""Small builders for advisor workloads (plain data, no server)."""

from __future__ import annotations

from dbtop.analysis.advisor import (
    ColumnFacts,
    ExistingIndex,
    QueryInfo,
    TableAccess,
    TableFacts,
    TableRef,
    Workload,
)

ORDERS = TableRef("public", "orders")
TINY = TableRef("public", "settings")


def orders_facts(*indexes: ExistingIndex, rows: float = 1_000_000) -> TableFacts:
    columns = {
        "id": ColumnFacts("id", n_distinct=-1, avg_width=8),
        "customer_id": ColumnFacts("customer_id", n_distinct=50_000, avg_width=8),
        "shop_id": ColumnFacts("shop_id", n_distinct=500, avg_width=4),
        "status": ColumnFacts("status", n_distinct=4, avg_width=8, max_frequency=0.4),
        "created_at": ColumnFacts("created_at", n_distinct=-0.9, avg_width=8),
        "total": ColumnFacts("total", n_distinct=-0.5, avg_width=8),
        "note": ColumnFacts("note", n_distinct=-1, avg_width=400),
        "deleted_at": ColumnFacts("deleted_at", n_distinct=1000, null_frac=0.95, avg_width=8),
    }
    return TableFacts(ORDERS, rows=rows, columns=columns, indexes=indexes)


def pk() -> ExistingIndex:
    return ExistingIndex("orders_pkey", ORDERS, ("id",), unique=True)


def query(qid: str, *accesses: TableAccess, total_ms: float = 100.0, calls: int = 10) -> QueryInfo:
    return QueryInfo(id=qid, text=f"-- {qid}", calls=calls, total_ms=total_ms, accesses=accesses)


def workload(*queries: QueryInfo, facts: TableFacts | None = None, extra=()) -> Workload:
    tables = {ORDERS: facts or orders_facts(pk())}
    for f in extra:
        tables[f.table] = f
    return Workload(queries=queries, tables=tables)
