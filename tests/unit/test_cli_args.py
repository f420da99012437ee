"""Which subcommand a command line names, with global flags (and their values) before it."""

from __future__ import annotations

import pytest

from dbtop.cli import _split_command


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        (["snapshot", "redis://h"], "snapshot", ["redis://h"]),
        (["--read-only", "kill", "x", "1"], "kill", ["--read-only", "x", "1"]),
        # a global flag's value is not taken for the URL of the UI
        (["--connect-timeout", "3", "snapshot", "u"], "snapshot", ["--connect-timeout", "3", "u"]),
        (["--statement-timeout=1", "explain", "u"], "explain", ["--statement-timeout=1", "u"]),
        (["postgresql://h/db"], "tui", ["postgresql://h/db"]),
        (
            ["--connect-timeout", "3", "postgresql://h"],
            "tui",
            ["--connect-timeout", "3", "postgresql://h"],
        ),
        ([], "tui", []),
    ],
)
def test_split_command(argv: list[str], command: str, rest: list[str]) -> None:
    assert _split_command(argv) == (command, rest)


# -- number options: finite, in range, one line and exit status 2 -------------------------

from dbtop.cli import main  # noqa: E402


@pytest.mark.parametrize(
    "argv",
    [
        ["--interval", "nan", "redis://127.0.0.1:1"],
        ["--interval", "inf", "redis://127.0.0.1:1"],
        ["--interval", "1e9", "redis://127.0.0.1:1"],
        ["--interval", "-1", "redis://127.0.0.1:1"],
        ["--long-query", "nan", "redis://127.0.0.1:1"],
        ["snapshot", "--interval", "nan", "redis://127.0.0.1:1"],
        ["snapshot", "--interval", "1e9", "redis://127.0.0.1:1"],
        ["snapshot", "--interval", "-1", "redis://127.0.0.1:1"],
        ["snapshot", "--interval", "0.01", "redis://127.0.0.1:1"],
        ["--statement-timeout", "1e-9", "snapshot", "redis://127.0.0.1:1"],
        ["--statement-timeout", "nan", "snapshot", "redis://127.0.0.1:1"],
        ["--statement-timeout", "0", "snapshot", "redis://127.0.0.1:1"],
        ["--connect-timeout", "inf", "snapshot", "redis://127.0.0.1:1"],
        ["--connect-timeout", "-3", "snapshot", "redis://127.0.0.1:1"],
        ["--connect-timeout", "abc", "snapshot", "redis://127.0.0.1:1"],
        ["profile", "mongodb://127.0.0.1:1", "db", "--slowms", "-5"],
        ["snapshot", "--no-such-option", "redis://127.0.0.1:1"],
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbtop: ")
    assert err.count("\n") == 1, err
    # refused for the option itself, not because nothing listens at the URL
    flag = next(a for a in argv if a.startswith("--"))
    assert flag in err, err


@pytest.mark.parametrize(
    ("seconds", "ms"), [(2.0, 2000), (0.1, 100), (0.001, 1), (0.0015, 2), (0.0011, 2)]
)
def test_statement_timeout_rounds_up_to_whole_milliseconds(seconds: float, ms: int) -> None:
    import argparse

    from dbtop.cli.common import connect_options

    args = argparse.Namespace(connect_timeout=5.0, statement_timeout=seconds, read_only=False)
    assert connect_options(args).statement_timeout_ms == ms


def test_kill_with_a_url_and_no_id_says_the_id_is_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["kill", "mysql://root:pw@127.0.0.1:3306/test"]) == 2
    err = capsys.readouterr().err
    assert "id is missing" in err
    assert "PostgreSQL" not in err
    assert "pw@" not in err
    assert err.count("\n") == 1
