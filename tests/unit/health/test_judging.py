"""The pure health judges: each threshold on both sides, and the parsers of the servers'
own texts (SHOW ENGINE INNODB STATUS of MySQL 8, MySQL 8 stage events, MariaDB's
processlist progress, MongoDB's index build message)."""

from __future__ import annotations

from dbtop.analysis.health import by_severity, mongodb, mysql, postgresql, redis
from dbtop.analysis.health.postgresql import PgHealthFacts
from dbtop.analysis.progress import Tracker, attach, build
from dbtop.engines.mongodb.progress import from_operation, phase_of
from dbtop.engines.mysql.progress import command_of, mariadb_progress, mysql_progress
from dbtop.model import Finding, ServerSummary, Session, Severity, frozen

MYSQL8_STATUS = """
=====================================
2026-12-02 18:00:00 0x7f5e INNODB MONITOR OUTPUT
=====================================
------------------------
LATEST DETECTED DEADLOCK
------------------------
2026-12-02 17:59:58 140034
*** (1) TRANSACTION:
TRANSACTION 2834, ACTIVE 3 sec starting index read
mysql tables in use 1, locked 1
MySQL thread id 12, OS thread handle 1400, query id 88 localhost app updating
UPDATE `shop`.`stock` SET n = n - 1 WHERE sku = 7
*** (1) HOLDS THE LOCK(S):
RECORD LOCKS space id 3 page no 4 n bits 80 index PRIMARY of table `shop`.`stock` trx id 2834
*** (2) TRANSACTION:
TRANSACTION 2835, ACTIVE 2 sec starting index read
MySQL thread id 13, OS thread handle 1401, query id 89 localhost app updating
UPDATE orders SET state = 'paid' WHERE id = 3
*** (2) WAITING FOR THIS LOCK TO BE GRANTED:
RECORD LOCKS space id 4 page no 4 n bits 80 index PRIMARY of table `shop`.`orders` trx id 2835
*** WE ROLL BACK TRANSACTION (2)
------------
TRANSACTIONS
------------
Trx id counter 2840
History list length 123456
"""


def kinds(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.kind, f.object) for f in findings}


def test_mysql8_deadlock_and_history_are_parsed() -> None:
    found = mysql.latest_deadlock(MYSQL8_STATUS)
    assert found is not None
    assert found.tables == ("shop.orders", "shop.stock")
    assert found.threads == ("12", "13")
    assert found.victim == "2"
    assert found.at == "2026-12-02 17:59:58"
    assert found.queries[1].startswith("UPDATE orders")
    assert mysql.history_length(MYSQL8_STATUS) == 123456
    judged = mysql.judge(mysql.MyHealthFacts(history_length=123456, deadlock=found), [])
    assert kinds(judged) == {
        ("history_list_length", "InnoDB purge"),
        ("deadlock", "shop.orders, shop.stock"),
    }
    assert mysql.latest_deadlock("no deadlock section here") is None


def test_mysql_replication_threads_and_connections() -> None:
    replica = {
        "replica_io_running": "No",
        "replica_sql_running": "Yes",
        "lag_s": 400.0,
        "source_host": "db0",
        "last_io_error": "error connecting to source",
    }
    judged = mysql.judge(
        mysql.MyHealthFacts(
            status={"threads_connected": "145", "connections": "1000", "aborted_connects": "200"},
            max_connections=151,
            replica=replica,
        ),
        [],
    )
    by_kind = {f.kind: f for f in judged}
    assert by_kind["replication_stopped"].object == "replica IO thread"
    assert "error connecting" in by_kind["replication_stopped"].message
    assert by_kind["replication_lag"].severity is Severity.CRITICAL
    assert by_kind["connections_near_limit"].severity is Severity.CRITICAL
    assert by_kind["aborted_connections"].object == "Aborted_connects"
    calm = mysql.judge(
        mysql.MyHealthFacts(status={"threads_connected": "10"}, max_connections=151), []
    )
    assert calm == []


