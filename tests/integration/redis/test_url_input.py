"""Redis URLs: what redis-cli would refuse (or a database the server does not have) is one
line and exit status 2; passwords can come from DBTOP_PASSWORD or a -W prompt, never the
command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ptyrun import run_with_answer

from .conftest import Server, dbtop

SHARED = "redis://127.0.0.1:6379"


def _one_line_refusal(run: object) -> str:
    err: str = run.err  # type: ignore[attr-defined]
    assert run.code == 2, (run.code, err)  # type: ignore[attr-defined]
    assert err.startswith("dbtop: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("url", [f"{SHARED}/99", f"{SHARED}?db=5000"])
def test_a_database_the_server_does_not_have_is_refused_after_connecting(url: str) -> None:
    err = _one_line_refusal(dbtop("snapshot", "--interval", "0", url, timeout=60))
    assert "no database" in err


@pytest.mark.parametrize(
    ("url", "says"),
    [(f"{SHARED}/notanumber", "number"), (f"{SHARED}/0/extra", "one database")],
)
def test_a_database_that_is_not_a_number_is_refused(url: str, says: str) -> None:
    assert says in _one_line_refusal(dbtop("snapshot", "--interval", "0", url, timeout=60))


def test_dbtop_password_from_the_environment(private: Server) -> None:
    url = private.url(9, password=False)
    assert private.password is not None
    refused = dbtop("snapshot", "--json", "--interval", "0", url, timeout=60)
    assert refused.code == 2 and "password" in refused.err
    run = dbtop(
        "snapshot", "--json", "--interval", "0", url,
        env={"DBTOP_PASSWORD": private.password}, timeout=60,
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.json()["engine"] == "redis"


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_password_prompt_reads_the_terminal_and_stays_off_the_command_line(
    private: Server,
) -> None:
    assert private.password is not None
    run = run_with_answer(
        ["-W", "snapshot", "--json", "--interval", "0", private.url(9, password=False)],
        private.password,
        env={"REDISCLI_AUTH": "", "DBTOP_PASSWORD": ""},
    )
    assert run.code == 0, run.output
    assert run.cmdlines, f"no prompt seen: {run.output!r}"
    for cmdline in run.cmdlines:
        assert private.password.encode() not in cmdline
    assert private.password not in run.output.partition("{")[0]  # not echoed at the prompt
    document = json.loads(run.output[run.output.index("{") :])
    assert document["engine"] == "redis"
