"""Choosing a small set of indexes greedily, with costs from a what-if oracle.

The oracle answers "what would these statements cost if these indexes existed?" — PostgreSQL
with hypopg's hypothetical indexes and the planner, an engine without them with the
heuristic model of ``estimate.py``. The selection itself does no I/O: it asks the oracle and
caches the answers.

A statement counts as *served* by an index set when its cost falls by at least
``min_gain`` (a clear margin, not planner noise). The benefit of adding an index to the
chosen set is the share of the workload's time it saves, estimated as
``Σ share(q) × (cost(q, S) − cost(q, S ∪ {c})) / cost(q, ∅)`` over the statements it serves
(time is taken to scale with the planner's cost). Each round adds the index with the largest
benefit (lazily re-evaluated: a benefit computed against a smaller set is an upper bound when
indexes do not complement each other) until none saves ``min_benefit`` or
``max_suggestions`` are chosen. A last pass removes any chosen index the others make
redundant: without it, no statement would cost clearly more.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dbtop.analysis.advisor.candidates import AdvisorSettings, Candidate
from dbtop.analysis.advisor.workload import QueryInfo, TableRef, Workload
from dbtop.analysis.advisor.writes import WriteCost
from dbtop.model import Rejection


class CostOracle(Protocol):
    """What-if costs: the cost of each statement if exactly these candidates existed (on top
    of the real indexes). None for a statement the oracle cannot cost."""

    async def costs(
        self, indexes: frozenset[Candidate], queries: Sequence[QueryInfo]
    ) -> Mapping[str, float | None]: ...


@dataclass(frozen=True, slots=True)
class Effect:
    """One statement's cost today and with the whole chosen set."""

    query_id: str
    share: float
    cost_before: float
    cost_after: float


@dataclass(frozen=True, slots=True)
class Choice:
    candidate: Candidate
    #: statements that cost clearly more without this index (the others kept)
    effects: tuple[Effect, ...]
    #: share of workload time this index saves on top of the rest of the set
    benefit: float
    #: share of workload time keeping it up to date costs the writes (writes.py)
    write_share: float = 0.0
    #: the writes' figures and that cost, in words (None: the table is not written)
    write_note: str | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    chosen: tuple[Choice, ...]
    rejected: tuple[Rejection, ...]
    #: per statement: cost today and with the chosen set
    cost_before: Mapping[str, float] = field(default_factory=dict)
    cost_after: Mapping[str, float] = field(default_factory=dict)
    #: how many statement costings the oracle did
    evaluations: int = 0

    def workload_cost(self, shares: Mapping[str, float]) -> tuple[float, float]:
        """Time-weighted relative cost of the costed statements before and after (1.0 =
        today's cost of the statements the oracle could cost)."""
        before = sum(shares.get(q, 0.0) for q in self.cost_before)
        after = sum(
            shares.get(q, 0.0) * (self.cost_after[q] / base if base > 0 else 1.0)
            for q, base in self.cost_before.items()
        )
        return before, after


class _Costs:
    """The oracle behind a cache keyed by (index set, statement)."""

    def __init__(self, oracle: CostOracle, workload: Workload) -> None:
        self._oracle = oracle
        self._cache: dict[tuple[frozenset[Candidate], str], float | None] = {}
        self._workload = workload
        self.evaluations = 0

    async def get(
        self, indexes: frozenset[Candidate], queries: Iterable[QueryInfo]
    ) -> dict[str, float | None]:
        queries = list(queries)
        missing = [q for q in queries if (indexes, q.id) not in self._cache]
        if missing:
            answer = await self._oracle.costs(indexes, missing)
            self.evaluations += len(missing)
            for q in missing:
                self._cache[(indexes, q.id)] = answer.get(q.id)
        return {q.id: self._cache[(indexes, q.id)] for q in queries}


