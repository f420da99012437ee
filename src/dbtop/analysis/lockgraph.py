"""The lock graph: who blocks whom, drawn as trees from each root blocker down.

Input is the engine's edges ``waiter -> blocker``. A root blocker blocks others and waits
for nobody; killing it releases its whole tree. Sessions that wait for each other in a
ring (a deadlock in the making, or one the server has not yet detected) have no root: the
ring is reported in ``cycles`` and drawn from its smallest id so it is still visible.

Edges are hard (the blocker holds what the waiter wants) or queue order (the blocker only
waits ahead of it on the same object: ``extra.queued_ahead``, which PostgreSQL's engine sets
from pg_locks). On a hot row PostgreSQL names every waiter ahead as a blocker, so drawing
every edge copies each waiter under each one ahead (n² lines). The tree is drawn over the
hard edges only: each waiter appears under the sessions holding what it wants, with its
place in the queue; the queue edges are kept (JSON, counts) but not drawn as branches. A
waiter with several holders appears under each: it is released only when all are gone.
An edge an engine cannot classify counts as hard.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

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
    #: sessions queued ahead of this one on the same object (soft, queue-order edges)
    queued_behind: tuple[str, ...] = ()

    @property
    def queue_position(self) -> int:
        """1 for the first in line for the object; n when n - 1 wait ahead of it."""
        return len(self.queued_behind) + 1


@dataclass(frozen=True, slots=True)
class LockForest:
    roots: tuple[LockNode, ...]
    cycles: tuple[tuple[str, ...], ...]
    blocked_count: Mapping[str, int]
    root_ids: frozenset[str]
    #: sessions holding what another waits for (a hard or unclassified edge); a waiter that
    #: is only queued ahead of others does not block them and is not here
    blocker_ids: frozenset[str]
    waiter_ids: frozenset[str]
    max_depth: int
    truncated: bool = False
    #: blocker id -> distinct sessions waiting on it over a hard edge
    direct_count: Mapping[str, int] = field(default_factory=frozen)
    #: blocker id -> ids of its waiters over any edge (for ``frees`` of a non-root)
    waiters_of: Mapping[str, tuple[str, ...]] = field(default_factory=frozen)
    #: sessions named only over queue-order edges: ahead of others in line, holding nothing
    queued_ahead_ids: frozenset[str] = frozenset()

    def frees(self, session_id: str) -> tuple[int, int]:
        """(direct, total): sessions waiting on it over a hard edge, and every session
        released, directly or not, if it ended (deduplicated)."""
        direct = self.direct_count.get(session_id, 0)
        total = self.blocked_count.get(session_id)
        if total is None:
            total = len(_reachable_from([session_id], self.waiters_of) - {session_id})
        return direct, total

    def node_count(self) -> int:
        count = 0
        todo = list(self.roots)
        while todo:
            node = todo.pop()
            count += 1
            todo.extend(node.children)
        return count


EMPTY_FOREST = LockForest((), (), frozen(), frozenset(), frozenset(), frozenset(), 0)


def is_queue_edge(edge: LockWait) -> bool:
    """The blocker only waits ahead of the waiter on the same object (soft edge)."""
    return bool(edge.extra.get("queued_ahead"))


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

    # The branches drawn: hard edges; a waiter with only queue edges hangs under the one
    # closest ahead of it (the one with the most blockers itself) so it is still drawn once.
    tree_children: dict[str, list[str]] = defaultdict(list)
    queued_behind: dict[str, tuple[str, ...]] = {}
    direct: dict[str, int] = defaultdict(int)
    for waiter, blockers in blockers_of.items():
        hard = [b for b in blockers if not is_queue_edge(edge_of[(waiter, b)])]
        soft = [b for b in blockers if is_queue_edge(edge_of[(waiter, b)])]
        queued_behind[waiter] = tuple(sorted(soft, key=_natural))
        for blocker in hard:
            direct[blocker] += 1
        parents = hard or [max(soft, key=lambda b: (len(blockers_of.get(b, [])), _natural(b)))]
        for parent in parents:
            tree_children[parent].append(waiter)

    waiter_ids = frozenset(blockers_of)
    named = frozenset(waiters_of)
    # "Blocks others" is a hard edge's word: in a hot-row queue every waiter ahead is named
    # by pg_blocking_pids, but ending it frees nobody behind it (the holder still holds).
    blocker_ids = frozenset(direct)
    everyone = sorted(waiter_ids | named)

    cycles: list[tuple[str, ...]] = []
    in_cycle: set[str] = set()
    for component in _strongly_connected(everyone, blockers_of):
        if len(component) > 1 or component[0] in blockers_of.get(component[0], []):
            cycles.append(tuple(sorted(component)))
            in_cycle.update(component)

    true_roots = [s for s in named if s not in waiter_ids]
    # A ring reachable from no true root would be invisible: draw it from its smallest id.
    reachable = _reachable_from(true_roots, tree_children)
    cycle_roots = [min(c) for c in sorted(cycles) if not reachable.intersection(c)]
    reachable |= _reachable_from(cycle_roots, tree_children)
    # A waiter the branches reach from no root (a ring through queue edges): drawn from
    # itself, so every waiter is on screen.
    for waiter in sorted(waiter_ids - reachable, key=_natural):
        if waiter not in reachable:
            cycle_roots.append(waiter)
            reachable |= _reachable_from([waiter], tree_children)

    def _queue_order(waiter: str) -> tuple[int, tuple[int, int | str]]:
        return len(queued_behind.get(waiter, ())), _natural(waiter)

    budget = [MAX_NODES]
    truncated = [False]

    def grow(session: str, wait: LockWait | None, depth: int, path: frozenset[str]) -> LockNode:
        budget[0] -= 1
        children: list[LockNode] = []
        for waiter in sorted(tree_children.get(session, []), key=_queue_order):
            if waiter in path:
                continue  # closing a ring: already drawn above
            if budget[0] <= 0 or depth >= MAX_DEPTH:
                truncated[0] = True
                break
            edge = edge_of[(waiter, session)]
            children.append(grow(waiter, edge, depth + 1, path | {waiter}))
        return LockNode(
            session,
            wait,
            tuple(children),
            depth,
            session in in_cycle,
            queued_behind.get(session, ()) if wait is not None else (),
        )

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
        direct_count=frozen(direct),
        waiters_of=frozen({k: tuple(v) for k, v in waiters_of.items()}),
        queued_ahead_ids=named - blocker_ids,
    )


def _reachable_from(starts: Iterable[str], waiters_of: Mapping[str, Sequence[str]]) -> set[str]:
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


def release_phrase(forest: LockForest, session_id: str) -> str | None:
    """What ending ``session_id`` frees, for a kill confirmation; None if it blocks nobody."""
    direct, total = forest.frees(session_id)
    if total == 0:
        return None
    noun = "session" if total == 1 else "sessions"
    return f"releases {total} waiting {noun}, {direct} directly"
