"""What differs between MariaDB and MySQL 8, decided from one record, and the SQL each gets.

The MySQL 8 statements cannot run here (the machine has MariaDB): they are checked to parse
as MySQL and to carry the time limit."""

from __future__ import annotations

import sqlglot

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import locks, statements
from dbtop.engines.mysql.capabilities import grantee, replication_grant
from dbtop.engines.mysql.connection import session_settings, with_time_limit
from dbtop.engines.mysql.explain import Prepared, explain_sql, session_explain_sql
from dbtop.engines.mysql.flavor import from_variables, parse_version
from dbtop.engines.mysql.kill import kill_grant_hint, kill_sql, provider, thread_id
from dbtop.model import KillMode

MYSQL8 = from_variables(
    {"version": "8.0.36", "version_comment": "MySQL Community Server - GPL",
     "performance_schema": "ON", "log_output": "FILE"}
)  # fmt: skip
MARIADB = from_variables(
    {"version": "10.11.19-MariaDB-0+deb12u1", "version_comment": "Debian 12",
     "performance_schema": "OFF", "log_output": "FILE,TABLE", "slow_query_log": "ON"}
)  # fmt: skip
MYSQL57 = from_variables({"version": "5.7.44-log", "version_comment": "MySQL Community Server"})


def test_flavor_detection():
    assert MYSQL8.name == "mysql" and MYSQL8.version == (8, 0, 36) and MYSQL8.has_data_locks
    assert MYSQL8.has_execution_time_hint and not MYSQL8.has_statement_time
    assert MARIADB.name == "mariadb" and MARIADB.has_innodb_lock_waits and MARIADB.slow_log_table
    assert MARIADB.has_statement_time and MARIADB.has_show_explain_json
    assert MYSQL57.has_innodb_lock_waits and not MYSQL57.has_data_locks
    assert parse_version("5.5.5-10.6.12-MariaDB") == (5, 5, 5)
    assert MARIADB.version_num == 101119


def test_time_limits_per_flavor():
    options = ConnectOptions(statement_timeout_ms=1500, lock_timeout_ms=100)
    mariadb = session_settings(MARIADB, options)
    assert "SET SESSION max_statement_time = 1.500" in mariadb
    assert "SET SESSION TRANSACTION READ ONLY" in mariadb
    assert "SET SESSION lock_wait_timeout = 1" in mariadb
    mysql = session_settings(MYSQL8, options)
    assert "SET SESSION max_execution_time = 1500" in mysql
    assert not any("max_statement_time" in s for s in mysql)
    hinted = with_time_limit("SELECT a FROM t", MYSQL8, 1500)
    assert hinted == "SELECT /*+ MAX_EXECUTION_TIME(1500) */ a FROM t"
    assert with_time_limit("SELECT a FROM t", MARIADB, 1500) == "SELECT a FROM t"
    assert with_time_limit("SHOW GLOBAL STATUS", MYSQL8, 1500) == "SHOW GLOBAL STATUS"


def test_mysql8_monitor_statements_parse_and_carry_the_hint():
    for sql in (
        locks.DATA_LOCK_WAITS,
        locks.MDL_PENDING,
        statements.digest_sql(MYSQL8),
        locks.MDL_ON_OBJECTS.format(objects="(ml.OBJECT_SCHEMA = 'a' AND ml.OBJECT_NAME = 'b')"),
    ):
        limited = with_time_limit(sql.strip(), MYSQL8, 2000)
        assert "MAX_EXECUTION_TIME(2000)" in limited
        assert sqlglot.parse_one(sql, read="mysql") is not None
    assert "QUERY_SAMPLE_TEXT" in statements.digest_sql(MYSQL8)
    assert "QUERY_SAMPLE_TEXT" not in statements.digest_sql(MARIADB)


def test_explain_statements_per_flavor():
    read = Prepared("SELECT 1", is_read=True)
    assert explain_sql(read, MYSQL8, analyze=True) == ("EXPLAIN ANALYZE SELECT 1", "tree")
    assert explain_sql(read, MARIADB, analyze=True) == ("ANALYZE FORMAT=JSON SELECT 1", "json")
    assert explain_sql(read, MYSQL8, analyze=False)[0] == "EXPLAIN FORMAT=JSON SELECT 1"
    assert session_explain_sql(MYSQL8, 42) == ("EXPLAIN FORMAT=JSON FOR CONNECTION 42", "json")
    assert session_explain_sql(MARIADB, 42) == ("SHOW EXPLAIN FORMAT=JSON FOR 42", "json")
    old = from_variables({"version": "10.6.1-MariaDB"})
    assert session_explain_sql(old, 42) == ("SHOW EXPLAIN FOR 42", "table")


def test_kill_statements_and_managed_services():
    assert kill_sql(12, KillMode.CANCEL) == "KILL QUERY 12"
    assert kill_sql(12, KillMode.TERMINATE) == "KILL CONNECTION 12"
    assert kill_sql(12, KillMode.CANCEL, "rds") == "CALL mysql.rds_kill_query(12)"
    assert kill_sql(12, KillMode.TERMINATE, "azure") == "CALL mysql.az_kill(12)"
    assert provider({"rds_kill", "rds_kill_query"}) == "rds" and provider({"rds_kill"}) is None
    assert thread_id(" 77 ") == 77
    assert "CONNECTION_ADMIN" in kill_grant_hint(False, (8, 0, 36))
    assert "CONNECTION ADMIN" in kill_grant_hint(True, (10, 11, 0))


def test_grant_names():
    assert grantee("app@10.0.%") == "'app'@'10.0.%'"
    assert replication_grant(MYSQL8) == "REPLICATION CLIENT"
    assert replication_grant(MARIADB) == "SLAVE MONITOR"
