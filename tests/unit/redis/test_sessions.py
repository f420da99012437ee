"""CLIENT LIST lines (as Redis 7.0 prints them) to Sessions."""

from datetime import UTC, datetime

from dbtop.engines.redis.commands import LIST_PUSH, PAUSE
from dbtop.engines.redis.sessions import (
    client_kind,
    client_session,
    decode_flags,
    parse_client_list,
    split_session_id,
)

NOW = datetime(2024, 1, 1, tzinfo=UTC)

LIST = (
    "id=15 addr=127.0.0.1:49178 laddr=127.0.0.1:7399 fd=8 name= age=31 idle=30 flags=b db=9 "
    "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=20474 argv-mem=7 multi-mem=0 rbs=1024 "
    "rbp=0 obl=0 oll=0 omem=0 tot-mem=22303 events=r cmd=blpop user=default redir=-1 resp=2\n"
    "id=18 addr=127.0.0.1:49200 laddr=127.0.0.1:7399 fd=9 name=worker=1 age=0 idle=0 flags=b "
    "db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=20474 argv-mem=5 multi-mem=0 rbs=1024 "
    "rbp=0 obl=0 oll=0 omem=0 tot-mem=22301 events=r cmd=set user=default redir=-1 resp=2\n"
    "id=19 addr=/tmp/r.sock:0 laddr=/tmp/r.sock:0 fd=11 name=dbtop age=5 idle=0 flags=U db=0 "
    "sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=10 multi-mem=0 rbs=16384 "
    "rbp=16384 obl=0 oll=0 omem=0 tot-mem=37658 events=r cmd=client|list user=default "
    "redir=-1 resp=2 lib-name=redis-py lib-ver=5.0.1\n"
    "id=20 addr=10.0.0.5:6000 laddr=127.0.0.1:7399 fd=12 name= age=100 idle=2 flags=x db=1 "
    "sub=0 psub=0 ssub=0 multi=3 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=120 rbs=1024 rbp=0 "
    "obl=0 oll=0 omem=0 tot-mem=2000 events=r cmd=set user=app redir=-1 resp=3\n"
    "id=21 addr=10.0.0.6:6000 laddr=127.0.0.1:7399 fd=13 name= age=100 idle=50 flags=P db=0 "
    "sub=2 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 "
    "obl=0 oll=0 omem=0 tot-mem=2000 events=r cmd=subscribe user=default redir=-1 resp=2\n"
    "id=22 addr=10.0.0.7:6000 laddr=127.0.0.1:7399 fd=14 name= age=100 idle=0 flags=S db=0 "
    "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 "
    "obl=0 oll=0 omem=0 tot-mem=2000 events=r cmd=replconf user=default redir=-1 resp=2\n"
    "id=23 addr=10.0.0.8:6000 laddr=127.0.0.1:7399 fd=15 name= age=100 idle=100 flags=N db=0 "
    "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 "
    "obl=0 oll=0 omem=0 tot-mem=2000 events=r cmd=NULL user=default redir=-1 resp=2\n"
)


def sessions(prefix="", node=None):
    return {
        s.id: (s, kind)
        for s, kind in (
            client_session(row, now=NOW, node=node, prefix=prefix, self_ids={19})
            for row in parse_client_list(LIST.encode())
        )
    }


def test_every_line_is_a_client_and_names_may_hold_equals_signs():
    rows = parse_client_list(LIST.encode())
    assert [r["id"] for r in rows] == ["15", "18", "19", "20", "21", "22", "23"]
    assert rows[1]["name"] == "worker=1"


def test_blocked_client_waits_for_a_push():
    session, kind = sessions()["15"]
    assert kind is LIST_PUSH
    assert session.state == "blocked"
    assert session.query == "BLPOP"
    assert session.blocked_by == ("list:BLPOP",)
    assert session.waiting_on_lock and not session.is_idle
    assert session.duration_s == 30
    assert session.database == "db9"
    assert session.extra["flag_words"] == ["blocked"]


