"""currentOp documents as sessions, URLs and driver errors as one line, index rows and
findings, the catalog's bounded choice of collections."""

import datetime as dt

import pytest
from bson.binary import Binary
from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ProtocolError,
)

from dbtop.engines.mongodb import indexes, kill, sessions
from dbtop.engines.mongodb.connection import address_of, redact_message, split_url, translate
from dbtop.errors import (
    AuthError,
    ConnectError,
    PrivilegeError,
    QueryError,
    RefusedError,
    UsageError,
)
from dbtop.model import KillMode
from tests.integration.mongodb import fixtures as fx

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def parsed(doc, app="dbtop-1"):
    op = sessions.parse(doc, app_name=app, node="me:27017")
    assert op is not None
    return op


@pytest.fixture
def ops():
    return {d.get("opid", d.get("type")): d for d in fx.current_ops(NOW)}


def test_operation_ids(ops):
    assert sessions.operation_id(ops[202]) == "202"
    assert sessions.operation_id({"opid": "shard01:77"}) == "shard01:77"
    assert sessions.operation_id(ops["idleSession"]) == f"session:{fx.SESSION_UUID}"
    assert sessions.operation_id(fx.idle_connection(NOW)) == "conn77"
    assert sessions.operation_id({"type": "op"}) is None


def test_sessions_from_current_op(ops):
    create = sessions.to_session(parsed(ops[202]), now=NOW, lock_wait=("Collection", "X"))
    assert create.state == "waiting for lock" and create.waiting_on_lock
    assert create.wait == "lock Collection X"
    assert create.duration_s == pytest.approx(40.123456)
    assert create.query_start == NOW - dt.timedelta(seconds=40.123456)
    assert create.user == "dba" and create.extra["user_db"] == "admin"
    assert create.database == "shop"
    assert create.node == "db1.example.net:27017"
    assert create.extra["command_name"] == "createIndexes"
    assert create.extra["locks"]["Collection"] == "W"

    txn = sessions.to_session(parsed(ops["idleSession"]), now=NOW)
    assert txn.is_idle and txn.in_transaction and txn.state == "idle in transaction"
    assert txn.xact_age_s == 65 and txn.duration_s is None
    assert txn.extra["lsid"] == str(fx.SESSION_UUID)

    getmore = sessions.to_session(parsed(ops[505]), now=NOW)
    assert getmore.query.startswith("getMore: db.orders.aggregate([{ $match: { status:")

    pending = sessions.to_session(parsed(ops[707]), now=NOW)
    assert pending.state == "killPending" and pending.extra["kill_pending"]


def test_awkward_operation(ops):
    odd = sessions.to_session(parsed(ops[808]), now=NOW)
    assert odd.duration_s is None and odd.user is None
    assert odd.database == "crm"
    assert odd.application == "\x1b[31mrot\x1b[0m-Zählwerk"  # kept; the UI shows it escaped
    assert "\x1b" not in odd.query
    assert 'kennung: BinData(0, "AP8QYmluYXJ5G1sySg==")' in odd.query
    huge = sessions.to_session(parsed(ops[909]), now=NOW)
    assert len(huge.query) <= sessions.QUERY_LIMIT + 1


def test_self_and_internal(ops):
    assert parsed({**ops[404], "appName": "dbtop-1"}).is_self
    assert not parsed(ops[404]).is_self
    ttl = parsed(ops[606])
    assert ttl.internal
    assert sessions.to_session(ttl, now=NOW).query is None
    assert not parsed(ops[404]).internal


