"""docs/json.md names every key of the ``dbtop snapshot --json`` document: the top-level
ones in its table, each row's in the row's own section (a key added to the model without a
line in the public interface's documentation fails here)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from dbtop import model
from dbtop.cli.snapshot import snapshot_document
from dbtop.progress import Progress
from dbtop.waitprofile import WaitProfile
from tests.ui.recorded import load_snapshots

DOC = (Path(__file__).resolve().parents[2] / "docs" / "json.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text under ``### title`` up to the next heading."""
    found = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^#)", DOC, re.MULTILINE | re.DOTALL)
    assert found, f"docs/json.md has no section {title!r}"
    return found.group(1)


def test_every_top_level_key_is_in_the_table():
    document = snapshot_document(load_snapshots()[1])
    table = section_of_snapshot()
    missing = [key for key in document if f"| `{key}` |" not in table]
    assert not missing, missing


def section_of_snapshot() -> str:
    start = DOC.index("## `dbtop snapshot URL --json")
    return DOC[start : DOC.index("### server", start)]


ROWS = [
    ("server", model.ServerSummary),
    ("capabilities", model.Capabilities),
    ("sessions", model.Session),
    ("statements", model.Statement),
    ("slow_events", model.SlowEvent),
    ("indexes", model.IndexStat),
    ("tables", model.TableStat),
    ("keyspace", model.KeyPattern),
    ("lock_waits", model.LockWait),
    ("findings", model.Finding),
    ("rates", model.Rates),
    ("wait_profile", WaitProfile),
]


@pytest.mark.parametrize(("title", "row"), ROWS, ids=[t for t, _ in ROWS])
def test_every_key_of_a_row_is_in_its_section(title: str, row: type) -> None:
    text = section(title)
    missing = [f.name for f in dataclasses.fields(row) if f"`{f.name}`" not in text]
    assert not missing, missing


def test_the_progress_object_of_a_session_is_spelled_out():
    keys = ", ".join(f.name for f in dataclasses.fields(Progress))
    assert f"{{{keys}}}" in section("sessions")
