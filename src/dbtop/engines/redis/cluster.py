"""Redis Cluster: the nodes from ``CLUSTER NODES``, and which node owns a key's slot.

Pointed at any node, dbtop reads the node table, opens one monitor connection to each node
that is not failing, and merges what they report with the node (``host:port``) on every row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from redis.crc import key_slot

from dbtop.engines.redis.info import text


@dataclass(frozen=True, slots=True)
class ClusterNode:
    node_id: str
    host: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    link_state: str
    slots: tuple[tuple[int, int], ...]

    @property
    def name(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def is_myself(self) -> bool:
        return "myself" in self.flags

    @property
    def usable(self) -> bool:
        """Worth connecting to: not failing, with an address."""
        bad = {"fail", "fail?", "noaddr", "handshake"}
        return not (self.flags & bad) and bool(self.host) and self.port > 0

    @property
    def role(self) -> str:
        return "master" if self.is_master else "replica"


def parse_cluster_nodes(reply: object, *, fallback_host: str | None = None) -> list[ClusterNode]:
    """Parse ``CLUSTER NODES``; an empty host (a node that does not know its own address
    yet) is taken to be the host we reached it on."""
    nodes: list[ClusterNode] = []
    for line in text(reply).splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        address = parts[1].split(",", 1)[0].split("@", 1)[0]
        host, _, port_text = address.rpartition(":")
        host = host.strip("[]")
        flags = frozenset(parts[2].split(","))
        if not host and "myself" in flags and fallback_host:
            host = fallback_host
        try:
            port = int(port_text)
        except ValueError:
            port = 0
        slots: list[tuple[int, int]] = []
        for item in parts[8:]:
            if item.startswith("["):
                continue  # a slot being imported or migrated
            low, _, high = item.partition("-")
            try:
                slots.append((int(low), int(high or low)))
            except ValueError:
                continue
        nodes.append(
            ClusterNode(
                node_id=parts[0],
                host=host,
                port=port,
                flags=flags,
                master_id=None if parts[3] == "-" else parts[3],
                link_state=parts[7],
                slots=tuple(sorted(slots)),
            )
        )
    return nodes


class SlotMap:
    """Which master serves a key, from the slot ranges of CLUSTER NODES."""

    def __init__(self, nodes: list[ClusterNode]) -> None:
        ranges = sorted(
            (low, high, node.name)
            for node in nodes
            if node.is_master and node.usable
            for low, high in node.slots
        )
        self._starts = [r[0] for r in ranges]
        self._ranges = ranges

    def node_for(self, key: bytes) -> str | None:
        slot = key_slot(key)
        index = bisect_right(self._starts, slot) - 1
        if index < 0:
            return None
        low, high, name = self._ranges[index]
        return name if low <= slot <= high else None


def nodes_extra(nodes: list[ClusterNode], connected: Collection[str]) -> list[dict[str, Any]]:
    """The node table of the snapshot's ``extra`` (``cluster_nodes``)."""
    return [
        {
            "node": n.name,
            "id": n.node_id,
            "role": n.role,
            "flags": sorted(n.flags),
            "master_id": n.master_id,
            "slots": [list(r) for r in n.slots],
            "link_state": n.link_state,
            "connected": n.name in connected,
        }
        for n in nodes
    ]
