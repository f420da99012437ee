"""A key's anatomy: TYPE, OBJECT ENCODING, MEMORY USAGE, TTL, length, idle time or frequency.

Every command here is O(1) (MEMORY USAGE samples only a few elements of a big aggregate) and
none changes the key. OBJECT IDLETIME answers under an LRU policy and OBJECT FREQ under an LFU
one; the other is refused and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbtop.engines.redis.commands import quote_arg
from dbtop.engines.redis.connection import Link
from dbtop.engines.redis.info import integer, text
from dbtop.model import PlanNode, frozen

#: type -> (length command, what is counted)
LENGTH: dict[str, tuple[str, str]] = {
    "string": ("STRLEN", "bytes"),
    "list": ("LLEN", "elements"),
    "hash": ("HLEN", "fields"),
    "set": ("SCARD", "members"),
    "zset": ("ZCARD", "members"),
    "stream": ("XLEN", "entries"),
}


@dataclass(frozen=True, slots=True)
class KeyAnatomy:
    key: bytes
    db: int
    node: str | None
    type: str
    encoding: str | None = None
    memory_bytes: int | None = None
    ttl_ms: int | None = None
    length: int | None = None
    length_unit: str | None = None
    idle_s: int | None = None
    freq: int | None = None

    @property
    def exists(self) -> bool:
        return self.type != "none"

    @property
    def name(self) -> str:
        return quote_arg(self.key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key.decode("utf-8", "backslashreplace"),
            "db": self.db,
            "node": self.node,
            "exists": self.exists,
            "type": self.type,
            "encoding": self.encoding,
            "memory_bytes": self.memory_bytes,
            "ttl_s": None if self.ttl_ms is None or self.ttl_ms < 0 else self.ttl_ms / 1000,
            "length": self.length,
            "length_unit": self.length_unit,
            "idle_s": self.idle_s,
            "freq": self.freq,
        }


def _value(reply: object) -> object | None:
    return None if isinstance(reply, Exception) else reply


async def key_anatomy(
    link: Link, key: bytes, *, db: int, select: bool, node: str | None = None
) -> KeyAnatomy:
    """The key's anatomy; ``node`` names the cluster node it lives on (None standalone)."""
    head: list[list[Any]] = [["SELECT", db]] if select else []
    commands = [
        *head,
        ["TYPE", key],
        ["OBJECT", "ENCODING", key],
        ["MEMORY", "USAGE", key],
        ["PTTL", key],
        ["OBJECT", "IDLETIME", key],
        ["OBJECT", "FREQ", key],
    ]
    replies = (await link.pipeline(commands))[len(head) :]
    type_reply = replies[0]
    if isinstance(type_reply, Exception):
        raise link.error(type_reply)
    key_type = text(type_reply)
    if key_type == "none":
        return KeyAnatomy(key=key, db=db, node=node, type="none")
    length = unit = None
    if key_type in LENGTH:
        command, unit = LENGTH[key_type]
        length_reply = (await link.pipeline([*head, [command, key]]))[-1]
        length = integer(_value(length_reply))
    return KeyAnatomy(
        key=key,
        db=db,
        node=node,
        type=key_type,
        encoding=text(_value(replies[1])) or None,
        memory_bytes=integer(_value(replies[2])),
        ttl_ms=integer(_value(replies[3])),
        length=length,
        length_unit=unit,
        idle_s=integer(_value(replies[4])),
        freq=integer(_value(replies[5])),
    )


def human_bytes(value: int | None) -> str:
    if value is None:
        return "? B"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def ttl_words(ttl_ms: int | None) -> str:
    if ttl_ms is None:
        return "TTL unknown"
    if ttl_ms < 0:
        return "no TTL"
    return f"expires in {ttl_ms / 1000:,.1f}s"


def anatomy_node(anatomy: KeyAnatomy) -> PlanNode:
    where = f"db{anatomy.db}" + (f" on {anatomy.node}" if anatomy.node else "")
    if not anatomy.exists:
        return PlanNode(
            name=f"key {anatomy.name}",
            detail=f"does not exist in {where}",
            rows=0,
            extra=frozen(anatomy.as_dict()),
        )
    parts = [anatomy.type]
    if anatomy.encoding:
        parts.append(f"{anatomy.encoding} encoding")
    if anatomy.length is not None:
        parts.append(f"{anatomy.length:,} {anatomy.length_unit}")
    parts.append(human_bytes(anatomy.memory_bytes))
    parts.append(ttl_words(anatomy.ttl_ms))
    if anatomy.idle_s is not None:
        parts.append(f"idle {anatomy.idle_s}s")
    if anatomy.freq is not None:
        parts.append(f"LFU counter {anatomy.freq}")
    return PlanNode(
        name=f"key {anatomy.name}",
        detail=" · ".join(parts) + f" ({where})",
        rows=float(anatomy.length) if anatomy.length is not None else None,
        extra=frozen(anatomy.as_dict()),
    )
