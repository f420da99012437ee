"""The lock graph: who blocks whom, drawn as trees from each root blocker down.

Input is the engine's edges ``waiter -> blocker``. A root blocker blocks others and waits
for nobody; killing it releases its whole tree. Sessions that wait for each other in a
ring (a deadlock in the making, or one the server has not yet detected) have no root: the
ring is reported in ``cycles`` and drawn from its smallest id so it is still visible.

A waiter with several blockers appears under each of them: it is released only when all
of them are gone, and the DBA must see every one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dbtop.model import LockWait, frozen

#: Bound on nodes drawn, so a pathological graph (many waiters sharing many blockers)
#: cannot make the tree explode; the counts stay exact.
MAX_NODES = 5000
#: Bound on the depth drawn (a chain thousands deep is a bug elsewhere, but must not crash).
MAX_DEPTH = 200


@dataclass(frozen=True, slots=True)
class LockNode:
    session_id: str
    #: the edge from this node (the waiter) to its parent (the blocker); None for a root
    wait: LockWait | None
    children: tuple[LockNode, ...]
    depth: int
    in_cycle: bool = False


@dataclass(frozen=True, slots=True)
class LockForest:
    roots: tuple[LockNode, ...]
    cycles: tuple[tuple[str, ...], ...]
    blocked_count: Mapping[str, int]
    root_ids: frozenset[str]
    blocker_ids: frozenset[str]
    waiter_ids: frozenset[str]
    max_depth: int
    truncated: bool = False

    def node_count(self) -> int:
        count = 0
        todo = list(self.roots)
        while todo:
            node = todo.pop()
            count += 1
            todo.extend(node.children)
        return count


EMPTY_FOREST = LockForest((), (), frozen(), frozenset(), frozenset(), frozenset(), 0)


def _strongly_connected(
    nodes: Iterable[str], blockers_of: Mapping[str, list[str]]
) -> list[list[str]]:
    """Tarjan's algorithm, iterative so a long chain cannot exhaust the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, child_pos = work.pop()
            if child_pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = blockers_of.get(node, [])
            if child_pos < len(successors):
                work.append((node, child_pos + 1))
                nxt = successors[child_pos]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def build_lock_forest(lock_waits: Iterable[LockWait]) -> LockForest:
    edges = list(lock_waits)
    if not edges:
        return EMPTY_FOREST

    blockers_of: dict[str, list[str]] = defaultdict(list)
    waiters_of: dict[str, list[str]] = defaultdict(list)
    edge_of: dict[tuple[str, str], LockWait] = {}
    for edge in edges:
        key = (edge.waiter, edge.blocker)
        if key in edge_of:
            continue  # the same pair on several locks: the first edge describes it
        edge_of[key] = edge
        blockers_of[edge.waiter].append(edge.blocker)
        waiters_of[edge.blocker].append(edge.waiter)

    waiter_ids = frozenset(blockers_of)
    blocker_ids = frozenset(waiters_of)
    everyone = sorted(waiter_ids | blocker_ids)

    cycles: list[tuple[str, ...]] = []
    in_cycle: set[str] = set()
    for component in _strongly_connected(everyone, blockers_of):
        if len(component) > 1 or component[0] in blockers_of.get(component[0], []):
            cycles.append(tuple(sorted(component)))
            in_cycle.update(component)

    true_roots = [s for s in blocker_ids if s not in waiter_ids]
    # A ring reachable from no true root would be invisible: draw it from its smallest id.
    reachable = _reachable_from(true_roots, waiters_of)
    cycle_roots = [min(c) for c in sorted(cycles) if not reachable.intersection(c)]

    budget = [MAX_NODES]
    truncated = [False]

    def grow(session: str, wait: LockWait | None, depth: int, path: frozenset[str]) -> LockNode:
        budget[0] -= 1
        children: list[LockNode] = []
        for waiter in sorted(waiters_of.get(session, [])):
            if waiter in path:
                continue  # closing a ring: already drawn above
            if budget[0] <= 0 or depth >= MAX_DEPTH:
                truncated[0] = True
                break
            children.append(grow(waiter, edge_of[(waiter, session)], depth + 1, path | {waiter}))
        return LockNode(session, wait, tuple(children), depth, session in in_cycle)

    blocked_count = {
        root: len(_reachable_from([root], waiters_of) - {root})
        for root in [*true_roots, *cycle_roots]
    }
    ordered = sorted(blocked_count, key=lambda r: (-blocked_count[r], _natural(r)))
    roots = tuple(grow(root, None, 0, frozenset({root})) for root in ordered)

    return LockForest(
        roots=roots,
        cycles=tuple(sorted(cycles)),
        blocked_count=frozen(blocked_count),
        root_ids=frozenset(ordered),
        blocker_ids=blocker_ids,
        waiter_ids=waiter_ids,
        max_depth=max((_depth(root) for root in roots), default=0),
        truncated=truncated[0],
    )


def _reachable_from(starts: Iterable[str], waiters_of: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        todo.extend(waiters_of.get(node, []))
    return seen


def _depth(node: LockNode) -> int:
    deepest = 0
    todo = [node]
    while todo:
        current = todo.pop()
        deepest = max(deepest, current.depth)
        todo.extend(current.children)
    return deepest


def _natural(session_id: str) -> tuple[int, int | str]:
    """Numeric ids (pids, opids) sort as numbers, others as text."""
    return (0, int(session_id)) if session_id.isdigit() else (1, session_id)