def _on_tables(workload: Workload, tables: Iterable[TableRef]) -> list[QueryInfo]:
    wanted = set(tables)
    return [q for q in workload.queries if workload.reaches(q) & wanted]


def _gain(before: float | None, after: float | None) -> float:
    """Relative cost reduction, 0 when unknown or worse."""
    if before is None or after is None or before <= 0:
        return 0.0
    return max((before - after) / before, 0.0)


async def select(
    workload: Workload,
    candidates: Sequence[Candidate],
    oracle: CostOracle,
    settings: AdvisorSettings | None = None,
    sizes: Mapping[Candidate, float] | None = None,
) -> Selection:
    """Greedy selection of a small non-redundant set of candidates (see the module doc).

    ``sizes`` (bytes, estimated) break near-ties between candidates of one table; without
    it, the candidate with fewer columns wins.
    """
    settings = settings or AdvisorSettings()

    def size_of(cand: Candidate) -> tuple[float, int, str]:
        known = sizes.get(cand) if sizes else None
        return (known if known is not None else float(cand.width), cand.width, cand.label)

    costs = _Costs(oracle, workload)
    upkeep = WriteCost(workload)
    parents = workload.parents
    share = {q.id: workload.share(q) for q in workload.queries}
    none: frozenset[Candidate] = frozenset()
    tables = {c.table for c in candidates}
    relevant = _on_tables(workload, tables)
    base_raw = await costs.get(none, relevant)
    base = {q: c for q, c in base_raw.items() if c is not None and c > 0}
    by_table: dict[TableRef, list[QueryInfo]] = {
        t: [q for q in _on_tables(workload, (t,)) if q.id in base] for t in tables
    }
    rejected: list[Rejection] = []

    def benefit(
        current: Mapping[str, float], after: Mapping[str, float | None], qs: Sequence[QueryInfo]
    ) -> float:
        total = 0.0
        for q in qs:
            cur, new = current[q.id], after.get(q.id)
            if new is not None and _gain(cur, new) >= settings.min_gain:
                total += share[q.id] * (cur - new) / base[q.id]
        return total

    # Round one: each candidate alone against today's indexes.
    current: dict[str, float] = dict(base)
    heap: list[tuple[float, int, str, int, Candidate]] = []
    for cand in sorted(candidates, key=lambda c: (c.width, c.label)):
        qs = by_table.get(cand.table, [])
        if not qs:
            rejected.append(cand.rejection("the statements on this table could not be costed"))
            continue
        after = await costs.get(frozenset({cand}), qs)
        gain = benefit(current, after, qs)
        if gain <= 0:
            rejected.append(cand.rejection(_no_gain_reason(qs, current, after, settings)))
            continue
        if gain <= upkeep.share(cand):
            rejected.append(cand.rejection(upkeep.reason(cand, gain)))
            continue
        heapq.heappush(heap, (-(gain - upkeep.share(cand)), cand.width, cand.label, 0, cand))
    chosen: list[Candidate] = []
    first_gain = {entry[4]: -entry[0] for entry in heap}

    async def evaluate(cand: Candidate) -> tuple[float, Mapping[str, float | None]]:
        """What adding it saves, net of its upkeep by the writes."""
        qs = by_table[cand.table]
        after = await costs.get(frozenset({*chosen, cand}), qs)
        return benefit(current, after, qs) - upkeep.share(cand), after

    def remaining(cand: Candidate, after: Mapping[str, float | None]) -> float:
        """Relative cost left on the candidate's table's statements with it added."""
        total = 0.0
        for q in by_table[cand.table]:
            cur, new = current[q.id], after.get(q.id)
            served = new is not None and _gain(cur, new) >= settings.min_gain
            total += share[q.id] * (new if served else cur) / base[q.id]  # type: ignore[operator]
        return total

    while heap and len(chosen) < settings.max_suggestions:
        neg, _, _, version, cand = heapq.heappop(heap)
        if version != len(chosen):
            gain, _after = await evaluate(cand)
            if gain > 0:
                heapq.heappush(heap, (-gain, cand.width, cand.label, len(chosen), cand))
            elif gain + upkeep.share(cand) > 0:
                rejected.append(cand.rejection(upkeep.reason(cand, gain + upkeep.share(cand))))
            else:
                rejected.append(cand.rejection(_redundant_reason(cand, chosen, parents)))
            continue
        if -neg < settings.min_benefit:
            heapq.heappush(heap, (neg, cand.width, cand.label, version, cand))
            break
        cand = await _smallest_of_ties(
            -neg, cand, heap, len(chosen), evaluate, remaining, size_of, settings
        )
        qs = by_table[cand.table]
        after = await costs.get(frozenset({*chosen, cand}), qs)
        chosen.append(cand)
        for q in qs:
            value = after.get(q.id)
            if value is not None:
                current[q.id] = value
    for neg, _, _, _version, cand in sorted(heap):
        if len(chosen) >= settings.max_suggestions:
            why = f"not chosen: the limit of {settings.max_suggestions} suggestions was reached"
        else:
            why = (
                f"not chosen: saves at most {-neg:.2%} of the workload's time "
                f"(alone {first_gain.get(cand, 0.0):.2%}), "
                f"less than the {settings.min_benefit:.2%} a suggestion must save"
            )
        rejected.append(cand.rejection(why))

    chosen, final, dropped = await _drop_redundant(
        chosen, costs, by_table, base, share, settings, workload.parents
    )
    rejected.extend(dropped)

    choices: list[Choice] = []
    full = frozenset(chosen)
    for cand in chosen:
        qs = by_table[cand.table]
        without = await costs.get(full - {cand}, qs)
        effects = []
        saved = 0.0
        for q in qs:
            before, after_all = without.get(q.id), final.get(q.id)
            if before is None or after_all is None:
                continue
            if _gain(before, after_all) >= settings.min_gain:
                effects.append(Effect(q.id, share[q.id], base[q.id], after_all))
                saved += share[q.id] * (before - after_all) / base[q.id]
        effects.sort(key=lambda e: (-e.share, e.query_id))
        note = upkeep.note(cand, saved)
        choices.append(Choice(cand, tuple(effects), saved, upkeep.share(cand), note))
    choices.sort(key=lambda c: (-c.benefit, c.candidate.label))
    after_costs = {q: final.get(q, c) for q, c in base.items()}
    rejected.sort(key=lambda r: (r.schema or "", r.table, r.columns, r.include, r.where or ""))
    return Selection(
        chosen=tuple(choices),
        rejected=tuple(rejected),
        cost_before=base,
        cost_after={q: (c if c is not None else base[q]) for q, c in after_costs.items()},
        evaluations=costs.evaluations,
    )


