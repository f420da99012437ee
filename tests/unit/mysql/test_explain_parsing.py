"""What EXPLAIN gets for a statement, and plans (MariaDB and MySQL 8 JSON, MySQL's EXPLAIN
ANALYZE tree, tabular SHOW EXPLAIN) as PlanNode trees."""

from __future__ import annotations

import pytest

from dbtop.engines.mysql.explain import (
    parse_json_plan,
    parse_table_plan,
    parse_tree_plan,
    prepare,
    tables_scanned,
)
from dbtop.errors import QueryError, RefusedError, UsageError

MYSQL8_PLAN = {
    "query_block": {
        "select_id": 1,
        "cost_info": {"query_cost": "2741.25"},
        "ordering_operation": {
            "using_filesort": True,
            "nested_loop": [
                {
                    "table": {
                        "table_name": "o",
                        "access_type": "ALL",
                        "possible_keys": ["PRIMARY"],
                        "rows_examined_per_scan": 20000,
                        "rows_produced_per_join": 2000,
                        "filtered": "10.00",
                        "cost_info": {"read_cost": "1841.25", "prefix_cost": "2041.25"},
                        "attached_condition": "(`db`.`o`.`customer_id` = 5)",
                    }
                },
                {
                    "table": {
                        "table_name": "c",
                        "access_type": "eq_ref",
                        "key": "PRIMARY",
                        "used_key_parts": ["id"],
                        "rows_examined_per_scan": 1,
                        "cost_info": {"prefix_cost": "2741.25"},
                    }
                },
            ],
        },
    }
}

MARIADB_ANALYZE = """{
  "query_optimization": {"r_total_time_ms": 0.05},
  "query_block": {
    "select_id": 1,
    "r_loops": 1,
    "r_total_time_ms": 9.1,
    "table": {
      "table_name": "orders",
      "access_type": "ALL",
      "r_loops": 1,
      "rows": 20000,
      "r_rows": 20000,
      "r_total_time_ms": 8.7,
      "filtered": 100,
      "r_filtered": 0.05,
      "attached_condition": "orders.customer_id = 5"
    },
    "subqueries": [
      {"query_block": {"select_id": 2, "table": {"table_name": "c", "access_type": "const",
        "key": "PRIMARY", "rows": 1}}}
    ]
  }
}"""

MYSQL_ANALYZE_TREE = """-> Sort: o.created_at DESC  (cost=2041.25 rows=2000) (actual time=12.1..12.2 rows=10 loops=1)
    -> Filter: (o.customer_id = 5)  (cost=0.35..2041 rows=2000) (actual time=0.05..11.9 rows=10 loops=1)
        -> Table scan on o  (cost=2041 rows=20000) (actual time=0.04..9.8 rows=20000 loops=1)
"""  # noqa: E501


def test_mysql8_json_plan():
    root, raw = parse_json_plan(MYSQL8_PLAN)
    assert root.name == "Query block" and root.total_cost == 2741.25 and raw is MYSQL8_PLAN
    sort = root.children[0]
    assert sort.name == "Sort" and "using filesort" in (sort.detail or "")
    scan, lookup = sort.children
    assert scan.name == "Full scan o" and scan.rows == 20000 and scan.total_cost == 2041.25
    assert "filter" in (scan.detail or "") and lookup.extra["key"] == "PRIMARY"
    assert tables_scanned(root) == [("o", "ALL", None), ("c", "eq_ref", "PRIMARY")]


def test_mariadb_analyze_json_plan():
    root, _ = parse_json_plan(MARIADB_ANALYZE)
    table = next(n for n in root.walk() if n.extra.get("table") == "orders")
    assert table.actual_rows == 20000 and table.actual_ms == 8.7 and table.loops == 1
    assert table.extra["r_filtered"] == 0.05
    assert ("c", "const", "PRIMARY") in tables_scanned(root)


def test_mysql_explain_analyze_tree():
    root = parse_tree_plan(MYSQL_ANALYZE_TREE)
    assert root.name == "Sort" and root.total_cost == 2041.25 and root.actual_rows == 10
    scan = root.children[0].children[0]
    assert scan.name == "Table scan on o" and scan.rows == 20000 and scan.loops == 1
    assert root.children[0].startup_cost == 0.35 and root.children[0].total_cost == 2041


def test_tabular_show_explain():
    root = parse_table_plan([{"id": 1, "table": "t", "type": "ALL", "rows": 5, "key": None}])
    assert root.children[0].name == "Full scan t" and root.children[0].rows == 5


def test_what_explain_gets():
    assert prepare("SELECT 1;").sql == "SELECT 1" and prepare("SELECT 1").is_read
    insert = prepare("INSERT INTO t (a) SELECT a FROM u WHERE b = 1")
    assert insert.sql == "SELECT `a` FROM `u` WHERE `b` = 1" and "SELECT part" in insert.notes[0]
    create = prepare("CREATE TABLE z AS SELECT * FROM u")
    assert create.sql == "SELECT * FROM `u`" and create.is_read
    update = prepare("UPDATE t SET a = 1 WHERE b = 2 ORDER BY c LIMIT 3")
    assert update.sql == "SELECT * FROM `t` WHERE `b` = 2 ORDER BY `c` LIMIT 3"
    assert not update.is_read
    assert not prepare("SELECT * FROM t FOR UPDATE").is_read
    assert not prepare("SELECT a INTO @x FROM t").is_read
    with pytest.raises(UsageError, match="one statement"):
        prepare("SELECT 1; SELECT 2")
    with pytest.raises(RefusedError, match="not DROP"):
        prepare("DROP TABLE t")
    with pytest.raises(RefusedError, match="VALUES"):
        prepare("INSERT INTO t VALUES (1)")
    with pytest.raises(QueryError, match="placeholders"):
        prepare("SELECT * FROM t WHERE a = ?")
    with pytest.raises(UsageError, match="empty"):
        prepare("  ;")
