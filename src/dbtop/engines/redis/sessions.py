"""The Clients pane: ``CLIENT LIST`` lines -> Sessions, with flags in words and what a
blocked client waits for.

A Redis client has no "current statement" like a SQL session: ``cmd`` is the command it is
running or ran last, ``idle`` how long ago it last sent one. A client with the ``b`` flag is
blocked: in a blocking command (waiting for data, for replicas) or postponed by CLIENT PAUSE.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from dbtop.engines.redis.client_list import ClientLine, parse_client_list
from dbtop.engines.redis.commands import (
    PAUSE,
    BlockingKind,
    blocking_kind,
    display_name,
    wait_node,
)
from dbtop.model import Session

__all__ = ["ClientLine", "client_session", "parse_client_list", "split_session_id"]


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


def split_session_id(session_id: str) -> tuple[str | None, str]:
    """``127.0.0.1:7001/12`` -> (node, "12"); ``12`` -> (None, "12")."""
    node, sep, local = session_id.rpartition("/")
    return (node, local) if sep else (None, session_id)


#: The fields a Session is made of, read in one go from each line.
_FIELDS: tuple[str, ...] = (
    "id",
    "flags",
    "cmd",
    "idle",
    "age",
    "sub",
    "psub",
    "ssub",
    "db",
    "user",
    "name",
)
_FIELDS += ("lib-name", "addr")


def _number(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(value)
    except ValueError:
        return 0


@lru_cache(maxsize=512)
def _flag_words(flags: str) -> tuple[str, ...]:
    return decode_flags(flags)


@lru_cache(maxsize=2048)
def _query(cmd: str) -> str | None:
    return display_name(cmd) if cmd and cmd != "NULL" else None


def created_at(row: ClientLine, age: float) -> datetime | None:
    """When the client connected, on the server's clock (see collect.stamp_identity)."""
    server_us = row.get("server_time_usec")
    if not isinstance(server_us, int):
        return None
    return datetime.fromtimestamp(server_us / 1_000_000 - age, UTC)


def client_session(
    row: ClientLine,
    *,
    now: datetime,
    node: str | None,
    prefix: str,
    self_ids: AbstractSet[int],
) -> tuple[Session, BlockingKind | None]:
    """The Session for one client, and what it is blocked on (None when not blocked).

    Called for every client on every refresh (thousands): kept to plain operations.
    """
    (client_id, flags, cmd, idle_text, age_text, sub, psub, ssub, db, user, name, lib, addr) = (
        row.pick(_FIELDS)
    )
    flags = flags or "N"
    cmd = cmd or ""
    idle = _number(idle_text)
    age = _number(age_text)
    subscriptions = _number(sub) + _number(psub) + _number(ssub)
    kind = client_kind(flags, subscriptions)
    blocked = blocking_kind(cmd, blocked=True) if "b" in flags else None
    in_multi = "x" in flags
    query = _query(cmd)

    if blocked is PAUSE:
        state, wait = "paused", f"{query or 'command'} postponed by CLIENT PAUSE"
    elif blocked is not None:
        state, wait = "blocked", f"{query}: waits for {blocked.waits_for}"
    elif in_multi:
        state, wait = "in MULTI", None
    elif kind in ("master", "replica", "monitor"):
        state, wait = kind, None
    elif kind == "pubsub":
        state, wait = "subscribed", None
    else:
        state, wait = ("active" if idle == 0 else "idle"), None

    row.add("flag_words", list(_flag_words(flags)))
    if blocked is not None:
        row.add("blocked_on", wait_node(blocked, cmd))
    client_id = client_id or ""
    session = Session(
        id=prefix + client_id,
        user=user or None,
        database=None if db is None else f"db{db}",
        application=name or lib or None,
        client=addr or None,
        kind=kind,
        state=state,
        is_idle=state in ("idle", "subscribed"),
        in_transaction=in_multi,
        query=query,
        query_start=now - timedelta(seconds=idle) if blocked is not None else None,
        backend_start=created_at(row, age) or now - timedelta(seconds=age),
        duration_s=float(idle),
        wait=wait,
        waiting_on_lock=blocked is not None,
        blocked_by=(f"{prefix}{wait_node(blocked, cmd)}",) if blocked is not None else (),
        is_self=client_id.isdigit() and int(client_id) in self_ids,
        node=node,
        extra=row,  # a read-only Mapping over the line, fields under Redis's names
    )
    return session, blocked
