"""Key names grouped into patterns."""

import uuid
from collections import Counter

from dbtop.engines.redis.patterns import MAX_SEGMENTS, group_keys, tokens


def counts(keys):
    return Counter(group_keys(keys).patterns.values())


def test_ids_become_wildcards():
    assert "".join(tokens("user:1234:profile")) == "user:*:profile"
    assert "".join(tokens(f"session:{uuid.uuid4()}")) == "session:*"
    assert "".join(tokens("cache:9f86d081884c7d65")) == "cache:*"
    assert "".join(tokens("order_42")) == "order_*"
    assert "".join(tokens("api:v1:item")) == "api:v1:item"
    assert "".join(tokens("{user:7}:cart")) == "{user:*}:cart"


def test_long_keys_are_folded():
    key = ":".join(f"s{i}x" for i in range(40))
    assert len([t for t in tokens(key) if t != ":"]) == MAX_SEGMENTS + 1


def test_names_at_an_id_position_merge():
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal", "ivan", "judy"]
    keys = [f"user:{n}:prefs" for n in names] + [f"user:{i}:prefs" for i in range(50)]
    assert counts(keys) == {"user:*:prefs": 60}


def test_small_unrelated_namespaces_stay_apart():
    keys = [f"user:{i}" for i in range(300)] + [f"session:{uuid.uuid4()}" for _ in range(200)]
    keys += ["queue:emails", "queue:sms", "cache:page:/about", "counter", "hits", "total"]
    keys += [f"w{c}" for c in "abcdefghij"]
    found = counts(keys)
    assert found["user:*"] == 300
    assert found["session:*"] == 200
    assert found["queue:emails"] == 1 and found["cache:page:/about"] == 1
    assert found["*"] == 13  # the single-word keys, lumped together


def test_every_key_gets_a_pattern():
    keys = ["", ":", "a::b", "x" * 500, "ключ:1", "\\xff:2"]
    grouping = group_keys(keys)
    assert set(grouping.patterns) == set(keys)
    assert all(grouping.patterns.values())