def test_mysql8_stage_events_and_mariadb_progress() -> None:
    rows = [
        {
            "ID": 42,
            "EVENT_NAME": "stage/innodb/alter table (read PK and internal sort)",
            "WORK_COMPLETED": 250,
            "WORK_ESTIMATED": 1000,
            "INFO": b"ALTER TABLE t ADD INDEX",
        }
    ]
    progress = mysql_progress(rows)["42"]
    assert (progress.command, progress.phase, progress.percent) == (
        "ALTER TABLE",
        "alter table (read PK and internal sort)",
        25.0,
    )
    maria = mariadb_progress(
        [
            {
                "ID": 7,
                "STAGE": 1,
                "MAX_STAGE": 2,
                "PROGRESS": 37.5,
                "STATE": b"copy to tmp table",
                "INFO": b"alter table t engine=innodb",
            }
        ]
    )
    assert maria["7"].percent == 37.5
    assert maria["7"].phase == "stage 1 of 2: copy to tmp table"
    assert command_of("create unique index u on t (a)") == "CREATE INDEX"


def test_mongodb_index_build_message() -> None:
    msg = "Index Build: scanning collection Index Build: scanning collection: 4000/100000 4%"
    assert phase_of(msg) == ("index build", "scanning collection")
    progress = from_operation(frozen(msg=msg, progress={"done": 4000, "total": 100000}))
    assert progress is not None and progress.percent == 4.0
    assert from_operation(frozen(msg="", progress=None)) is None


def test_eta_from_two_observations_of_the_same_phase() -> None:
    tracker = Tracker()
    sessions = (Session(id="1"),)
    first = attach(sessions, {"1": build("VACUUM", "scanning heap", 10, 100)}, tracker, 100.0)
    assert first[0].progress is not None and first[0].progress.eta_s is None
    second = attach(sessions, {"1": build("VACUUM", "scanning heap", 30, 100)}, tracker, 110.0)
    assert second[0].progress is not None and second[0].progress.eta_s == 35.0  # 70 % at 2 %/s
    other = attach(sessions, {"1": build("VACUUM", "vacuuming indexes", 1, 10)}, tracker, 111.0)
    assert other[0].progress is not None and other[0].progress.eta_s is None
    assert attach(sessions, {}, tracker, 112.0) == sessions


def test_postgres_sequence_against_its_column_type() -> None:
    row = {
        "sequence": "public.t_id_seq",
        "data_type": "bigint",
        "min_value": 1,
        "max_value": 2**63 - 1,
        "increment_by": 1,
        "cycle": False,
        "last_value": int(0.8 * 2**31),
        "table": "public.t",
        "column": "id",
        "column_type": "integer",
    }
    judged = postgresql.sequence_exhaustion([row])
    assert kinds(judged) == {("sequence_exhaustion", "public.t_id_seq")}
    assert judged[0].severity is Severity.WARNING
    assert judged[0].statement == 'ALTER TABLE public.t ALTER COLUMN "id" TYPE bigint;'
    assert postgresql.sequence_exhaustion([{**row, "last_value": 1000}]) == []
    assert postgresql.sequence_exhaustion([{**row, "last_value": None}]) == []


def test_postgres_wraparound_horizon_slots_and_checkpoints() -> None:
    facts = PgHealthFacts(
        settings={"autovacuum_freeze_max_age": "200000000", "max_wal_size": "1024"},
        databases=[{"datname": "big", "xid_age": 1_100_000_000}, {"datname": "ok", "xid_age": 10}],
        tables_age=[{"relation": "public.old", "xid_age": 300_000_000}],
        horizon=[
            {"holder": "slot", "who": "s1", "xid_age": 20_000_000, "age_s": None},
            {"holder": "session", "who": "42", "xid_age": 5, "age_s": 7200.0},
        ],
        slots=[
            {
                "slot_name": "s1",
                "slot_type": "logical",
                "active": True,
                "retained_bytes": 3 * 1024**3,
                "wal_status": "extended",
            }
        ],
        checkpoints={"timed": 10, "requested": 40},
    )
    judged = postgresql.judge(facts, [])
    assert kinds(judged) == {
        ("xid_wraparound", "database big"),
        ("xid_wraparound", "public.old"),
        ("xmin_horizon", "slot s1"),
        ("xmin_horizon", "session 42"),
        ("replication_slot_wal", "s1"),
        ("checkpoint_pressure", "checkpoints"),
    }
    assert by_severity(judged)[0].severity is Severity.CRITICAL  # the database past 1 B


