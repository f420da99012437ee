"""PostgreSQL: dbtop's own statements are recognised in pg_stat_statements (issue 12)."""

from __future__ import annotations

import pytest

from dbtop.engines.postgresql.statements import is_own_statement

OWN_ANYONE = [
    "SELECT /* dbtop */ a.pid FROM pg_stat_activity a",
    "/* dbtop */ BEGIN READ ONLY",
    "DO $dbtop_do$ DECLARE plan text; BEGIN EXECUTE $dbtop_q$EXPLAIN (GENERIC_PLAN) "
    "SELECT 1$dbtop_q$ INTO plan; END $dbtop_do$",
    "SELECT current_setting('dbtop.generic_plan')",
    "SAVEPOINT dbtop_track",
    "ROLLBACK TO SAVEPOINT dbtop_prepare",
]
OWN_ROLE_ONLY = [
    "BEGIN READ ONLY;",
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;",
    "ROLLBACK;",
    "SELECT pg_cancel_backend($1)",
    "SELECT pg_terminate_backend($1, $2)",
]


@pytest.mark.parametrize("query", OWN_ANYONE)
def test_dbtops_marked_and_named_statements_are_own_whoever_ran_them(query):
    assert is_own_statement(query, own_role=False)


@pytest.mark.parametrize("query", OWN_ROLE_ONLY)
def test_unmarked_action_statements_are_own_only_under_dbtops_role(query):
    assert is_own_statement(query, own_role=True)
    assert not is_own_statement(query, own_role=False)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM orders WHERE id = $1",
        "UPDATE t SET note = $1 WHERE id = $2",
        "BEGIN READ ONLY; SELECT 1",
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE state = $1",
    ],
)
def test_the_workload_is_kept(query):
    assert not is_own_statement(query, own_role=True)
