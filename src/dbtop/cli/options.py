"""Number options of the command line, checked the same way everywhere: finite, in a
documented range, and never rounded into a different meaning (a statement timeout below a
millisecond rounds up, because 0 is "no limit" to every server)."""

from __future__ import annotations

import argparse
import math

#: seconds, inclusive: the UI's --interval and --long-query
INTERVAL_RANGE = (0.1, 3600.0)
#: seconds, inclusive: --connect-timeout and --statement-timeout
TIMEOUT_RANGE = (0.001, 3600.0)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _within(text: str, low: float, high: float) -> float:
    value = _number(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}: {text!r}")
    return value


def interval(text: str) -> float:
    """Seconds between snapshots of the UI: 0.1 to 3600."""
    return _within(text, *INTERVAL_RANGE)


def snapshot_interval(text: str) -> float:
    """Seconds between the two polls of ``dbtop snapshot``: 0 (one poll) or 0.1 to 3600."""
    value = _number(text)
    if value == 0:
        return 0.0
    if not INTERVAL_RANGE[0] <= value <= INTERVAL_RANGE[1]:
        raise argparse.ArgumentTypeError(
            f"must be 0 (one poll) or between {INTERVAL_RANGE[0]:g} and "
            f"{INTERVAL_RANGE[1]:g}: {text!r}"
        )
    return value


def timeout(text: str) -> float:
    """A time limit in seconds: 0.001 (one millisecond) to 3600."""
    return _within(text, *TIMEOUT_RANGE)


def milliseconds(seconds: float) -> int:
    """Whole milliseconds, rounded up: 0.0015 s is 2 ms, never 0 (which means no limit).
    The rounding to 1e-6 first keeps 0.1 s at 100 ms despite binary fractions."""
    return max(1, math.ceil(round(seconds * 1000, 6)))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value
