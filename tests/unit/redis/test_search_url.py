"""FT.INFO replies as IndexStats, and Redis URLs."""

import pytest

from dbtop.engines.redis.connection import parse_target
from dbtop.engines.redis.search import has_search, index_stat
from dbtop.errors import UsageError

FT_INFO = [
    b"index_name",
    b"idx:users",
    b"index_definition",
    [b"key_type", b"HASH", b"prefixes", [b"user:"], b"default_score", b"1"],
    b"attributes",
    [
        [b"identifier", b"name", b"attribute", b"name", b"type", b"TEXT", b"WEIGHT", b"1"],
        [b"identifier", b"age", b"attribute", b"age", b"type", b"NUMERIC"],
    ],
    b"num_docs",
    b"1200",
    b"inverted_sz_mb",
    b"0.5",
    b"doc_table_size_mb",
    b"0.25",
    b"hash_indexing_failures",
    b"2",
    b"indexing",
    b"0",
    b"percent_indexed",
    b"1",
]


def test_index_stat_from_ft_info():
    stat = index_stat("idx:users", FT_INFO, node=None)
    assert stat.name == "idx:users"
    assert stat.table == "HASH user:"
    assert stat.columns == ("name TEXT", "age NUMERIC")
    assert stat.size_bytes == round(0.75 * 1024 * 1024)
    assert not stat.valid  # documents failed to index
    assert stat.extra["num_docs"] == 1200


def test_search_module_detection():
    assert has_search([[b"name", b"search", b"ver", 20804]])
    assert not has_search([[b"name", b"timeseries", b"ver", 1]])
    assert not has_search(None)


def test_url_forms_and_address_never_shows_the_password():
    target = parse_target("redis://app:s3cret@10.0.0.1:6380/4", environ={})
    assert (target.host, target.port, target.db, target.username) == ("10.0.0.1", 6380, 4, "app")
    assert target.kwargs["password"] == "s3cret"
    assert target.address == "app@10.0.0.1:6380/4"
    assert "s3cret" not in target.address
    assert parse_target("rediss://h", environ={}).address == "h:6379/0 (TLS)"
    unix = parse_target("unix:///run/redis.sock?db=2", environ={})
    assert unix.path == "/run/redis.sock" and unix.db == 2
    assert unix.address == "unix:/run/redis.sock?db=2"


def test_password_from_rediscli_auth():
    assert parse_target("redis://h", environ={"REDISCLI_AUTH": "pw"}).kwargs["password"] == "pw"
    assert (
        parse_target("redis://:url@h", environ={"REDISCLI_AUTH": "pw"}).kwargs["password"] == "url"
    )


def test_cluster_node_keeps_the_credentials():
    node = parse_target("redis://u:p@h:7000", environ={}).at("10.0.0.9", 7001)
    assert node.node == "10.0.0.9:7001" and node.kwargs["password"] == "p" and node.db == 0


@pytest.mark.parametrize("url", ["http://h", "redis://h:notaport", "redis://h/x?db=abc", "unix://"])
def test_bad_urls_are_usage_errors(url):
    with pytest.raises(UsageError):
        parse_target(url, environ={})
