"""The time and size words of ``record`` and ``replay``: ``24h``, ``500MB``, ``+90``."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from dbtop.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)


def _seconds(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration (like 90s, 15m, 24h, 7d): {text!r}")
    value = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
    if not math.isfinite(value):
        raise ValueError(f"not a finite duration: {text!r}")
    return value


def duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``24h``, ``7d``; more than 0."""
    value = _seconds(text)
    if value <= 0:
        raise ValueError(f"must be more than 0: {text!r}")
    return value


def size(text: str) -> int:
    """Bytes from ``500MB``, ``2GiB``, ``100k``; decimal units (MB) and binary ones (MiB)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size (like 500MB, 2GB, 100MiB): {text!r}")
    unit = (match.group(2) or "").lower().rstrip("b")
    power = " kmgt".index(unit[0]) if unit else 0
    base = 1024 if unit.endswith("i") else 1000
    value = int(float(match.group(1)) * base**power)
    if value < 64 * 1024:
        raise ValueError(f"must be at least 64kB: {text!r}")
    return value


def moment(text: str, first: datetime, last: datetime) -> datetime:
    """``TIME`` of ``replay --at`` and the ``g`` key: ISO 8601 (a time without an offset is
    the local time zone's; a time of day alone is on the recording's last day it fits),
    ``+SECONDS`` after the first sample, ``-SECONDS`` before the last."""
    text = text.strip()
    if not text:
        raise UsageError("empty TIME (ISO 8601, +SECONDS from the start, -SECONDS from the end)")
    if text[0] in "+-" and _DURATION.match(text[1:]):
        offset = timedelta(seconds=_seconds(text[1:]))
        return first + offset if text[0] == "+" else last - offset
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?", text):
            local = last.astimezone()
            parsed = datetime.combine(
                local.date(),
                datetime.strptime(
                    text.split(".")[0], "%H:%M:%S" if text.count(":") == 2 else "%H:%M"
                ).time(),
            )
            parsed = parsed.replace(tzinfo=local.tzinfo)
            if parsed > last:
                parsed -= timedelta(days=1)
            return parsed.astimezone(UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"not a time: {text!r} (ISO 8601 like 2026-12-02T03:12:00Z, HH:MM[:SS], "
            "+SECONDS from the start, -SECONDS from the end)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return parsed.astimezone(UTC)
