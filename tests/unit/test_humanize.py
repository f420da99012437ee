"""The figures the UI and the CLI print."""

from __future__ import annotations

import pytest

from dbtop.humanize import count, human_bytes, human_ms, human_seconds


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 kB"), (5 * 1024**3, "5.0 GB")],
)
def test_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (-1, "0ms"),
        (0.0123, "12ms"),
        (2.5, "2.5s"),
        (125, "2m05s"),
        (7200, "2h00m"),
        (3 * 86400 + 3600, "3d01h"),
    ],
)
def test_seconds(value, text):
    assert human_seconds(value) == text


def test_milliseconds_and_counts():
    assert human_ms(0.25) == "0.250ms"
    assert human_ms(12.34) == "12.3ms"
    assert human_ms(2500) == "2.5s"
    assert count(1234) == "1,234"
    assert count(12_300_000) == "12.3M"
    assert count(2.5) == "2.5"
    assert count(None) == "-"
