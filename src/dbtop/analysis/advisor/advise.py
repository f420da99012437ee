"""``advise``: the one entry of the advisor pipeline's last step, pure.

Every engine's ``advice.py`` gathers what it needs (I/O: its workload, its catalog, its
planner's costs, its own checks of the choice), prepares it as a ``Prepared`` and calls
``advise(prepared, dialect)``: the chosen candidates become ``Suggestion``s through the one
builder (``suggestions.py``) and everything becomes the ``Advice`` the UI and the CLI show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbtop.analysis.advisor.candidates import Candidate
from dbtop.analysis.advisor.replacement import Replacement
from dbtop.analysis.advisor.selection import Choice
from dbtop.analysis.advisor.suggestions import Dialect, build_suggestions
from dbtop.analysis.advisor.workload import Workload
from dbtop.model import EMPTY, Advice, Finding, Notice, Rejection, frozen


@dataclass(frozen=True, slots=True)
class Prepared:
    """What an engine hands the advisor: its workload and the choice made on it."""

    workload: Workload
    #: the chosen candidates, in the order the suggestions are listed
    chosen: Sequence[Choice]
    #: every candidate not suggested, with why
    rejected: Sequence[Rejection] = ()
    #: index-health findings passed through
    findings: Sequence[Finding] = ()
    notices: Sequence[Notice] = ()
    #: the size of each candidate's index where the engine knows it
    sizes: Mapping[Candidate, int] | None = None
    #: figures about the run (statements analyzed, costs, timings)
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    #: per chosen candidate, the existing indexes it replaces, as the engine checked them
    #: (None: from the index definitions alone, ``replacement.made_redundant``)
    replaces: Mapping[Candidate, Replacement] | None = None


def advise(prepared: Prepared, dialect: Dialect) -> Advice:
    """The advice: one suggestion per chosen candidate, worded by the engine's dialect."""
    suggestions = build_suggestions(
        prepared.workload, prepared.chosen, dialect, prepared.sizes, prepared.replaces
    )
    return Advice(
        suggestions=tuple(suggestions),
        findings=tuple(prepared.findings),
        rejected=tuple(prepared.rejected),
        notices=tuple(prepared.notices),
        extra=frozen(prepared.extra),
    )
