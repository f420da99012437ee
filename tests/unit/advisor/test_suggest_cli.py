"""``dbtop suggest`` output: the JSON document's keys, and server text printed literally."""

from __future__ import annotations

import io
import json

from rich.console import Console

from dbtop.cli.suggest import document, report
from dbtop.model import (
    Advice,
    Feature,
    Finding,
    Notice,
    QueryShare,
    Rejection,
    ServerSummary,
    Suggestion,
    frozen,
)

SERVER = ServerSummary(engine="postgresql", address="me@db:5432/app", version="15.20")
NASTY = "SELECT * FROM t WHERE a = $1 /* \x1b[2J [bold red]boom[/bold red] */"


def advice() -> Advice:
    return Advice(
        suggestions=(
            Suggestion(
                table="t",
                schema="public",
                columns=("a", "b"),
                include=("c",),
                statement="CREATE INDEX CONCURRENTLY t_a_b_idx ON public.t (a, b) INCLUDE (c);",
                verified=True,
                reason="equality on a, b",
                cost_before=1000.0,
                cost_after=10.0,
                size_bytes=8192,
                queries=(QueryShare(NASTY, 0.75, 3, 1000.0, 10.0, "q1"),),
            ),
        ),
        findings=(
            Finding(
                kind="unused_index",
                object="public.t_pkey",
                message="index never used in 3 days",
                statement="DROP INDEX CONCURRENTLY public.t_pkey;",
                warning="backs constraint t_pkey",
            ),
        ),
        rejected=(Rejection("t", ("z",), "not selective", schema="public"),),
        notices=(Notice(Feature.SUGGEST, "hypopg is not installed", "CREATE EXTENSION hypopg"),),
        extra=frozen(statements=4, analyzed=3, candidates=7, hypopg="1.3.1", elapsed_s=0.2),
    )


def printed(*, rejected: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, no_color=True, force_terminal=False)
    for part in report(SERVER, advice(), rejected=rejected):
        console.print(part)
    return out.getvalue()


def test_json_document_keys():
    doc = json.loads(json.dumps(document("postgresql", SERVER, advice())))
    assert set(doc) == {
        "format",
        "engine",
        "server",
        "suggestions",
        "findings",
        "rejected",
        "notices",
        "extra",
    }
    (s,) = doc["suggestions"]
    for key in ("table", "columns", "statement", "verified", "cost_before", "cost_after"):
        assert key in s
    assert s["queries"][0] == {
        "query": NASTY,
        "share": 0.75,
        "calls": 3,
        "cost_before": 1000.0,
        "cost_after": 10.0,
        "id": "q1",
    }
    assert doc["rejected"][0]["reason"] == "not selective"
    assert doc["findings"][0]["warning"] == "backs constraint t_pkey"


def test_report_shows_the_statement_and_keeps_server_text_literal():
    text = printed(rejected=False)
    assert "CREATE INDEX CONCURRENTLY t_a_b_idx ON public.t (a, b) INCLUDE (c);" in text
    assert "\x1b" not in text
    assert "\\x1b[2J [bold red]boom[/bold red]" in text
    assert "DROP INDEX CONCURRENTLY public.t_pkey;" in text
    assert "careful: backs constraint t_pkey" in text
    assert "hypopg is not installed" in text
    assert "1 candidate(s) rejected: --rejected lists them" in text
    assert "not selective" not in text


def test_report_lists_rejections_on_request():
    text = printed(rejected=True)
    assert "public.t (z)" in text and "not selective" in text
