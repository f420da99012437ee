"""Who waits for whom, inferred from $currentOp's lock fields (MongoDB has no lock-wait view).

Each operation reports ``locks`` (resource type -> mode, in the legacy letters ``r`` IS,
``w`` IX, ``R`` S, ``W`` X), ``waitingForLock`` and ``lockStats`` (acquire and wait counts
per resource type and mode). A waiting operation waits for the deepest resource it reports
(locks are taken Global, then Database, then Collection); the mode it asks for is its mode
there. It is blocked by every other operation that holds a conflicting mode on the same
resource (the same database, the same namespace; an idle transaction reports no namespace,
so it counts as holding its locks on any); when none holds one it is queued behind
an earlier waiter that asks for a conflicting mode (MongoDB grants locks in order, so an IX
request waits behind a queued X request: the createIndex-behind-a-long-transaction chain).

Pure: operations in, ``LockWait`` edges out. The edges are inferred, and marked so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbtop.model import LockWait, frozen

if TYPE_CHECKING:
    from dbtop.engines.mongodb.sessions import Parsed

#: legacy letters and full names of the four lock modes
MODES = {"r": "IS", "w": "IX", "R": "S", "W": "X", "IS": "IS", "IX": "IX", "S": "S", "X": "X"}
#: requested mode -> held modes it cannot be granted with
CONFLICTS = {
    "IS": frozenset({"X"}),
    "IX": frozenset({"S", "X"}),
    "S": frozenset({"IX", "X"}),
    "X": frozenset({"IS", "IX", "S", "X"}),
}
#: acquisition order: a waiter waits for the deepest resource type it reports
_DEPTH = {
    "ParallelBatchWriterMode": 0,
    "ReplicationStateTransition": 1,
    "FeatureCompatibilityVersion": 2,
    "Global": 3,
    "Tenant": 4,
    "Database": 5,
    "Collection": 6,
    "Metadata": 7,
    "Mutex": 8,
    "oplog": 9,
}
_PER_DATABASE = frozenset({"Database", "Tenant"})
_PER_NAMESPACE = frozenset({"Collection", "Metadata"})
#: blockers listed per waiter (a global X waiter conflicts with every operation)
MAX_BLOCKERS = 10


@dataclass(frozen=True, slots=True)
class LockInfo:
    """What one operation says about its locks."""

    id: str
    namespace: str | None
    locks: Mapping[str, str]
    waiting: bool
    #: resource types with waits counted in lockStats (their modes)
    waited: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    running_s: float = 0.0
    node: str | None = None


def mode_name(value: Any) -> str | None:
    return MODES.get(value) if isinstance(value, str) else None


def lock_info(
    op_id: str, doc: Mapping[str, Any], running_s: float, node: str | None = None
) -> LockInfo | None:
    """The lock facts of a currentOp document; None when it reports no lock at all."""
    raw = doc.get("locks")
    locks: dict[str, str] = {}
    if isinstance(raw, Mapping):
        for kind, mode in raw.items():
            name = mode_name(mode)
            if name is None and isinstance(mode, Mapping):
                # some versions nest the collection lock: {"Collection": {"mode": "w"}}
                name = mode_name(mode.get("mode"))
            if name:
                locks[str(kind)] = name
    waited: dict[str, tuple[str, ...]] = {}
    stats = doc.get("lockStats")
    if isinstance(stats, Mapping):
        for kind, entry in stats.items():
            counts = entry.get("acquireWaitCount") if isinstance(entry, Mapping) else None
            if isinstance(counts, Mapping):
                modes = tuple(m for k, v in counts.items() if (m := mode_name(k)) and _positive(v))
                if modes:
                    waited[str(kind)] = modes
    waiting = bool(doc.get("waitingForLock"))
    if not locks and not waiting:
        return None
    ns = doc.get("ns")
    return LockInfo(
        id=op_id,
        namespace=ns if isinstance(ns, str) else None,
        locks=locks,
        waiting=waiting,
        waited=waited,
        running_s=running_s,
        node=node,
    )


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def waited_resource(info: LockInfo) -> tuple[str, str] | None:
    """The (resource type, mode) a waiting operation is waiting for."""
    if not info.waiting:
        return None
    # Locks are taken top down and ``locks`` may stop at the last one granted (Database IX)
    # while lockStats already counts the wait for the next (Collection w): the deepest
    # resource either names is the one asked for.
    candidates = [*info.locks, *(k for k in info.waited if k not in info.locks)]
    if not candidates:
        return None
    kind = max(candidates, key=lambda k: _DEPTH.get(k, 5))
    mode = info.locks.get(kind) or _strongest(info.waited.get(kind) or ("X",))
    return kind, mode


def _strongest(modes: Sequence[str]) -> str:
    """Of the modes waited for on one resource, the one that conflicts with the most."""
    return max(modes, key=lambda m: len(CONFLICTS.get(m, ())))


def resource_key(kind: str, namespace: str | None) -> tuple[str, str]:
    if kind in _PER_DATABASE:
        return kind, (namespace or "").partition(".")[0]
    if kind in _PER_NAMESPACE:
        return kind, namespace or ""
    return kind, ""


def describe(kind: str, namespace: str | None) -> str:
    key = resource_key(kind, namespace)[1]
    return f"{kind} {key}" if key else kind


def infer_waits(ops: Iterable[LockInfo]) -> list[LockWait]:
    """Edges waiter -> blocker for every waiting operation."""
    infos = list(ops)
    held: dict[tuple[str, str, str | None], list[tuple[LockInfo, str]]] = defaultdict(list)
    #: holders that name no namespace (an idle transaction): they may hold any resource
    held_anywhere: dict[tuple[str, str | None], list[tuple[LockInfo, str]]] = defaultdict(list)
    queued: dict[tuple[str, str, str | None], list[tuple[LockInfo, str]]] = defaultdict(list)
    waits: dict[str, tuple[str, str]] = {}
    for info in infos:
        target = waited_resource(info)
        if target is not None:
            waits[info.id] = target
            kind, mode = target
            queued[(*resource_key(kind, info.namespace), info.node)].append((info, mode))
        for kind, mode in info.locks.items():
            if target is not None and kind == target[0]:
                continue  # asked for, not held
            if info.namespace is None and (kind in _PER_DATABASE or kind in _PER_NAMESPACE):
                held_anywhere[(kind, info.node)].append((info, mode))
            else:
                held[(*resource_key(kind, info.namespace), info.node)].append((info, mode))
    edges: list[LockWait] = []
    for info in infos:
        target = waits.get(info.id)
        if target is None:
            continue
        kind, mode = target
        key = (*resource_key(kind, info.namespace), info.node)
        conflicting = CONFLICTS.get(mode, CONFLICTS["X"])
        holders = [*held.get(key, ()), *held_anywhere.get((kind, info.node), ())]
        blockers = [
            (other, held_mode, "holds" if other.namespace is not None else "may hold")
            for other, held_mode in holders
            if other.id != info.id and held_mode in conflicting
        ]
        if not blockers:
            # Granted in order: it queues behind an earlier waiter it conflicts with
            # (running longer stands for asking earlier).
            blockers = [
                (other, other_mode, "queued ahead")
                for other, other_mode in queued.get(key, ())
                if other.id != info.id
                and other.running_s > info.running_s
                and (other_mode in conflicting or mode in CONFLICTS.get(other_mode, frozenset()))
            ]
        blockers.sort(key=lambda b: (-b[0].running_s, b[0].id))
        for other, held_mode, how in blockers[:MAX_BLOCKERS]:
            edges.append(
                LockWait(
                    waiter=info.id,
                    blocker=other.id,
                    mode=mode,
                    lock_type=kind,
                    object=resource_key(kind, info.namespace)[1] or None,
                    held_mode=held_mode,
                    node=info.node,
                    extra=frozen(
                        inferred=True,
                        inferred_reason=_reason(info, kind, mode, how),
                        relation=how,
                        waiter_running_s=round(info.running_s, 3),
                        more_blockers=max(len(blockers) - MAX_BLOCKERS, 0),
                    ),
                )
            )
    return edges


def _reason(info: LockInfo, kind: str, mode: str, how: str) -> str:
    """Why the edge is drawn: MongoDB names no holder, only modes and wait counts."""
    source = "locks" if kind in info.locks else "lockStats acquireWaitCount"
    return f"waits for {kind} {mode} ({source}); blocker {how} a conflicting mode"


def blocked_by(edges: Sequence[LockWait]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.blocker not in out[edge.waiter]:
            out[edge.waiter].append(edge.blocker)
    return {k: tuple(v) for k, v in out.items()}


def wait_graph(
    parsed: Sequence[Parsed],
) -> tuple[dict[str, tuple[str, str] | None], list[LockWait], dict[str, tuple[str, ...]]]:
    """For the operations of a poll: what each waiting one waits for, the inferred edges,
    and who blocks whom."""
    infos = []
    if any(op.doc.get("waitingForLock") for op in parsed):  # else: no edge to find
        for op in parsed:
            info = lock_info(op.id, op.doc, op.running_s or 0.0, op.node)
            if info is not None:
                infos.append(info)
    waits = {i.id: waited_resource(i) for i in infos if i.waiting}
    edges = infer_waits(infos)
    return waits, edges, blocked_by(edges)