def test_postponed_client_is_paused():
    session, kind = sessions()["18"]
    assert kind is PAUSE
    assert session.state == "paused"
    assert session.application == "worker=1"


def test_own_connection_is_marked_and_library_is_kept():
    session, _ = sessions()["19"]
    assert session.is_self
    assert session.query == "CLIENT LIST"
    assert session.extra["lib-name"] == "redis-py"
    assert session.extra["flag_words"] == ["unix socket"]


def test_multi_pubsub_replica_and_idle():
    all_ = sessions()
    assert all_["20"][0].state == "in MULTI" and all_["20"][0].in_transaction
    assert all_["21"][0].state == "subscribed" and all_["21"][0].kind == "pubsub"
    assert all_["21"][0].is_idle
    assert all_["22"][0].state == "replica" and not all_["22"][0].is_idle
    assert all_["23"][0].state == "idle" and all_["23"][0].query is None


def test_fields_keep_their_redis_names_and_numbers_are_numbers():
    session, _ = sessions()["20"]
    assert session.extra["multi-mem"] == 120
    assert session.extra["tot-mem"] == 2000
    assert session.extra["multi"] == 3 and session.extra["idle"] == 2
    assert session.extra["addr"] == "10.0.0.5:6000"


def test_cluster_ids_name_the_node():
    all_ = sessions(prefix="10.0.0.1:7000/", node="10.0.0.1:7000")
    session, _ = all_["10.0.0.1:7000/15"]
    assert session.node == "10.0.0.1:7000"
    assert session.blocked_by == ("10.0.0.1:7000/list:BLPOP",)
    assert split_session_id(session.id) == ("10.0.0.1:7000", "15")
    assert split_session_id("15") == (None, "15")


def test_flags_in_words():
    assert decode_flags("N") == ()
    assert decode_flags("bxZ") == ("blocked", "in MULTI", "flag Z")
    assert client_kind("M", 0) == "master"
    assert client_kind("O", 0) == "monitor"
    assert client_kind("N", 1) == "pubsub"


def test_client_line_is_a_read_only_mapping_over_the_line():
    rows = parse_client_list(LIST.encode())
    row = rows[0]
    assert row["fd"] == 8 and row["addr"] == "127.0.0.1:49178" and row["name"] == ""
    assert row.get("nosuch") is None and "qbuf-free" in row
    assert dict(row)["tot-mem"] == 22303
    assert len(row) == len(list(row))
    assert not hasattr(row, "__setitem__")


def test_a_line_with_other_fields_gets_its_own_layout():
    odd = LIST.splitlines()[0] + " extra-field=7\n" + LIST.splitlines()[1] + "\nnoise\n"
    rows = parse_client_list(odd.encode())
    assert [r["id"] for r in rows] == ["15", "18"]
    assert rows[0]["extra-field"] == 7 and "extra-field" not in rows[1]


def test_client_list_is_fetched_less_often_when_it_costs_the_server_more():
    from dbtop.engines.redis.collect import ClientPace, NodePoll

    pace = ClientPace()
    assert pace.due(0.0)

    def poll(usec, calls, fetched=True):
        return NodePoll(
            node="n",
            info={"cmdstat_client|list": f"calls={calls},usec={usec},usec_per_call=1"},
            clients=parse_client_list(LIST.encode()) if fetched else [],
            clients_fetched=fetched,
        )

    pace.update(poll(1_000, 10), now=0.0)
    pace.update(poll(31_000, 11), now=1.0)  # one call took 30 ms of the server's time
    assert pace.cost_ms == 30.0
    assert not pace.due(2.0)  # 30 ms at 1% of the server's time: every 3 s
    assert pace.due(4.0)
    skipped = poll(31_000, 11, fetched=False)
    pace.update(skipped, now=2.0)
    assert len(skipped.clients) == 7  # the last list stands in
    assert pace.age_s(3.0) == 2.0
