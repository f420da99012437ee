"""The profiler book (running totals per shape, reads that overlap) and the serverStatus
header."""

import datetime as dt

from bson import Int64

from dbtop.analysis.rates import compute_rates
from dbtop.engines.mongodb import statements, summary
from dbtop.model import Capabilities, Snapshot
from tests.integration.mongodb import fixtures as fx

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def newest_first(entries):
    return list(reversed(entries))


def test_book_groups_entries_by_shape():
    book = statements.ProfileBook()
    for entry in fx.profile_entries(NOW):
        book.add(entry, database="shop", node="db1:27017")
    by_query = {s.query: s for s in book.statements()}
    slow = by_query[
        "db.orders.find({ customer_id: ?, total: { $gte: ? } }).sort({ created_at: -1 }).limit(?)"
    ]
    assert slow.calls == 5
    assert slow.total_ms == 1400 * 5 + 10 * (0 + 1 + 2 + 3 + 4)
    assert slow.rows == 100
    assert slow.database == "shop" and slow.node == "db1:27017"
    assert slow.user == "shop_app"
    assert slow.extra["docs_examined"] == 6_000_000
    assert slow.extra["collscans"] == 5 and slow.extra["in_memory_sorts"] == 5
    assert slow.extra["docs_examined_per_returned"] == 60_000
    assert slow.extra["equality"] == ("customer_id",)
    assert slow.extra["sort"] == ("created_at:-1",)
    # the newest sample, ready for explain (database named)
    assert slow.extra["sample"].startswith(
        'db.getSiblingDB("shop").orders.find({ customer_id: 4704'
    )
    assert any("truncated" in q for q in by_query)
    assert len(book.events) == len(fx.profile_entries(NOW))
    newest = book.events[0]
    assert newest.extra["namespace"] == "shop.customers" and newest.duration_ms == 310


def test_new_entries_overlapping_reads_count_once():
    entries = fx.profile_entries(NOW)
    mark = statements.DatabaseProfile("shop", level=1)
    first = statements.new_entries(mark, newest_first(entries[:6]))
    assert len(first) == 6 and first[0] is entries[0]  # oldest first
    # the next read asks ts >= the mark: the entry at the mark comes again and is dropped
    again = [e for e in newest_first(entries) if e["ts"] >= entries[5]["ts"]]
    second = statements.new_entries(mark, again)
    assert [e["ts"] for e in second] == [e["ts"] for e in entries[6:]]
    assert statements.new_entries(mark, newest_first(entries[-1:])) == []
    assert statements.read_filter(mark) == {"ts": {"$gte": entries[-1]["ts"]}}


def test_same_millisecond_entries_are_told_apart():
    stamp = fx.naive(NOW)
    a = {"ts": stamp, "op": "query", "ns": "s.c", "millis": 5, "command": {"find": "c"}}
    b = {**a, "millis": 6}
    mark = statements.DatabaseProfile("s")
    assert len(statements.new_entries(mark, [a])) == 1
    assert statements.new_entries(mark, [b, a]) == [b]


def test_book_totals_only_grow_and_give_rates():
    book = statements.ProfileBook()
    entries = fx.profile_entries(NOW)
    for entry in entries[:3]:
        book.add(entry, database="shop", node=None)
    server = summary.summarize({}, address="x", hello={})
    before = Snapshot("mongodb", NOW, 10.0, server, Capabilities(), statements=book.statements())
    for entry in entries[3:5]:
        book.add(entry, database="shop", node=None)
    after = Snapshot("mongodb", NOW, 12.0, server, Capabilities(), statements=book.statements())
    rates = compute_rates(before, after)
    assert rates is not None and not rates.reset
    (rate,) = rates.statements.values()
    assert rate.calls_s == 1.0  # two calls in two seconds


def test_book_forgets_the_least_recent_shape_beyond_its_bound():
    book = statements.ProfileBook(max_shapes=2)
    for n, field in enumerate(("a", "b", "c")):
        book.add(
            {
                "op": "query",
                "ns": "s.c",
                "ts": fx.naive(NOW) + dt.timedelta(seconds=n),
                "millis": 1,
                "command": {"find": "c", "filter": {field: 1}},
            },
            database="s",
            node=None,
        )
    assert len(book.shapes) == 2
    assert all("a:" not in s.query for s in book.statements())


def test_settings_from_profile_reply():
    mark = statements.DatabaseProfile("shop")
    statements.settings_from(
        {"was": 1, "slowms": 50, "sampleRate": 0.5, "filter": {"op": "query"}, "ok": 1}, mark
    )
    assert (mark.level, mark.slowms, mark.sample_rate) == (1, 50, 0.5)
    assert mark.filter == '{ op: "query" }'


def test_summary_of_a_standalone():
    server = summary.summarize(
        fx.server_status(), address="db1:27017", hello=fx.hello(27017), database="shop"
    )
    assert server.engine == "mongodb"
    assert server.version == "7.0.12" and server.version_num == 70012
    assert server.role == "standalone"
    assert server.connections == 57 and server.max_connections == 57 + 838803
    assert server.throughput_counter == "ops" and server.throughput_label == "ops/s"
    assert server.counters["ops"] == sum(
        server.counters[f"ops_{k}"]
        for k in ("insert", "query", "update", "delete", "getmore", "command")
    )
    assert server.counters["blks_read"] == 1_000_000
    assert 0.99 < server.cache_hit_ratio < 1.0
    assert server.extra["lock_queue"] == {"total": 4, "readers": 1, "writers": 3}
    assert server.extra["tickets"]["write"] == {"out": 3, "available": 125}


def test_summary_of_a_replica_set_primary_shows_the_worst_lag():
    server = summary.summarize(
        fx.server_status(kind="replset"),
        address="x",
        hello=fx.hello(27017, kind="replset"),
        repl_status=fx.repl_set_status(),
    )
    assert server.role == "primary (rs0)"
    assert server.replication_lag_s == 7.0
    assert [m["state"] for m in server.extra["members"]] == ["PRIMARY", "SECONDARY"]


def test_summary_survives_missing_sections():
    server = summary.summarize(
        {"version": "6.0.14", "ok": 1}, address="x", hello={"msg": "isdbgrid"}
    )
    assert server.role == "mongos"
    assert server.connections is None and server.cache_hit_ratio is None
    assert server.counters == {} or "ops" not in server.counters
    assert summary.version_number("7.0.2-rc1") == 70002
    assert summary.version_number("nonsense") is None
    assert summary.integer(Int64(5)) == 5 and summary.integer(True) is None
