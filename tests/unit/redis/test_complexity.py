"""The work a command does, from its complexity and the keys' sizes."""

from dbtop.engines.redis.anatomy import KeyAnatomy
from dbtop.engines.redis.complexity import estimate_work


def key(length, key_type="list"):
    return KeyAnatomy(key=b"k", db=0, node=None, type=key_type, length=length, length_unit="x")


def test_lrange_whole_list():
    work = estimate_work(
        "lrange", [b"LRANGE", b"k", b"0", b"-1"], [key(50_000)], complexity=None, db_keys=None
    )
    assert work.elements == 50_000 and work.large
    assert "whole key" in work.explanation
    assert work.alternative


def test_lrange_window_is_small():
    work = estimate_work(
        "lrange", [b"LRANGE", b"k", b"0", b"9"], [key(50_000)], complexity=None, db_keys=None
    )
    assert work.elements == 10 and not work.large


def test_zrange_by_score_falls_back_to_documented_complexity():
    work = estimate_work(
        "zrange",
        [b"ZRANGE", b"k", b"0", b"10", b"BYSCORE"],
        [key(1000, "zset")],
        complexity="O(log(N)+M) with N being the number of elements",
        db_keys=None,
    )
    assert work.elements == 10  # about log2(1000) steps
    assert not work.large


def test_whole_key_commands():
    work = estimate_work(
        "hgetall", [b"HGETALL", b"k"], [key(20_000, "hash")], complexity="O(N)", db_keys=None
    )
    assert work.elements == 20_000 and work.large
    assert "HSCAN" in work.alternative


def test_keys_is_the_whole_database():
    work = estimate_work("keys", [b"KEYS", b"*"], [], complexity="O(N)", db_keys=1_000_000)
    assert work.elements == 1_000_000 and work.large
    assert "SCAN" in work.alternative


def test_generic_o_n_and_o_1():
    assert (
        estimate_work(
            "lindex",
            [b"LINDEX", b"k", b"5"],
            [key(100)],
            complexity="O(N) where N is the number of elements to traverse",
            db_keys=None,
        ).elements
        == 100
    )
    assert (
        estimate_work(
            "get", [b"GET", b"k"], [key(5, "string")], complexity="O(1)", db_keys=None
        ).elements
        == 1
    )
    assert estimate_work("x", [], [], complexity=None, db_keys=None).elements is None
