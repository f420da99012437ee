"""SLOWLOG entries and commandstats rows."""

from datetime import UTC, datetime

from dbtop.engines.redis.info import CommandStat
from dbtop.engines.redis.statements import command_statement, merge_command_stats, slow_event


def test_slow_event_with_client_and_name():
    event = slow_event(
        [7, 1700000000, 15000, [b"HGETALL", b"user:1"], b"127.0.0.1:5000", b"worker"],
        node=None,
        prefix="",
    )
    assert event.id == "7"
    assert event.query == "HGETALL user:1"
    assert event.duration_ms == 15
    assert event.at == datetime.fromtimestamp(1700000000, UTC)
    assert event.client == "127.0.0.1:5000"
    assert event.extra["client_name"] == "worker"
    assert event.extra["command"] == "HGETALL"


def test_slow_event_shortened_by_redis():
    args = [b"SADD", b"k", *(b"m" for _ in range(30)), b"... (5 more arguments)"]
    event = slow_event([1, 1, 1, args, b"", b""], node="n:1", prefix="n:1/")
    assert event.id == "n:1/1"
    assert event.query.endswith("… (5 more arguments)")
    assert event.extra["args"] == 32 + 5
    long = slow_event(
        [2, 1, 1, [b"SET", b"k", b"x" * 128 + b"... (72 more bytes)"]], node=None, prefix=""
    )
    assert long.extra["truncated_args"] == [2]


def test_malformed_entries_are_skipped():
    assert slow_event([1, 2], node=None, prefix="") is None


def test_command_statement_and_interval_rates():
    before = CommandStat("get", 10, 100, 10.0, 1, 2)
    after = CommandStat("get", 20, 300, 15.0, 3, 2)
    statement = command_statement(
        after, percentiles={"p50": 2.0, "p99.9": 30.0}, previous=before, interval_s=2.0
    )
    assert statement.id == "get" and statement.query == "GET"
    assert statement.total_ms == 0.3 and statement.mean_ms == 0.015
    assert statement.extra["rejected_calls_s"] == 1.0
    assert statement.extra["failed_calls_s"] == 0.0
    assert statement.extra["p99_9_ms"] == 0.03


def test_reset_gives_no_rate():
    statement = command_statement(
        CommandStat("get", 1, 1, 1.0, 0, 0),
        previous=CommandStat("get", 10, 10, 1.0, 5, 5),
        interval_s=1.0,
    )
    assert "rejected_calls_s" not in statement.extra


def test_merge_over_nodes():
    merged = merge_command_stats(
        {
            "a": {"get": CommandStat("get", 10, 100, 10.0, 1, 0)},
            "b": {
                "get": CommandStat("get", 30, 100, 3.3, 0, 1),
                "set": CommandStat("set", 1, 1, 1.0, 0, 0),
            },
        }
    )
    assert merged["get"].calls == 40 and merged["get"].usec == 200
    assert merged["get"].usec_per_call == 5.0
    assert merged["get"].rejected_calls == 1 and merged["get"].failed_calls == 1
    assert merged["set"].calls == 1
