"""Progress of index builds (and other long commands that report it: compact, validate,
initial sync's clones) from the ``msg`` and ``progress: {done, total}`` fields $currentOp
already returned for each operation: no extra round trip."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dbtop.analysis.progress import build
from dbtop.model import Session
from dbtop.progress import Progress

# "Index Build: scanning collection Index Build: scanning collection: 4000/100000 4%"
_COUNTS = re.compile(r":?\s*\d+/\d+\s+\d+%\s*$")


def phase_of(msg: str) -> tuple[str, str | None]:
    """(command, phase) from $currentOp's ``msg``."""
    text = _COUNTS.sub("", msg).strip()
    if text.startswith("Index Build"):
        # the server repeats the prefix: "Index Build: scanning collection Index Build: …"
        phase = text.split("Index Build:")[-1].strip() or None
        return "index build", phase
    command, _, phase = text.partition(":")
    return command.strip() or "operation", phase.strip() or None


def from_operation(extra: Mapping[str, Any]) -> Progress | None:
    counts = extra.get("progress")
    if not isinstance(counts, Mapping):
        return None
    command, phase = phase_of(str(extra.get("msg") or ""))
    if extra.get("command_name") == "createIndexes" and command == "operation":
        command = "index build"
    done, total = counts.get("done"), counts.get("total")
    return build(
        command,
        phase,
        float(done) if isinstance(done, int | float) else None,
        float(total) if isinstance(total, int | float) else None,
        "documents" if command == "index build" else None,
    )


def found_in(sessions: Iterable[Session]) -> dict[str, Progress]:
    """Each operation's progress by session id."""
    found: dict[str, Progress] = {}
    for s in sessions:
        progress = from_operation(s.extra)
        if progress is not None:
            found[s.id] = progress
    return found
