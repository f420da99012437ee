"""How much work a command does on the keys it names: its documented complexity set
against the sizes of those keys. Pure, so each rule is unit-tested.

The estimate is in elements touched (``rows`` of the plan node). It answers "why was this
slow?": HGETALL is O(N), and N is this hash's 480,000 fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dbtop.engines.redis.anatomy import KeyAnatomy
from dbtop.engines.redis.info import integer

#: Commands that read or free a whole key (or all of them): O(N) in its size.
WHOLE_KEY = frozenset(
    {
        "hgetall",
        "hkeys",
        "hvals",
        "smembers",
        "sunion",
        "sinter",
        "sdiff",
        "sunionstore",
        "sinterstore",
        "sdiffstore",
        "sort",
        "sort_ro",
        "del",
        "dump",
        "lrem",
        "lpos",
        "zunionstore",
        "zinterstore",
        "zunion",
        "zinter",
        "zdiff",
        "zdiffstore",
        "rename",
        "copy",
        "xrange",
        "xrevrange",
    }
)
#: Commands whose work is the whole database.
WHOLE_DB = frozenset({"keys", "flushdb", "flushall", "debug|reload"})

#: What to run instead of an O(N) command on a big key.
ALTERNATIVES: dict[str, str] = {
    "keys": "SCAN 0 MATCH <pattern> COUNT 1000, following the cursor",
    "hgetall": "HSCAN key 0 COUNT 100, or HMGET key with the fields you need",
    "hkeys": "HSCAN key 0 COUNT 100",
    "hvals": "HSCAN key 0 COUNT 100",
    "smembers": "SSCAN key 0 COUNT 100 (SISMEMBER / SMISMEMBER for membership tests)",
    "sunion": "keep the union maintained at write time, or SSCAN the sets",
    "sinter": "intersect smaller sets, or keep the result maintained at write time",
    "sdiff": "keep the difference maintained at write time, or SSCAN the sets",
    "lrange": "read a bounded window (LRANGE key 0 99) and page through it",
    "zrange": "read a bounded window (ZRANGE key 0 99, or BYSCORE … LIMIT 0 100) or ZSCAN",
    "zrangebyscore": "add LIMIT 0 100 and page",
    "zrevrange": "read a bounded window and page",
    "xrange": "add COUNT 100 and page from the last id",
    "xrevrange": "add COUNT 100 and page from the last id",
    "del": "UNLINK key (frees the memory in a background thread)",
    "flushall": "FLUSHALL ASYNC",
    "flushdb": "FLUSHDB ASYNC",
    "sort": "keep a sorted set up to date at write time instead of SORT",
    "lrem": "model the list as a set or sorted set if members are removed by value",
    "lpos": "keep a hash or sorted set index of the positions",
}

#: Above this many elements touched, an O(N) call is worth a warning (a few ms at least).
LARGE = 10_000


@dataclass(frozen=True, slots=True)
class Work:
    elements: int | None
    explanation: str
    large: bool
    alternative: str | None


def _int_arg(args: Sequence[bytes], index: int) -> int | None:
    if index >= len(args):
        return None
    return integer(args[index].decode("ascii", "replace"))


def _range_size(length: int, start: int, stop: int) -> int:
    """Elements in [start, stop] of a sequence of ``length`` (negative = from the end)."""
    if start < 0:
        start = max(length + start, 0)
    if stop < 0:
        stop = length + stop
    stop = min(stop, length - 1)
    return max(stop - start + 1, 0)


def estimate_work(
    command: str,
    args: Sequence[bytes],
    keys: Sequence[KeyAnatomy],
    *,
    complexity: str | None,
    db_keys: int | None,
) -> Work:
    """Elements the command touches, and a sentence that says why."""
    name = command.lower()
    alternative = ALTERNATIVES.get(name)
    upper = command.upper().replace("|", " ")
    sizes = [k.length for k in keys if k.exists and k.length is not None]

    if name in WHOLE_DB:
        n = db_keys
        text = (
            f"{upper} walks every key of the database ({n:,} keys)"
            if n is not None
            else f"{upper} walks every key of the database"
        )
        return Work(n, text, (n or 0) >= LARGE, alternative)

    if name in ("lrange", "zrange", "zrevrange") and keys and keys[0].length is not None:
        start, stop = _int_arg(args, 2), _int_arg(args, 3)
        by_index = not any(a.upper() in (b"BYSCORE", b"BYLEX") for a in args[4:])
        if start is not None and stop is not None and by_index:
            n = _range_size(keys[0].length, start, stop)
            whole = n >= keys[0].length and keys[0].length > 0
            text = f"{upper} {start} {stop} returns {n:,} of {keys[0].length:,} elements"
            if whole:
                text += ": the whole key"
            return Work(n, text, n >= LARGE, alternative if n >= LARGE or whole else None)

    if name in WHOLE_KEY and sizes:
        n = sum(sizes)
        names = ", ".join(k.name for k in keys if k.exists)
        text = f"{upper} touches every element of {names}: {n:,} in all"
        return Work(n, text, n >= LARGE, alternative)

    documented = (complexity or "").rstrip(".")
    head = documented.split(" ", 1)[0]
    if sizes and head.startswith(("O(N", "O(S+N", "O(M*N", "O(N*M")):
        n = max(sizes)
        text = f"{documented}; here N is up to {n:,}"
        return Work(n, text, n >= LARGE, alternative if n >= LARGE else None)
    if sizes and head.startswith("O(log(N)"):
        n = max(sizes)
        steps = max(n, 1).bit_length()
        text = f"{documented}; here N is up to {n:,} (about {steps} steps)"
        return Work(steps, text, False, None)

    if complexity:
        return Work(1 if complexity.startswith("O(1)") else None, complexity, False, None)
    return Work(None, "complexity not documented by this server", False, None)
