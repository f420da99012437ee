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
