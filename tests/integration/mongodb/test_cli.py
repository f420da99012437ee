"""The real ``dbtop`` command (its own process) against the scripted server."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dbtop.model import ServerSummary, Snapshot
from tests.integration.mongodb import fixtures as fx


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> dict:
        return json.loads(self.out)


def dbtop(*args: str, stdin: str | None = None) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
        cwd=Path(__file__).parent,
    )
    return Run(proc)


def test_snapshot_json_has_the_keys_of_every_engine(mongo):
    run = dbtop("snapshot", mongo.url, "--json", "--interval", "0.2")
    assert run.code == 0, run.err
    document = run.json()
    odd = next(s for s in document["sessions"] if s["id"] == "808")
    assert odd["application"] == "\x1b[31mrot\x1b[0m-Zählwerk"  # JSON escapes it
    assert "\\u001b" in run.out or "\\x1b" not in run.out
    expected = {f.name for f in dataclasses.fields(Snapshot)}
    assert set(document) == expected | {
        "format",
        "lock_roots",
        "lock_cycles",
        "blocked_count",
        "lock_frees",
    }
    assert set(document["server"]) == {f.name for f in dataclasses.fields(ServerSummary)}
    assert document["engine"] == "mongodb"
    assert document["capabilities"]["labels"]["sessions"] == "Operations"
    assert document["rates"]["server"]["ops"] > 0
    assert f"session:{fx.SESSION_UUID}" in document["lock_roots"]
    assert document["blocked_count"]["404"] == 2
    ids = {s["id"] for s in document["sessions"]}
    assert {"202", "303", "404"} <= ids


def test_snapshot_human_output_shows_server_text_literally(mongo):
    run = dbtop("snapshot", mongo.url, "--interval", "0", "--all")
    assert run.code == 0, run.err
    assert "mongodb 7.0.12" in run.out
    assert "\x1b" not in run.out  # escape sequences in server text are shown, not obeyed
    assert 'db.getCollection("zähler").find(' in run.out
    assert "db.orders.find({ customer_id: ?, total: { $gte: ? } })" in run.out


def test_kill(mongo):
    run = dbtop("kill", mongo.url, "404", "--yes")
    assert run.code == 0, run.err
    assert run.out.startswith("killOp sent to operation 404")
    assert mongo.commands("killOp")[0]["op"] == 404


def test_kill_refused_in_read_only_mode_and_for_a_gone_operation(mongo):
    run = dbtop("--read-only", "kill", mongo.url, "404", "--yes")
    assert run.code == 2 and "read-only" in run.err
    gone = dbtop("kill", mongo.url, "123456", "--yes")
    assert gone.code == 2
    assert gone.err.strip() == (
        "dbtop: operation 123456 is not running any more (it ended after the last refresh)"
    )
    assert not mongo.commands("killOp")


def test_explain(mongo):
    run = dbtop(
        "explain",
        mongo.url_for("shop"),
        "--query",
        "db.orders.find({ customer_id: 7, total: { $gte: 1 } }).sort({ created_at: -1 })",
        "--json",
    )
    assert run.code == 0, run.err
    document = run.json()
    assert document["engine"] == "mongodb"
    assert document["tree"]["name"] == "SORT"
    assert document["tree"]["children"][0]["name"] == "COLLSCAN"
    human = dbtop("explain", mongo.url, "--session", "404", "--analyze")
    assert human.code == 0, human.err
    assert "COLLSCAN" in human.out and "docs" not in human.err


def test_explain_a_query_from_stdin_and_a_bad_query(mongo):
    run = dbtop(
        "explain", mongo.url_for("shop"), "--query", "-", stdin="db.customers.find({ email: 'a' })"
    )
    assert run.code == 0, run.err
    assert "IXSCAN" in run.out and "email_1" in run.out
    bad = dbtop("explain", mongo.url_for("shop"), "--query", "db.orders.find({ a: 1")
    assert bad.code == 2
    assert bad.err.count("\n") == 1 and "cannot read the query" in bad.err


def test_suggest(mongo):
    run = dbtop("suggest", mongo.url, "--json")
    assert run.code == 0, run.err
    document = run.json()
    (suggestion,) = document["suggestions"]
    assert suggestion["statement"] == (
        'db.getSiblingDB("shop").orders.createIndex({ customer_id: 1, created_at: -1, total: 1 })'
    )
    human = dbtop("suggest", mongo.url, "--rejected")
    assert human.code == 0, human.err
    assert "createIndex({ customer_id: 1, created_at: -1, total: 1 })" in human.out
    assert "already served by index email_1" in human.out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mongodb://127.0.0.1:1/", "cannot reach MongoDB at 127.0.0.1:1: "),
        ("mongodb://h/?tls=ture", "bad MongoDB URL option"),
    ],
)
def test_errors_are_one_line_with_status_2(url, expected):
    run = dbtop("snapshot", "--connect-timeout", "1", url)
    assert run.code == 2
    assert run.err.startswith(f"dbtop: {expected}")
    assert run.err.count("\n") == 1


def test_password_never_printed(mongo):
    url = f"mongodb://app:Sup3rSecret@localhost:{mongo.port}/shop?serverMonitoringMode=poll"
    run = dbtop("snapshot", url)
    assert run.code == 2
    assert "authentication failed for user 'app'" in run.err
    assert "Sup3rSecret" not in run.err + run.out
