"""Issue 14: what dbtop keeps between polls of a Redis node, so that 2,000 idle clients, a
million keys and a 1 s refresh cost little on either side. Pure: CLIENT LIST text, INFO
maps and the sampler's records, no server (the engine-level checks are in
test_idle_clients.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from dbtop.engines.redis.assemble import Rows, client_rows
from dbtop.engines.redis.client_list import parse_client_list
from dbtop.engines.redis.collect import (
    LATENCYSTATS_EVERY_S,
    ClientPace,
    InfoPace,
    NodePoll,
    section_names,
)
from dbtop.engines.redis.indexes import (
    FIRST_KEYS,
    DbSample,
    KeyRecord,
    KeySampler,
    SampleBudget,
    SampleCost,
)
from dbtop.engines.redis.patterns import group_keys, tokens
from dbtop.engines.redis.sessions import created_at

NOW = datetime(2026, 12, 3, tzinfo=UTC)
SERVER_US = 1_800_000_000_000_000


def line(client_id: int, *, name: str = "", age: int = 100, idle: int = 100, cmd: str = "get"):
    return (
        f"id={client_id} addr=10.0.0.{client_id}:6000 laddr=127.0.0.1:7399 fd={client_id} "
        f"name={name} age={age} idle={idle} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 "
        f"qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=2000 "
        f"events=r cmd={cmd} user=default redir=-1 resp=2"
    )


def client_list(*lines: str, server_us: int = SERVER_US):
    rows = parse_client_list("\n".join(lines).encode())
    for row in rows:
        row.add("run_id", "r1")
        row.add("server_time_usec", server_us)
    return rows


def build(pace: ClientPace, poll: NodePoll, *, clock: float, refresh_s: float = 5.0, own=()):
    pace.update(poll, clock, set(own))
    rows = Rows()
    client_rows(
        poll, rows, now=NOW, cluster=False, self_ids=set(own), clock=clock, refresh_s=refresh_s
    )
    return {s.id: s for s in rows.sessions}


def fetched(*lines: str, server_us: int = SERVER_US) -> NodePoll:
    return NodePoll(
        node="n", info={"run_id": "r1"}, clients=client_list(*lines, server_us=server_us)
    )


def kept() -> NodePoll:
    return NodePoll(node="n", info={"run_id": "r1"}, clients_fetched=False)


# -- ClientLine ---------------------------------------------------------------------------


def test_an_aged_line_moves_its_clocks_on_and_keeps_its_creation_time():
    (row,) = client_list(line(5, age=100, idle=40))
    older = row.aged(7)
    assert (older["age"], older["idle"]) == (107, 47)
    assert older.pick(("idle", "age", "name")) == ["47", "107", ""]
    assert older["server_time_usec"] == SERVER_US + 7_000_000
    assert created_at(older, 107) == created_at(row, 100)
    assert row["idle"] == 40  # the line read stays as it was
    assert older.aged(3)["idle"] == 50


def test_lines_compare_by_their_fields():
    (a,) = client_list(line(5))
    (b,) = client_list(line(5))
    (c,) = client_list(line(5, name="other"))
    assert a == b and a != c
    assert a != a.aged(1)
    assert a == dict(a.items())  # still a Mapping like any other


def test_a_line_unchanged_but_for_its_clocks_is_the_same_idle_client():
    (before,) = client_list(line(5, age=100, idle=40))
    (later,) = client_list(line(5, age=103, idle=43))
    (ran,) = client_list(line(5, age=103, idle=1))  # sent a command in between
    (renamed,) = client_list(line(5, name="x", age=103, idle=43))
    assert later.unchanged_since(before)
    assert before.aged(3).unchanged_since(before)
    assert not ran.unchanged_since(before)
    assert not renamed.unchanged_since(before)


# -- Sessions kept across polls -------------------------------------------------------------


def test_a_quiet_poll_keeps_the_idle_sessions_and_moves_their_clocks_on_when_due():
    pace = ClientPace()
    first = build(pace, fetched(line(5, idle=40), line(6, idle=90)), clock=0.0)
    again = build(pace, kept(), clock=2.0)
    assert again["5"] is first["5"] and again["6"] is first["6"]  # nothing rebuilt
    later = build(pace, kept(), clock=6.0)  # older than refresh_s: made again, 6 s on
    assert later["5"] is not first["5"]
    assert later["5"].duration_s == 46.0 and later["5"].extra["idle"] == 46
    assert later["5"].backend_start == first["5"].backend_start


def test_hidden_idle_rows_are_made_again_less_often():
    pace = ClientPace()
    first = build(pace, fetched(line(5, idle=40)), clock=0.0, refresh_s=60.0)
    assert build(pace, kept(), clock=30.0, refresh_s=60.0)["5"] is first["5"]
    assert build(pace, kept(), clock=61.0, refresh_s=60.0)["5"].duration_s == 101.0


def test_a_list_read_again_keeps_unchanged_clients_and_shows_every_change():
    pace = ClientPace()
    first = build(pace, fetched(line(5), line(6), line(7), line(8)), clock=0.0)
    second = build(
        pace,
        fetched(
            line(5, age=101, idle=101),  # only its clocks moved: kept
            line(6, name="renamed", age=101, idle=101),  # a changed line is seen
            line(7, age=101, idle=0),  # ran a command this second: active
            # 8 disconnected; 9 is new
            line(9, name="late", age=0, idle=0),
        ),
        clock=1.0,
    )
    assert second["5"] is first["5"]
    assert second["6"].application == "renamed"
    assert second["7"].state == "active"
    assert "8" not in second and second["9"].application == "late"
    assert set(pace.built) <= {"5", "6", "9"}  # the vanished client is forgotten too


def test_a_client_that_ran_a_command_between_two_lists_gets_its_new_clock():
    pace = ClientPace()
    build(pace, fetched(line(5, age=100, idle=90)), clock=0.0)
    again = build(pace, fetched(line(5, age=102, idle=1)), clock=2.0)
    assert again["5"].duration_s == 1.0


def test_dbtops_own_connection_is_not_aged():
    pace = ClientPace()
    build(pace, fetched(line(5, idle=0, cmd="client|list")), clock=0.0, own={5})
    later = build(pace, kept(), clock=9.0, own={5})
    assert later["5"].is_self and later["5"].state == "active"
    assert later["5"].duration_s == 0.0


def test_a_restarted_server_drops_the_kept_sessions():
    pace = ClientPace()
    first = build(pace, fetched(line(5)), clock=0.0)
    poll = fetched(line(5, age=101, idle=101))
    poll.info["run_id"] = "r2"
    assert build(pace, poll, clock=1.0)["5"] is not first["5"]


# -- INFO sections --------------------------------------------------------------------------


def test_latencystats_is_asked_every_ten_seconds_and_kept_in_between():
    pace = InfoPace(sections_ok=True)
    assert pace.wanted(0.0) == ["INFO", "all"]
    full = "# Server\r\nrun_id:r1\r\n# Commandstats\r\ncmdstat_get:calls=1\r\n# Latencystats\r\n"
    info = {"run_id": "r1", "latency_percentiles_usec_get": "p50=1.0"}
    pace.learn(["INFO", "all"], full, info, 0.0)
    assert section_names(full) == ["server", "commandstats", "latencystats"]
    assert pace.wanted(1.0) == ["INFO", "server", "commandstats"]
    partial = {"run_id": "r1"}
    pace.learn(pace.wanted(1.0), "", partial, 1.0)
    assert partial["latency_percentiles_usec_get"] == "p50=1.0"
    assert pace.age_s(1.0) == 1.0
    assert pace.wanted(LATENCYSTATS_EVERY_S) == ["INFO", "all"]
    assert InfoPace(sections_ok=False).wanted(5.0) == ["INFO", "all"]  # Redis 6


# -- the key sample ---------------------------------------------------------------------------


def stat(calls: int, usec: int) -> str:
    return f"calls={calls},usec={usec},usec_per_call=0"


def test_the_sample_learns_what_a_key_costs_the_server_and_keeps_to_its_budget():
    cost = SampleCost()
    budget = SampleBudget(max_keys=500, server_ms_per_s=0.1, every_s=5.0)
    assert cost.budget(budget, 0.0).max_keys == FIRST_KEYS  # not known yet: a first batch
    cost.learn({"cmdstat_scan": stat(10, 1000), "cmdstat_type": stat(100, 100)}, {})
    cost.keys = 50  # the first batch: 1 SCAN and 50 TYPE of ours; others ran 9 SCAN
    cost.learn(
        {"cmdstat_scan": stat(20, 3000), "cmdstat_type": stat(200, 200)},
        {"scan": 1, "type": 50},
    )
    # our SCAN cost the mean of its interval (200 µs), our 50 TYPE 50 µs: 5 µs a key
    assert cost.per_key_us == 5.0
    assert cost.budget(budget, 2.0) is None  # the next batch comes every_s later
    assert cost.budget(budget, 5.0).max_keys == 100  # 0.1 ms/s × 5 s at 5 µs a key
    unpaced = SampleBudget(max_keys=120)
    assert cost.budget(unpaced, 5.5) is unpaced  # a budget in keys only: every refresh


def record(name: str, memory: int = 100) -> KeyRecord:
    return KeyRecord(name.encode(), name, "string", memory, -1, 0)


def test_keyspace_patterns_are_made_again_only_when_the_sample_or_the_size_changes():
    sampler = KeySampler()
    sample = sampler.dbs[0] = DbSample()
    for i in range(50):
        sample.records[f"user:{i}".encode()] = record(f"user:{i}")
    first = sampler.patterns({0: 1000}, node=None)
    again = sampler.patterns({0: 1000}, node=None)
    assert again == first and again[0] is first[0]
    grown = sampler.patterns({0: 2000}, node=None)
    assert grown[0].estimated_keys == 2000
    sample.records[b"order:1"] = record("order:1")
    sample.version += 1
    assert {p.pattern for p in sampler.patterns({0: 2000}, node=None)} == {"user:*", "order:*"}


def test_grouping_by_distinct_shapes_gives_every_key_its_pattern():
    keys = [f"user:{i}:profile" for i in range(30)] + [f"shop:{n}" for n in "abcdefghijk"]
    keys += ["config", "user:7:profile"]  # a repeat counts once
    grouping = group_keys(keys, token_cache={})
    assert grouping.of("user:3:profile") == "user:*:profile"
    assert {grouping.of(f"shop:{n}") for n in "abcdefghijk"} == {"shop:*"}
    assert grouping.of("config") == "config"
    assert tokens("user:3:profile") == ("user", ":", "*", ":", "profile")


def test_a_kept_list_gives_the_very_sessions_of_the_last_poll_until_one_is_due():
    pace = ClientPace()
    build(pace, fetched(line(5), line(6)), clock=0.0)
    poll = kept()
    pace.update(poll, 1.0, set())
    rows = Rows()
    client_rows(poll, rows, now=NOW, cluster=False, self_ids=set(), clock=1.0)
    again = kept()
    pace.update(again, 2.0, set())
    more = Rows()
    client_rows(again, more, now=NOW, cluster=False, self_ids=set(), clock=2.0)
    assert all(a is b for a, b in zip(rows.sessions, more.sessions, strict=True))
    due = kept()
    pace.update(due, 5.0, set())
    later = Rows()
    client_rows(due, later, now=NOW, cluster=False, self_ids=set(), clock=5.0)
    assert [s.duration_s for s in later.sessions] == [105.0, 105.0]


def test_client_findings_are_kept_while_the_sessions_are_the_same_objects():
    from dataclasses import replace

    from dbtop.engines.redis.antipatterns import ClientFindings

    pace = ClientPace()
    sessions = list(
        build(pace, fetched(line(5).replace("omem=0", "omem=99999999")), clock=0.0).values()
    )
    memo = ClientFindings()
    found = memo(sessions)
    assert [f.kind for f in found] == ["output_buffer"]
    assert memo(sessions) == found
    quiet = replace(sessions[0], extra=client_list(line(5))[0])
    assert memo([quiet]) == []  # another Session object: looked at again


def test_a_lines_items_are_its_fields_as_looked_up_by_name() -> None:
    # items() reads the line in one pass (the history's JSON of each re-made Session's
    # extra): the same pairs, in the same order, as iterating the names and looking up
    (row,) = client_list(line(7, name="seven", age=40, idle=30))
    row.add("flag_words", ("normal",))
    row.add("name", "overridden")  # an added field stands before the line's own
    for shown in (row, row.aged(5)):
        pairs = list(shown.items())
        assert pairs == [(name, shown[name]) for name in shown]
        assert len(shown.items()) == len(shown)
        assert ("idle", shown["idle"]) in shown.items()
    aged = dict(row.aged(5).items())
    assert (aged["age"], aged["idle"], aged["id"]) == (45, 35, "7")
    assert aged["server_time_usec"] == SERVER_US + 5_000_000