_Entry = tuple[float, int, str, int, Candidate]


async def _smallest_of_ties(
    gain: float,
    best: Candidate,
    heap: list[_Entry],
    round_: int,
    evaluate: Callable[[Candidate], Awaitable[tuple[float, Mapping[str, float | None]]]],
    remaining: Callable[[Candidate, Mapping[str, float | None]], float],
    size_of: Callable[[Candidate], tuple[float, int, str]],
    settings: AdvisorSettings,
) -> Candidate:
    """Among the candidates of ``best``'s table that leave at most ``tie_margin`` more cost
    on that table's statements than ``best`` does, the smallest index (less space, cheaper
    writes): a partial index that serves the same statements as a full one, a key without
    a column the planner does not need. The others go back on the heap."""
    _, best_after = await evaluate(best)
    left = remaining(best, best_after)
    # same table: their gains differ by exactly their remaining costs' difference
    floor = gain - settings.tie_margin * left - 1e-12
    ties = [best]
    back: list[_Entry] = []
    while heap and -heap[0][0] >= floor:
        entry = heapq.heappop(heap)
        cand = entry[4]
        if entry[3] != round_:
            fresh, _ = await evaluate(cand)
            if fresh > 0:
                heapq.heappush(heap, (-fresh, cand.width, cand.label, round_, cand))
            else:
                back.append(entry)  # rejected in a later round with the reason
            continue
        if cand.table == best.table:
            ties.append(cand)
        else:
            back.append(entry)
    chosen = min(ties, key=size_of)
    for cand in ties:
        if cand is not chosen:
            fresh, _ = await evaluate(cand)
            back.append((-fresh, cand.width, cand.label, round_, cand))
    for entry in back:
        heapq.heappush(heap, entry)
    return chosen


