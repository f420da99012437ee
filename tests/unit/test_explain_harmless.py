"""The pure parts of 'explain that cannot act': what a statement calls, per engine."""

from __future__ import annotations

import pytest

from dbtop.engines.mongodb import explain as mongo_explain
from dbtop.engines.mysql import explain as my_explain
from dbtop.engines.mysql import harmless as my_harmless
from dbtop.engines.postgresql import explain as pg_explain
from dbtop.engines.postgresql import harmless as pg_harmless
from dbtop.errors import RefusedError


def _pg_calls(sql: str) -> pg_harmless.Calls:
    parsed = pg_explain.parse(sql)
    assert parsed.stmt is not None
    return pg_harmless.collect(parsed.stmt)


# -- PostgreSQL ------------------------------------------------------------------------------


def test_pg_functions_are_found_everywhere_with_their_schema():
    calls = _pg_calls(
        "WITH c AS (SELECT s.f(1)) SELECT lower(x), (SELECT g()) FROM c, h() "
        "WHERE EXISTS (SELECT pg_catalog.k())"
    )
    assert calls.functions == {
        ("s", "f"),
        (None, "lower"),
        (None, "g"),
        (None, "h"),
        ("pg_catalog", "k"),
    }
    assert (None, "c") in calls.relations


def test_pg_operators_casts_and_relations_are_collected():
    calls = _pg_calls("SELECT a OPERATOR(myschema.+) b, 'x'::mytype FROM v WHERE c ~~ 'a'")
    assert ("myschema", "+") in calls.operators and (None, "~~") in calls.operators
    assert (None, "mytype") in calls.types
    assert calls.relations == {(None, "v")}


@pytest.mark.parametrize(
    "name",
    [
        "pg_cancel_backend",
        "pg_terminate_backend",
        "nextval",
        "pg_advisory_lock",
        "pg_try_advisory_xact_lock_shared",
        "lo_import",
        "dblink_exec",
        "set_config",
        "pg_notify",
        "pg_stat_statements_reset",
        "pg_reload_conf",
        "txid_current",
    ],
)
def test_pg_deny_list_names_the_function(name):
    with pytest.raises(RefusedError, match=rf"{name}\(\).*refused; plain EXPLAIN"):
        pg_harmless.check_names(_pg_calls(f"SELECT {name}(1)"))


def test_pg_harmless_names_pass_the_deny_list():
    pg_harmless.check_names(_pg_calls("SELECT count(*), lower('A'), now() FROM pg_class"))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * INTO t2 FROM t",
        "SELECT * FROM t FOR SHARE",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "VACUUM t",
        "SET search_path = x",
    ],
)
def test_pg_only_a_plain_read_is_analyzable(sql):
    assert not pg_explain.parse(sql).read_only


@pytest.mark.parametrize("sql", ["SELECT 1", "VALUES (1), (2)", "TABLE pg_class"])
def test_pg_plain_reads(sql):
    assert pg_explain.parse(sql).read_only


# -- MySQL / MariaDB ------------------------------------------------------------------------


def _my_calls(sql: str) -> my_harmless.Calls:
    prepared = my_explain.prepare(sql)
    assert prepared.tree is not None
    return my_harmless.collect(prepared.tree, prepared.sql)


@pytest.mark.parametrize(
    "name",
    [
        "SLEEP",
        "GET_LOCK",
        "RELEASE_LOCK",
        "RELEASE_ALL_LOCKS",
        "BENCHMARK",
        "LOAD_FILE",
        "MASTER_POS_WAIT",
        "SOURCE_POS_WAIT",
        "NEXTVAL",
        "LASTVAL",
        "SETVAL",
    ],
)
def test_my_deny_list_names_the_function(name):
    calls = _my_calls(f"SELECT a FROM t WHERE a IN (SELECT {name.lower()}(1, 2))")
    with pytest.raises(RefusedError, match=rf"{name}\(\)"):
        my_harmless.check_names(calls)


def test_my_every_called_name_is_collected_and_ctes_are_not_tables():
    calls = _my_calls(
        "WITH c AS (SELECT 1 AS x) SELECT `db`.`f`(x), ARRAY_AGG(x), count(*) FROM c, db2.v"
    )
    names = {name.lower() for _, name in calls.functions}
    assert {"f", "array_agg", "count"} <= names
    assert calls.tables == {("db2", "v")}
    assert calls.denied is None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a INTO OUTFILE '/tmp/x' FROM t",
        "SELECT a FROM t INTO DUMPFILE '/tmp/x'",
        "SELECT a FROM t FOR UPDATE",
        "SELECT a FROM t LOCK IN SHARE MODE",
        "SELECT NEXT VALUE FOR s",
        "SELECT 1 INTO @x",
    ],
)
def test_my_locking_writing_or_unparsed_selects_are_not_reads(sql):
    assert not my_explain.prepare(sql).is_read


# -- MongoDB ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ({"find": "c", "filter": {"$where": "sleep(1000)"}}, "$where"),
        ({"find": "c", "filter": {"$or": [{"a": 1}, {"$where": "true"}]}}, "$where"),
        ({"aggregate": "c", "pipeline": [{"$match": {"$expr": {"$function": {}}}}]}, "$function"),
        (
            {"aggregate": "c", "pipeline": [{"$group": {"_id": 1, "n": {"$accumulator": {}}}}]},
            "$accumulator",
        ),
        ({"aggregate": "c", "pipeline": [{"$facet": {"a": [{"$merge": "x"}]}}]}, "$merge"),
        ({"aggregate": "c", "pipeline": [{"$out": "x"}]}, "$out"),
    ],
)
def test_mongo_acting_operators_are_refused_by_name(command, named):
    assert mongo_explain.acting_operator(command) == named
    with pytest.raises(RefusedError, match=rf"\{named}"):
        mongo_explain.check_analyze(command)


def test_mongo_plain_reads_pass():
    mongo_explain.check_analyze({"find": "c", "filter": {"a": {"$gt": 1}}, "sort": {"b": 1}})
    mongo_explain.check_analyze({"aggregate": "c", "pipeline": [{"$match": {"a": 1}}]})