def test_postgres_bloat_vacuum_and_connections() -> None:
    bloat = {
        "relation": "public.b",
        "relpages": 100_000,
        "reltuples": 100_000.0,
        "block_size": 8192,
        "fillfactor": 100,
        "row_width": 36.0,
    }
    assert kinds(postgresql.bloat_estimate([bloat])) == {("bloat_estimate", "public.b")}
    assert postgresql.bloat_estimate([{**bloat, "relpages": 900}]) == []
    facts = PgHealthFacts(
        vacuum=[
            {
                "relation": "public.v",
                "n_dead_tup": 500_000,
                "n_live_tup": 1_000_000,
                "last_vacuum_s": None,
            }
        ]
    )
    assert kinds(postgresql.vacuum_overdue(facts.settings, facts.vacuum)) == {
        ("vacuum_overdue", "public.v")
    }
    near = postgresql.connections_near_limit(PgHealthFacts(), 95, 100)
    assert near and near[0].severity is Severity.CRITICAL
    assert postgresql.connections_near_limit(PgHealthFacts(), 20, 100) == []


def test_redis_memory_replicas_and_blocked() -> None:
    info = {
        "used_memory": str(99 * 1024**2),
        "maxmemory": str(100 * 1024**2),
        "evicted_keys": "500",
        "master_repl_offset": str(200 * 1024**2),
        "slave0": f"ip=10.0.0.2,port=6380,state=online,offset={10 * 1024**2},lag=0",
        "blocked_clients": "3",
        "connected_clients": "40",
    }
    judged = redis.judge(info, {"maxmemory-policy": "allkeys-lru"}, evicted_per_s=50.0)
    assert kinds(judged) == {
        ("memory_near_limit", "server"),
        ("replication_lag", "10.0.0.2:6380"),
        ("blocked_clients", "server"),
    }
    assert {f.kind: f.severity for f in judged}["blocked_clients"] is Severity.INFO
    quiet = redis.judge({"used_memory": "10", "maxmemory": "0"}, {})
    assert quiet == []


def test_mongodb_members_tickets_cache_and_oplog() -> None:
    server = ServerSummary(
        engine="mongodb",
        address="x",
        version="7.0",
        extra=frozen(
            members=[
                {"name": "a:1", "state": "PRIMARY", "health": 1.0, "lag_s": None},
                {"name": "b:1", "state": "SECONDARY", "health": 1.0, "lag_s": 30.0},
                {"name": "c:1", "state": "(not reachable/healthy)", "health": 0.0},
            ],
            tickets={"read": {"out": 10, "available": 118}, "write": {"out": 120, "available": 8}},
            cache_bytes=50,
            cache_max_bytes=100,
            cache_dirty_bytes=25,
        ),
    )
    oplog = mongodb.Oplog(first_s=0.0, last_s=7200.0, size_bytes=95, max_bytes=100)
    judged = mongodb.judge(server, [], oplog)
    assert kinds(judged) == {
        ("replication_lag", "b:1"),
        ("replica_member_state", "c:1"),
        ("wiredtiger_tickets", "write tickets"),
        ("cache_pressure", "WiredTiger cache"),
        ("oplog_window", "local.oplog.rs"),
    }
    # an oplog not yet full says nothing about the window
    assert mongodb.oplog_window(mongodb.Oplog(0.0, 60.0, 10, 100)) == []


def test_redis_loading_and_background_save_progress() -> None:
    from dbtop.engines.redis.progress import findings

    info = {
        "loading": "1",
        "loading_loaded_perc": "42.00",
        "loading_eta_seconds": "12",
        "loading_loaded_bytes": "420",
        "loading_total_bytes": "1000",
        "rdb_bgsave_in_progress": "1",
        "rdb_current_bgsave_time_sec": "3",
        "current_save_keys_processed": "250",
        "current_save_keys_total": "1000",
    }
    found = {f.kind: f for f in findings([(None, info, {})])}
    loading = found["loading"].extra["progress"]
    assert (loading.percent, loading.eta_s) == (42.0, 12.0)
    saving = found["persistence_in_progress"]
    assert saving.object == "server BGSAVE"
    assert saving.extra["progress"].percent == 25.0
    assert findings([(None, {"loading": "0"}, {})]) == []


def test_postgres_long_transactions_are_client_backends_only() -> None:
    old = Session(id="7", user="app", kind="client backend", state="active", xact_age_s=4000.0)
    worker = Session(id="8", kind="autovacuum worker", state="active", xact_age_s=4000.0)
    judged = postgresql.long_transactions([old, worker])
    assert kinds(judged) == {("long_transaction", "7")}
    assert judged[0].severity is Severity.CRITICAL
    assert judged[0].statement == "SELECT pg_cancel_backend(7);"
