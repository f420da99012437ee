"""The greedy choice: weighted by time, a clear margin, nothing redundant, reasons for the
rest. Costs come from a table of what-if answers (a cost model, not a driver) or from the
heuristic model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    HeuristicOracle,
    QueryInfo,
    SortKey,
    TableAccess,
    generate,
    relative_cost,
    select,
)

from .helpers import ORDERS, query, workload

A = Candidate(ORDERS, ("customer_id",), lookups=1)
AB = Candidate(ORDERS, ("customer_id", "shop_id"), lookups=2)
B = Candidate(ORDERS, ("shop_id",), lookups=1)
C = Candidate(ORDERS, ("created_at",))


class TableOracle:
    """Cost of a statement = the cheapest of its options that the index set allows."""

    def __init__(self, rule: Callable[[str, frozenset[Candidate]], float]) -> None:
        self.rule = rule
        self.calls: list[tuple[frozenset[Candidate], tuple[str, ...]]] = []

    async def costs(
        self, indexes: frozenset[Candidate], queries: Sequence[QueryInfo]
    ) -> Mapping[str, float | None]:
        self.calls.append((indexes, tuple(q.id for q in queries)))
        return {q.id: self.rule(q.id, indexes) for q in queries}


def two_statements():
    q1 = query("q1", TableAccess(ORDERS, equality=("customer_id",)), total_ms=60)
    q2 = query("q2", TableAccess(ORDERS, equality=("customer_id", "shop_id")), total_ms=40)
    return workload(q1, q2)


async def test_one_index_serving_both_statements_is_enough():
    def rule(qid: str, s: frozenset[Candidate]) -> float:
        if qid == "q1":
            return 10 if (A in s or AB in s) else 1000
        return 8 if AB in s else 12 if A in s else 1000

    result = await select(two_statements(), [A, AB, B], TableOracle(rule))
    assert [c.candidate for c in result.chosen] == [AB]
    (choice,) = result.chosen
    assert {e.query_id for e in choice.effects} == {"q1", "q2"}
    assert choice.benefit > 0.9
    reasons = {r.columns: r.reason for r in result.rejected}
    assert (
        "made redundant by" in reasons[("customer_id",)]
        or "no clear gain" in reasons[("customer_id",)]
    )
    assert "no clear gain" in reasons[("shop_id",)]


async def test_an_index_made_redundant_later_is_dropped():
    # A alone is the best first pick; AB then helps q2 a lot and also serves q1, so A is
    # redundant in the final set.
    def rule(qid: str, s: frozenset[Candidate]) -> float:
        if qid == "q1":
            return 10 if A in s else 11 if AB in s else 1000
        return 5 if AB in s else 900 if A in s else 1000

    w = workload(
        query("q1", TableAccess(ORDERS, equality=("customer_id",)), total_ms=70),
        query("q2", TableAccess(ORDERS, equality=("customer_id", "shop_id")), total_ms=30),
    )
    result = await select(w, [A, AB], TableOracle(rule))
    assert [c.candidate for c in result.chosen] == [AB]
    (dropped,) = [r for r in result.rejected if r.columns == ("customer_id",)]
    assert "made redundant by public.orders (customer_id, shop_id)" in dropped.reason


async def test_small_gain_below_the_margin_is_rejected():
    def rule(qid: str, s: frozenset[Candidate]) -> float:
        return 900 if A in s else 1000  # 10% lower: planner noise, not a clear gain

    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id",))))
    result = await select(w, [A], TableOracle(rule))
    assert result.chosen == ()
    (rejection,) = result.rejected
    assert "no clear gain" in rejection.reason and "10% lower, 20% needed" in rejection.reason


async def test_weight_by_time_and_the_suggestion_limit():
    w = workload(
        query("hot", TableAccess(ORDERS, equality=("customer_id",)), total_ms=900),
        query("cold", TableAccess(ORDERS, equality=("shop_id",)), total_ms=100),
    )

    def rule(qid: str, s: frozenset[Candidate]) -> float:
        if qid == "hot":
            return 10 if A in s else 1000
        return 1 if B in s else 1000  # a bigger relative gain, but a tenth of the time

    result = await select(w, [A, B], TableOracle(rule), AdvisorSettings(max_suggestions=1))
    assert [c.candidate for c in result.chosen] == [A]
    (rejection,) = result.rejected
    assert rejection.columns == ("shop_id",) and "limit of 1" in rejection.reason


async def test_minimum_benefit():
    w = workload(
        query("hot", TableAccess(ORDERS, equality=("customer_id",)), total_ms=99_999),
        query("rare", TableAccess(ORDERS, equality=("shop_id",)), total_ms=1),
    )

    def rule(qid: str, s: frozenset[Candidate]) -> float:
        if qid == "hot":
            return 10 if A in s else 1000
        return 1 if B in s else 1000

    result = await select(w, [A, B], TableOracle(rule))
    assert [c.candidate for c in result.chosen] == [A]
    (rejection,) = result.rejected
    assert "less than the 0.10%" in rejection.reason


async def test_statements_the_oracle_cannot_cost_are_left_out():
    def rule(qid: str, s: frozenset[Candidate]) -> float | None:
        return None

    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id",))))
    result = await select(w, [A], TableOracle(rule))  # type: ignore[arg-type]
    assert result.chosen == ()
    assert "could not be costed" in result.rejected[0].reason


async def test_answers_are_cached():
    oracle = TableOracle(lambda qid, s: 10 if A in s else 1000)
    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id",))))
    result = await select(w, [A], oracle)
    asked = [(s, q) for s, qs in oracle.calls for q in qs]
    assert len(asked) == len(set(asked)) == result.evaluations


async def test_costs_and_objective_before_and_after():
    w = two_statements()
    oracle = TableOracle(lambda qid, s: 10 if (A in s or AB in s) else 1000)
    result = await select(w, [A], oracle)
    assert result.cost_before == {"q1": 1000, "q2": 1000}
    assert result.cost_after == {"q1": 10, "q2": 10}
    assert relative_cost(w, result.cost_before, result.cost_before) == 1.0
    assert abs(relative_cost(w, result.cost_before, result.cost_after) - 0.01) < 1e-9
    before, after = result.workload_cost({"q1": 0.6, "q2": 0.4})
    assert before == 1.0 and abs(after - 0.01) < 1e-9


async def test_heuristic_model_end_to_end():
    w = workload(
        query(
            "by_customer",
            TableAccess(ORDERS, equality=("customer_id",), selected=None),
            total_ms=500,
        ),
        query(
            "recent",
            TableAccess(
                ORDERS,
                order_by=(SortKey("created_at", descending=True),),
                limit=True,
                selected=None,
            ),
            total_ms=300,
        ),
        query("by_status", TableAccess(ORDERS, equality=("status",)), total_ms=200),
    )
    generated = generate(w)
    result = await select(w, generated.candidates, HeuristicOracle(w))
    assert {c.candidate.columns for c in result.chosen} == {("customer_id",), ("created_at",)}
    assert any(r.columns == ("status",) and "not selective" in r.reason for r in generated.rejected)


P = Candidate(ORDERS, ("customer_id",), where=("deleted_at IS NULL",), lookups=1)
COVER = Candidate(ORDERS, ("customer_id",), include=("total",), lookups=1)


async def test_near_tie_goes_to_the_smaller_index():
    # the partial index serves the statement as well as the full one, and is smaller
    def rule(qid: str, s: frozenset[Candidate]) -> float:
        return 20.5 if P in s else 20 if A in s else 1000

    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id",))))
    result = await select(w, [A, P], TableOracle(rule), sizes={A: 2_000_000, P: 200_000})
    assert [c.candidate for c in result.chosen] == [P]
    (loser,) = result.rejected
    assert loser.where is None and "made redundant by" in loser.reason


async def test_a_clearly_better_index_wins_over_a_smaller_one():
    # the covering index leaves a third of the plain one's cost: no tie, whatever the size
    def rule(qid: str, s: frozenset[Candidate]) -> float:
        return 10 if COVER in s else 30 if A in s else 1000

    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id",))))
    result = await select(w, [A, COVER], TableOracle(rule), sizes={A: 1, COVER: 10**9})
    assert [c.candidate for c in result.chosen] == [COVER]


async def test_without_sizes_fewer_columns_win_a_tie():
    def rule(qid: str, s: frozenset[Candidate]) -> float:
        return 20 if (A in s or AB in s) else 1000

    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id", "shop_id"))))
    result = await select(w, [AB, A], TableOracle(rule))
    assert [c.candidate for c in result.chosen] == [A]
