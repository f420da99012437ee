"""Health checks, judged: pure functions from what an engine read to ``Finding`` rows.

Each engine's ``health.py`` reads the figures (cheaply, cached); the modules here decide
what is worth a DBA's attention and say it in the DBA's terms, with the statement that fixes
it where there is one. Thresholds are named constants at the top of each module and listed
in docs/health.md. Findings go into ``Snapshot.findings`` beside the index findings, so the
Health pane, ``dbtop health`` and ``snapshot --json`` show the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from dbtop.humanize import human_bytes
from dbtop.model import Finding, Severity

#: most urgent first
_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Critical first, then warnings, then information; stable within a severity."""
    return sorted(findings, key=lambda f: _RANK.get(f.severity, 3))


def worst(findings: Iterable[Finding]) -> Severity | None:
    ranked = by_severity(findings)
    return ranked[0].severity if ranked else None


def share(part: float | None, whole: float | None) -> float | None:
    """``part / whole``, None when either is unknown or the whole is not positive."""
    if part is None or whole is None or whole <= 0:
        return None
    return part / whole


def level(value: float | None, warning: float, critical: float) -> Severity | None:
    """The severity of ``value`` against two rising thresholds; None below both."""
    if value is None:
        return None
    if value >= critical:
        return Severity.CRITICAL
    if value >= warning:
        return Severity.WARNING
    return None


def quote_ident(name: str) -> str:
    """A SQL identifier quoted for a statement to copy (PostgreSQL and standard SQL)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def size(num_bytes: float | None) -> str:
    """A size in a finding's message: humanize's, so a finding and a table cell say the
    same figure the same way ("?" where the server did not say)."""
    return "?" if num_bytes is None else human_bytes(num_bytes)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
