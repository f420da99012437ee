"""Metadata-lock compatibility and edges, row-lock rows, redundant indexes, the advisor's
reading of digests."""

from __future__ import annotations

from datetime import datetime

from dbtop.analysis.advisor import SortKey, TableRef
from dbtop.engines.mysql.indexes import IndexDef, redundant
from dbtop.engines.mysql.locks import (
    MdlLock,
    conflicts_with_granted,
    conflicts_with_pending,
    mdl_edges,
    requested_mdl,
    row_lock_edges,
    statement_tables,
)
from dbtop.engines.mysql.workload import NotAnalyzable, analyze, digest_to_sql, parse


def test_mdl_compatibility():
    assert conflicts_with_granted("EXCLUSIVE", "SHARED_READ")
    assert not conflicts_with_granted("SHARED_READ", "SHARED_WRITE")
    assert conflicts_with_granted("MDL_SHARED_WRITE", "MDL_SHARED_NO_WRITE")
    assert not conflicts_with_granted("SHARED_UPGRADABLE", "SHARED_READ")
    # A new reader queues behind a pending exclusive request; the ALTER never waits for it.
    assert conflicts_with_pending("SHARED_READ", "EXCLUSIVE")
    assert not conflicts_with_pending("EXCLUSIVE", "SHARED_READ")
    assert conflicts_with_granted("INTENTION_EXCLUSIVE", "SHARED")
    assert not conflicts_with_granted("INTENTION_EXCLUSIVE", "INTENTION_EXCLUSIVE")


def test_mdl_chain_reader_behind_alter_behind_transaction():
    t = ("TABLE", "db", "t")
    locks = [
        MdlLock("1", *t, "SHARED_READ", pending=False),
        MdlLock("2", *t, "SHARED_UPGRADABLE", pending=False),
        MdlLock("2", *t, "EXCLUSIVE", pending=True, order=-5.0),
        MdlLock("3", *t, "SHARED_READ", pending=True, order=-1.0),
        MdlLock("4", "TABLE", "db", "other", "SHARED_WRITE", pending=False),
    ]
    edges = {(e.waiter, e.blocker) for e in mdl_edges(locks)}
    assert edges == {("2", "1"), ("3", "2")}
    edge = next(e for e in mdl_edges(locks) if e.waiter == "2")
    assert edge.object == "db.t" and edge.held_mode == "SHARED_READ"


def test_mdl_request_inferred_from_the_statement():
    assert requested_mdl("ALTER TABLE t ADD c INT") == "EXCLUSIVE"
    assert requested_mdl("  update t set a=1") == "SHARED_WRITE"
    assert requested_mdl("SELECT * FROM t") == "SHARED_READ"
    assert requested_mdl("LOCK TABLES t WRITE") == "SHARED_NO_READ_WRITE"
    assert statement_tables("SELECT * FROM a JOIN s.b ON a.x = b.y", "db") == [
        ("db", "a"),
        ("s", "b"),
    ]


def test_row_lock_rows_from_mysql8_shape():
    edges = row_lock_edges(
        [
            {
                "waiter": 12,
                "blocker": 9,
                "mode": "X,REC_NOT_GAP",
                "lock_type": "RECORD",
                "lock_table": "`shop`.`orders`",
                "lock_index": "PRIMARY",
                "lock_data": "1",
                "held_mode": "X,REC_NOT_GAP",
                "wait_s": 3.5,
                "wait_started": datetime(2024, 1, 1, 12, 0, 0),
                "blocker_age_s": 60.0,
                "blocker_query": None,
            },
            {"waiter": None, "blocker": 3},
        ]
    )
    assert len(edges) == 1
    edge = edges[0]
    assert (edge.waiter, edge.blocker, edge.lock_type) == ("12", "9", "row")
    assert edge.object == "`shop`.`orders` index PRIMARY" and edge.wait_start.tzinfo is not None


def _index(name, cols, unique=False, kind="BTREE", subs=None):
    return IndexDef(
        "db", "t", name, tuple(cols), tuple(subs or [None] * len(cols)),
        (False,) * len(cols), unique, kind,
    )  # fmt: skip


def test_redundant_indexes():
    defs = [
        _index("PRIMARY", ["id"], unique=True),
        _index("id_again", ["id"]),
        _index("a", ["a"]),
        _index("a_b", ["a", "b"]),
        _index("u_a", ["a"], unique=True),
        _index("a_prefix", ["a"], subs=[10]),
        _index("ft", ["a"], kind="FULLTEXT"),
        _index("x1", ["x"]),
        _index("x2", ["x"]),
    ]
    found = redundant(defs)
    assert found[("db", "t", "id_again")] == "PRIMARY"
    assert found[("db", "t", "a")] == "a_b"
    assert ("db", "t", "u_a") not in found, "a unique index enforces a rule"
    assert ("db", "t", "a_prefix") not in found, "a column prefix is another key part"
    assert ("db", "t", "ft") not in found and ("db", "t", "PRIMARY") not in found
    assert found[("db", "t", "x2")] == "x1" and ("db", "t", "x1") not in found


def test_digest_texts_become_access_patterns():
    assert digest_to_sql("SELECT * FROM t WHERE a IN (...)") == "SELECT * FROM t WHERE a IN (?)"
    try:
        digest_to_sql("SELECT * FROM t WHERE a = ? AND b ...")
    except NotAnalyzable as err:
        assert "truncated" in str(err)
    else:
        raise AssertionError("a truncated digest is refused")
    cols = {
        TableRef("db", "o"): frozenset({"id", "cid", "at"}),
        TableRef("db", "c"): frozenset({"id", "land"}),
    }
    tree = parse(
        "SELECT `o`.`id` FROM `o` JOIN `c` ON `c`.`id` = `o`.`cid` "
        "WHERE `land` = ? AND `at` > ? ORDER BY `o`.`at` DESC LIMIT ?"
    )
    result = analyze(tree, "db", cols)
    by_table = {a.table.name: a for a in result.accesses}
    assert by_table["o"].join == ("cid",) and by_table["o"].range == ("at",)
    assert by_table["o"].order_by == (SortKey("at", True),) and by_table["o"].limit
    assert by_table["c"].equality == ("land",) and by_table["c"].join == ("id",)
    assert result.aliases["o"] == TableRef("db", "o")