async def _drop_redundant(
    chosen: list[Candidate],
    costs: _Costs,
    by_table: Mapping[TableRef, list[QueryInfo]],
    base: Mapping[str, float],
    share: Mapping[str, float],
    settings: AdvisorSettings,
    parents: Mapping[TableRef, TableRef],
) -> tuple[list[Candidate], dict[str, float | None], list[Rejection]]:
    """Remove, latest first, any chosen index whose removal costs no statement clearly."""
    dropped: list[Rejection] = []
    kept = list(chosen)
    changed = True
    while changed:
        changed = False
        full = frozenset(kept)
        for cand in reversed(kept):
            qs = by_table[cand.table]
            with_all = await costs.get(full, qs)
            without = await costs.get(full - {cand}, qs)
            saved = 0.0
            for q in qs:
                cost_without, cost_with = without[q.id], with_all[q.id]
                if cost_without is None or cost_with is None:
                    continue
                if _gain(cost_without, cost_with) >= settings.min_gain:
                    saved += share[q.id] * (cost_without - cost_with) / base[q.id]
            if saved < settings.min_benefit:
                others = [c for c in kept if c is not cand]
                dropped.append(cand.rejection(_redundant_reason(cand, others, parents)))
                kept.remove(cand)
                changed = True
                break
    final: dict[str, float | None] = {}
    full = frozenset(kept)
    for table in {c.table for c in kept}:
        final.update(await costs.get(full, by_table[table]))
    return kept, final, dropped


def _redundant_reason(
    cand: Candidate, others: Sequence[Candidate], parents: Mapping[TableRef, TableRef]
) -> str:
    # an index on a partition's partitioned root is an index on the partition too
    on = (cand.table, parents.get(cand.table))
    same = [o for o in others if o.table in on]
    # name the chosen indexes serving the same statements; all of the table's otherwise
    overlapping = [o for o in same if o.queries & cand.queries] or same
    if overlapping:
        return "made redundant by " + "; ".join(o.label for o in overlapping)
    return "no clear gain once the other suggestions exist"


def _no_gain_reason(
    qs: Sequence[QueryInfo],
    before: Mapping[str, float],
    after: Mapping[str, float | None],
    settings: AdvisorSettings,
) -> str:
    best: tuple[float, str, float, float | None] | None = None
    for q in qs:
        gain = _gain(before[q.id], after.get(q.id))
        if best is None or gain > best[0]:
            best = (gain, q.id, before[q.id], after.get(q.id))
    if best is None or best[3] is None:
        return "the planner could not cost it"
    gain, _qid, was, now = best
    return (
        f"no clear gain: the best statement's cost goes from {was:,.1f} to {now:,.1f} "
        f"({gain:.0%} lower, {settings.min_gain:.0%} needed)"
    )


def relative_cost(
    workload: Workload, base: Mapping[str, float], costs: Mapping[str, float | None]
) -> float:
    """Σ share × cost / today's cost over the costed statements: the greedy's objective."""
    total = 0.0
    for q in workload.queries:
        if q.id not in base:
            continue
        value = costs.get(q.id)
        ratio = 1.0 if value is None or base[q.id] <= 0 else value / base[q.id]
        total += workload.share(q) * ratio
    return total
