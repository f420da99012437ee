"""``dbtop profile``: the profiler switched on through the real command, asked first,
refused read-only, and declined by engines that need no profiler."""

from __future__ import annotations

from tests.integration.mongodb.conftest import shop_world

from .test_cli import dbtop


def test_profile_turns_the_profiler_on_with_yes(mongo):
    run = dbtop("profile", mongo.url, "crm", "--slowms", "50", "--yes")
    assert run.code == 0, run.err
    assert run.out.strip() == "profiler of crm: level 1, slowms 50 (was level 0, slowms 100)"
    sent = [c for c in mongo.commands("profile") if c["profile"] != -1]
    assert [(c["profile"], c["slowms"], c["$db"]) for c in sent] == [(1, 50, "crm")]


def test_profile_asks_first_and_does_nothing_without_a_terminal(mongo):
    run = dbtop("profile", mongo.url, "crm", stdin="")
    assert run.code == 2 and run.err.startswith("dbtop: ") and "--yes" in run.err
    assert not [c for c in mongo.commands("profile") if c["profile"] != -1]


def test_profile_is_refused_read_only(mongo):
    run = dbtop("--read-only", "profile", mongo.url, "crm", "--yes")
    assert run.code == 2 and "read-only" in run.err
    assert not [c for c in mongo.commands("profile") if c["profile"] != -1]


def test_engines_without_a_profiler_say_so():
    run = dbtop("profile", "redis://127.0.0.1:6379/9", "x", "--yes")
    assert run.code == 2
    assert "without a profiler" in run.err


def test_profile_on_a_mongos_says_why(mongo):
    server = mongo.reset(shop_world(kind="mongos"))
    run = dbtop("profile", server.url, "crm", "--yes")
    assert run.code == 2
    assert "cannot switch the profiler through mongos" in run.err
    assert not [c for c in server.commands("profile") if c["profile"] != -1]