def test_kill_targets_and_refusals(ops):
    assert kill.target_match("404") == {"opid": 404}
    assert kill.target_match("shard01:404") == {"opid": "shard01:404"}
    assert kill.target_match("conn77") == {"connectionId": 77}
    match = kill.target_match(f"session:{fx.SESSION_UUID}")
    assert match == {"lsid.id": Binary.from_uuid(fx.SESSION_UUID)}
    with pytest.raises(UsageError):
        kill.target_match("drop table")
    with pytest.raises(RefusedError, match="dbtop's own"):
        kill.check(parsed({**ops[404], "appName": "dbtop-1"}), KillMode.CANCEL)
    with pytest.raises(RefusedError, match="server thread"):
        kill.check(parsed(ops[606]), KillMode.CANCEL)
    with pytest.raises(RefusedError, match="no operation to kill"):
        kill.check(parsed(ops["idleSession"]), KillMode.CANCEL)
    with pytest.raises(RefusedError, match="no logical session"):
        kill.check(parsed(ops[202] | {"lsid": None}), KillMode.TERMINATE)
    assert kill.kill_command(parsed(ops[404]), KillMode.CANCEL) == {"killOp": 1, "op": 404}
    assert kill.kill_command(parsed(ops["idleSession"]), KillMode.TERMINATE) == {
        "killSessions": [{"id": Binary.from_uuid(fx.SESSION_UUID)}]
    }


def test_urls_never_show_a_password():
    parts = split_url("mongodb://app:s3cr%40t@h1:27017,h2/shop?replicaSet=rs0&tls=true")
    assert parts.user == "app" and parts.hosts == ("h1:27017", "h2") and parts.database == "shop"
    assert address_of(parts) == "app@h1:27017,h2/shop"
    srv = split_url("mongodb+srv://u:p@cluster0.example.net/?retryWrites=true")
    assert address_of(srv) == "u@cluster0.example.net (srv)"
    sock = split_url("mongodb://%2Ftmp%2Fmongodb-27017.sock")
    assert sock.hosts == ("/tmp/mongodb-27017.sock",)
    assert split_url("mongodb://h?directConnection=true").options == "directConnection=true"
    for bad in ("mongodb://", "mongodb:/h", "postgresql://h"):
        with pytest.raises(UsageError):
            split_url(bad)
    assert redact_message("bad mongodb://u:pw@h/x") == "bad mongodb://u:***@h/x"


def test_driver_errors_become_one_line():
    def err(exc, **kw):
        return translate(exc, action="reading", address="h:1", **kw)

    auth = err(
        OperationFailure("Authentication failed.", 18, {"errmsg": "Authentication failed."}),
        user="app",
    )
    assert isinstance(auth, AuthError) and "'app'" in str(auth) and "authSource" in str(auth)
    denied = err(OperationFailure("x", 13, {"errmsg": "not authorized on admin", "code": 13}))
    assert isinstance(denied, PrivilegeError) and "clusterMonitor" in str(denied)
    assert isinstance(err(ExecutionTimeout("x", 50)), QueryError)
    bad = err(
        OperationFailure("x", 2, {"errmsg": "unknown operator: $foo", "codeName": "BadValue"})
    )
    assert str(bad) == "reading: unknown operator: $foo (BadValue)"
    lost = err(AutoReconnect("h:1: connection closed"))
    assert isinstance(lost, ConnectError) and "\n" not in str(lost)
    assert isinstance(err(NetworkTimeout("timed out")), ConnectError)
    assert isinstance(err(TimeoutError()), ConnectError)
    assert "not a MongoDB server" in str(
        err(ProtocolError("Message length (1347703880) is larger"))
    )
    srv = err(ConfigurationError("The DNS query name does not exist: _mongodb._tcp.x.invalid."))
    assert isinstance(srv, ConnectError) and str(srv).startswith("cannot reach MongoDB at h:1: ")
    assert isinstance(err(ConfigurationError("bad option")), UsageError)


