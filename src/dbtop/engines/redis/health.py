"""Redis health: what analysis/health/redis.py judges, from the INFO and CONFIG each poll
already read (no extra round trip) and the keyspace sample, plus the eviction rate
between two polls, which only this source remembers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dbtop.analysis.health.redis import judge
from dbtop.model import Finding, KeyPattern

NodeInfo = tuple[str | None, Mapping[str, str], Mapping[str, str]]


class HealthSource:
    """Per node, the evicted_keys counter of the last poll and when it was read."""

    def __init__(self) -> None:
        self._evicted: dict[str | None, tuple[int, float]] = {}

    def findings(
        self, nodes: Sequence[NodeInfo], keyspace: Sequence[KeyPattern], now: float
    ) -> list[Finding]:
        out: list[Finding] = []
        for node, info, config in nodes:
            out += judge(
                info,
                config,
                node=node,
                evicted_per_s=self._rate(node, info, now),
                keyspace=[p for p in keyspace if p.node == node] if node else keyspace,
            )
        return out

    def _rate(self, node: str | None, info: Mapping[str, str], now: float) -> float | None:
        try:
            evicted = int(info.get("evicted_keys") or 0)
        except ValueError:
            return None
        before = self._evicted.get(node)
        self._evicted[node] = (evicted, now)
        if before is None or now <= before[1] or evicted < before[0]:
            return None
        return (evicted - before[0]) / (now - before[1])
