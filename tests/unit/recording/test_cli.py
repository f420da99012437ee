"""``dbtop record`` and ``dbtop replay``: every bad value is one line and exit status 2;
TIME and size words; the default location is the user's state directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dbtop.cli import main
from dbtop.cli.record import default_output
from dbtop.errors import UsageError
from dbtop.recording import timespec

FIRST = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
LAST = FIRST + timedelta(hours=1)


@pytest.mark.parametrize(
    "argv",
    [
        ["record", "postgresql://h/db", "--keep", "0"],
        ["record", "postgresql://h/db", "--keep", "soon"],
        ["record", "postgresql://h/db", "--max-size", "5zz"],
        ["record", "postgresql://h/db", "--max-size", "10"],
        ["record", "postgresql://h/db", "--interval", "0"],
        ["record", "postgresql://h/db", "--duration", "-3"],
        ["record", "nosuch://h/db", "--duration", "1"],
        ["replay"],
        ["replay", "/nonexistent/file.dbtoprec"],
        ["replay", "/nonexistent/file.dbtoprec", "--json"],
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("dbtop: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_time_and_size_words() -> None:
    assert timespec.duration("90") == 90 and timespec.duration("15m") == 900
    assert timespec.duration("24h") == 86400 and timespec.duration("7d") == 7 * 86400
    assert timespec.size("500MB") == 500_000_000 and timespec.size("2GiB") == 2 * 1024**3
    assert timespec.moment("+90", FIRST, LAST) == FIRST + timedelta(seconds=90)
    assert timespec.moment("-15m", FIRST, LAST) == LAST - timedelta(minutes=15)
    assert timespec.moment("+0", FIRST, LAST) == FIRST
    assert timespec.moment("2026-12-02T03:12:00Z", FIRST, LAST) == FIRST + timedelta(minutes=12)
    assert timespec.moment("2026-12-02T04:12:00+01:00", FIRST, LAST) == FIRST + timedelta(
        minutes=12
    )
    with pytest.raises(UsageError, match="not a time"):
        timespec.moment("yesterday", FIRST, LAST)


def test_the_default_output_is_under_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    path = default_output("postgresql", "app@db:5432/shop")
    assert path.parent == tmp_path / "dbtop" / "recordings"
    assert path.name.startswith("postgresql-app_db_5432_shop-") and path.suffix == ".dbtoprec"
