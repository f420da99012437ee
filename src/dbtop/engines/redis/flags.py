"""``CLIENT LIST`` flags decoded into words (the letters are documented under CLIENT LIST)."""

from __future__ import annotations

FLAG_WORDS: dict[str, str] = {
    "A": "closing asap",
    "b": "blocked",
    "c": "closing after reply",
    "d": "watched key modified (EXEC will fail)",
    "e": "no-evict",
    "i": "waiting for VM I/O",
    "I": "import source",
    "M": "master",
    "O": "monitor",
    "P": "pub/sub",
    "r": "readonly (cluster replica reads)",
    "R": "tracking target invalid",
    "S": "replica",
    "t": "tracking (client-side caching)",
    "B": "broadcast tracking",
    "T": "no-touch",
    "u": "unblocked",
    "U": "unix socket",
    "x": "in MULTI",
}


def decode_flags(flags: str) -> tuple[str, ...]:
    """``"bx"`` -> ``("blocked", "in MULTI")``; ``N`` (no flag) gives nothing."""
    words: list[str] = []
    for letter in flags:
        if letter == "N":
            continue
        words.append(FLAG_WORDS.get(letter, f"flag {letter}"))
    return tuple(words)


def client_kind(flags: str, subscriptions: int) -> str:
    """The client's role: normal, replica, master, monitor or pubsub."""
    if "M" in flags:
        return "master"
    if "S" in flags:
        return "replica"
    if "O" in flags:
        return "monitor"
    if "P" in flags or subscriptions > 0:
        return "pubsub"
    return "normal"
