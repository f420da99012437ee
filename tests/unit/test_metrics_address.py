"""``--metrics HOST:PORT`` and a word that names nothing: one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dbtop.errors import UsageError
from dbtop.metrics import parse_address


def test_addresses():
    assert parse_address("127.0.0.1:9187") == ("127.0.0.1", 9187)
    assert parse_address(":9187") == ("0.0.0.0", 9187)
    assert parse_address("[::1]:9187") == ("::1", 9187)
    for bad in ("9187", "host:", "host:port", "host:70000"):
        with pytest.raises(UsageError, match="--metrics wants HOST:PORT"):
            parse_address(bad)


@pytest.mark.parametrize(
    "argv",
    [
        ["exporter", "redis://127.0.0.1:6379", "--metrics", "nowhere"],
        ["snapshot", "no-such-target", "redis://127.0.0.1:6379"],
        ["no-such-target"],
    ],
)
def test_bad_words_are_one_line(tmp_path, argv):
    env = {**os.environ, "DBTOP_CONFIG": str(tmp_path / "c.toml"), "HOME": str(tmp_path)}
    (tmp_path / "c.toml").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("dbtop: ")
