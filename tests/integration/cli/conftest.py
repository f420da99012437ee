"""Helpers for driving the real ``dbtop`` command against the session's PostgreSQL 15 (the
private one of tests/servers/postgres.py, or ``$DBTOP_TEST_PG_URL``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> dict:
        return json.loads(self.out)


def dbtop(
    *args: str, stdin: str | None = None, timeout: float = 60, env: dict | None = None
) -> Run:
    """Run the installed CLI as a user would (its own process, real exit status)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).parent,
    )
    return Run(proc)


@pytest.fixture(scope="session")
def pg_url(pg15_admin_url: str) -> str:
    return pg15_admin_url
