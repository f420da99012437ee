"""How far a long maintenance command has got (CREATE INDEX, VACUUM, ALTER TABLE, an index
build), carried on the session that runs it (``Session.progress``) and in JSON as the
session's ``progress`` object (docs/json.md, docs/health.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    """The server's own progress figures for one command.

    ``done`` and ``total`` count ``unit`` (blocks, tuples, bytes, rows, keys) of the
    current ``phase`` as the server reports them; ``percent`` is theirs when both are
    known, or the server's own percent (MariaDB's ``Progress``); ``eta_s`` is dbtop's
    estimate of the time left in this phase from the rate between two polls, None until
    two polls have seen the same phase move.
    """

    command: str
    phase: str | None = None
    done: float | None = None
    total: float | None = None
    percent: float | None = None
    eta_s: float | None = None
    unit: str | None = None

    def short(self) -> str:
        """``CREATE INDEX 42% ~1m`` for a table cell (phase in the details)."""
        parts = [self.command]
        if self.percent is not None:
            parts.append(f"{self.percent:.0f}%")
        if self.eta_s is not None:
            parts.append(f"~{_duration(self.eta_s)}")
        return " ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
