"""Replacements checked with the planner: the existing indexes hidden, nothing costs more.

An existing index that is a left prefix of a suggested one serves no statement the new one
cannot (``analysis.advisor.replacement``), but the planner may still prefer it (a smaller
index to scan). With hypopg 1.3+ each such index is hidden from the planner
(``hypopg_hide_index``) while the suggested set exists hypothetically, and the statements
on the table are costed again: it is replaced only when none costs more than
``tie_margin`` more without it. Without the hide functions the definitions decide.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    Replacement,
    Selection,
    Workload,
    made_redundant,
)
from dbtop.engines.postgresql.hypopg import PlannerOracle
from dbtop.engines.postgresql.workload import quote_ident


async def checked_replacements(
    oracle: PlannerOracle, workload: Workload, selection: Selection, settings: AdvisorSettings
) -> dict[Candidate, Replacement]:
    """Per chosen candidate with left-prefix indexes, those the planner lets go."""
    chosen = frozenset(choice.candidate for choice in selection.chosen)
    result: dict[Candidate, Replacement] = {}
    for choice in selection.chosen:
        cand = choice.candidate
        facts = workload.tables.get(cand.table)
        old = made_redundant(cand, facts) if facts is not None else ()
        if not old:
            continue
        queries = [q for q in workload.queries if cand.table in workload.reaches(q)]
        with_all = await oracle.costs(chosen, queries)
        replaced, kept = [], []
        checked = True
        for index in old:
            name = f"{quote_ident(index.table.schema or 'public')}.{quote_ident(index.name)}"
            hidden = await oracle.costs_hiding(chosen, [name], queries)
            if hidden is None:
                checked = False
                replaced.append(index)
                continue
            worse = _costs_more(with_all, hidden, settings.tie_margin)
            if worse is None:
                replaced.append(index)
            else:
                text = " ".join(workload.query(worse[0]).text.split())[:60]
                kept.append(
                    (
                        index,
                        f"without it {text!r} costs {worse[2]:,.1f} instead of {worse[1]:,.1f} "
                        "(hypothetically)",
                    )
                )
        how = (
            "with each hidden from the planner (hypopg_hide_index), no statement on the "
            f"table costs more than {settings.tie_margin:.0%} more"
            if checked
            else None
        )
        result[cand] = Replacement(tuple(replaced), how, tuple(kept))
    return result


def _costs_more(
    before: Mapping[str, float | None], after: Mapping[str, float | None], margin: float
) -> tuple[str, float, float] | None:
    """The statement whose cost rises the most past ``margin``, None when none does."""
    worst: tuple[str, float, float] | None = None
    for query_id, was in before.items():
        now = after.get(query_id)
        if was is None or was <= 0:
            continue
        if now is None or now > was * (1 + margin) + 0.01:
            value = now if now is not None else float("inf")
            if worst is None or value / was > worst[2] / worst[1]:
                worst = (query_id, was, value)
    return worst
