"""What every engine's proof of harmlessness shares: an execution-based explain (EXPLAIN
ANALYZE, ANALYZE, executionStats) runs the statement, so it runs only what the engine's
``harmless`` module proved a plain read; anything else is refused in these words."""

from __future__ import annotations

from dbtop.errors import RefusedError

#: how deep views over views are followed before giving up (refusing)
MAX_VIEW_DEPTH = 8


def refusal(how: str, what: str, why: str, plain: str = "plain EXPLAIN") -> RefusedError:
    """One line: ``how`` (the engine's word for the executing explain) would run ``what``,
    which ``why``; the plain explain still shows the plan."""
    return RefusedError(
        f"{how} would run {what}, which {why}: refused; {plain} shows the plan without running it"
    )
