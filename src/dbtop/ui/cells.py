"""Table cells from server text, made safe once per distinct value.

``safetext.one_line`` runs two regular expressions; a poll of thousands of sessions repeats
the same users, databases, states and queries, so the result is remembered by value.
"""

from __future__ import annotations

from functools import lru_cache

from dbtop.safetext import one_line


@lru_cache(maxsize=65536)
def cell(value: str | None, limit: int | None = None) -> str:
    """``one_line(value, limit)``, remembered."""
    return one_line(value, limit)