def test_index_rows_unused_redundant_and_sizes():
    since = NOW - dt.timedelta(days=10)
    docs = [
        fx.index_stat("_id_", {"_id": 1}, ops=0, since=since),
        fx.index_stat("a_1", {"a": 1}, ops=3, since=since),
        fx.index_stat("a_1_b_-1", {"a": 1, "b": -1}, ops=9, since=since),
        fx.index_stat("a_1_copy", {"a": 1}, ops=0, since=since),
        fx.index_stat("u_1", {"u": 1}, ops=0, since=since, unique=True),
        fx.index_stat("u_1_v_1", {"u": 1, "v": 1}, ops=1, since=since),
        fx.index_stat("ttl", {"at": 1}, ops=0, since=since, expireAfterSeconds=60),
        fx.index_stat("p_1", {"p": 1}, ops=2, since=since, partialFilterExpression={"x": 1}),
        fx.index_stat("p_1_q_1", {"p": 1, "q": 1}, ops=2, since=since),
        fx.index_stat("t_text", {"_fts": "text", "_ftsx": 1}, ops=0, since=NOW),
        fx.index_stat("new_1", {"n": 1}, ops=0, since=NOW - dt.timedelta(hours=2)),
    ]
    rows = {r.name: r for r in indexes.index_rows("shop", "c", docs, {"a_1": 123}, NOW)}
    assert rows["_id_"].is_primary and not rows["_id_"].unused
    assert rows["a_1"].duplicate_of == "a_1_b_-1" and rows["a_1"].size_bytes == 123
    assert rows["a_1_copy"].duplicate_of == "a_1_b_-1" and rows["a_1_copy"].unused
    assert rows["u_1"].duplicate_of is None and rows["u_1"].unused and rows["u_1"].is_unique
    assert not rows["ttl"].unused and rows["ttl"].extra["ttl_s"] == 60
    assert rows["p_1"].duplicate_of is None  # a partial index is not the other's prefix
    assert rows["t_text"].extra["type"] == "text" and not rows["t_text"].unused
    assert not rows["new_1"].unused  # two hours of statistics say little
    assert rows["a_1_b_-1"].definition == ('db.getSiblingDB("shop").c.createIndex({ a: 1, b: -1 })')
    assert rows["a_1_copy"].definition.endswith('createIndex({ a: 1 }, { name: "a_1_copy" })')
    findings = indexes.index_findings(rows.values(), [])
    kinds = {(f.kind, f.object) for f in findings}
    assert ("unused_index", "shop.c.u_1") in kinds
    assert ("redundant_index", "shop.c.a_1") in kinds
    unique = next(f for f in findings if f.object == "shop.c.u_1")
    assert "uniqueness" in unique.warning
    assert unique.statement == 'db.getSiblingDB("shop").c.dropIndex("u_1")'
    redundant = next(f for f in findings if f.object == "shop.c.a_1")
    assert redundant.warning.endswith('db.getSiblingDB("shop").c.hideIndex("a_1")')


def test_sharded_index_rows_are_summed():
    since = NOW - dt.timedelta(days=3)
    docs = [
        fx.index_stat("a_1", {"a": 1}, ops=3, since=since, shard="s1"),
        fx.index_stat("a_1", {"a": 1}, ops=4, since=since - dt.timedelta(days=1), shard="s2"),
    ]
    (row,) = indexes.index_rows("shop", "c", docs, {}, NOW)
    assert row.scans == 7 and row.node == "s1,s2"
    assert row.extra["since"] == since - dt.timedelta(days=1)
    assert dict(row.extra["shards"]) == {"s1": 3, "s2": 4}
    stats = [
        fx.coll_stats("shop.c", count=10, avg=10, index_sizes={"a_1": 5}, shard="s1", collscans=2),
        fx.coll_stats("shop.c", count=20, avg=10, index_sizes={"a_1": 7}, shard="s2", collscans=1),
    ]
    table = indexes.table_stat("shop", "c", stats, 7)
    assert table.live_rows == 30 and table.seq_scans == 9 and table.index_scans == 7
    assert table.node == "s1,s2"
    assert indexes.index_sizes(stats) == {"a_1": 12}
