"""What dbtop knows about Redis commands without asking the server.

Blocking commands and what their clients wait for, how Redis names subcommands, and the
redis-cli way of writing a command line (quoting, ``\\xHH`` escapes) in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlockingKind:
    """What a blocked client waits for; ``blocker`` names that wait in the lock graph.

    ``group`` is the word of a wait for data (a list, a stream, replicas, a module): no
    session holds what such a client wants, so the graph groups its clients by command
    under ``group:COMMAND`` (``list:BLPOP``), a node that says it is not a session.
    PAUSE and SCRIPT have none: there the node stands for a real state of the server.
    """

    blocker: str
    lock_type: str
    waits_for: str
    group: str | None = None
    #: "waiting on a list (BLPOP)" reads ``on {noun} ({COMMAND})``
    noun: str = ""


LIST_PUSH = BlockingKind("list-push", "list", "a push to one of its list keys", "list", "a list")
ZSET_ADD = BlockingKind(
    "zset-add", "zset", "an add to one of its sorted-set keys", "zset", "a sorted set"
)
STREAM_ADD = BlockingKind(
    "stream-add", "stream", "a new entry in one of its streams", "stream", "a stream"
)
REPLICA_ACK = BlockingKind(
    "replica-ack", "replication", "replicas to acknowledge its writes", "replicas", "replicas"
)
MODULE = BlockingKind("module", "module", "a module command to complete", "module", "a module")
PAUSE = BlockingKind("pause", "pause", "the end of CLIENT PAUSE")
SCRIPT = BlockingKind("script", "script", "a busy script or function to end")

#: Why the keys of a blocked client are not shown (docs/engines/redis.md, "Blocked").
KEYS_UNKNOWN = (
    "Redis names no key of a blocked client: CLIENT LIST and CLIENT INFO give cmd= only "
    "(argv-mem sizes the arguments, never shows them)"
)

BLOCKING: dict[str, BlockingKind] = {
    "blpop": LIST_PUSH,
    "brpop": LIST_PUSH,
    "brpoplpush": LIST_PUSH,
    "blmove": LIST_PUSH,
    "blmpop": LIST_PUSH,
    "bzpopmin": ZSET_ADD,
    "bzpopmax": ZSET_ADD,
    "bzmpop": ZSET_ADD,
    "xread": STREAM_ADD,
    "xreadgroup": STREAM_ADD,
    "wait": REPLICA_ACK,
    "waitaof": REPLICA_ACK,
}

#: Synthetic ids in the lock graph (never a client id, which is a number).
SYNTHETIC = {k.blocker: k for k in (LIST_PUSH, ZSET_ADD, STREAM_ADD, REPLICA_ACK, MODULE)} | {
    PAUSE.blocker: PAUSE,
    SCRIPT.blocker: SCRIPT,
}
_BY_GROUP = {k.group: k for k in SYNTHETIC.values() if k.group}


def wait_node(kind: BlockingKind, cmd: str) -> str:
    """The graph node a client blocked in ``cmd`` waits under: ``list:BLPOP``, ``pause``."""
    if kind.group is None:
        return kind.blocker
    return f"{kind.group}:{display_name(cmd) or '?'}"


def wait_phrase(kind: BlockingKind, cmd: str) -> str:
    """``waiting on a list (BLPOP)``: what a wait group stands for, in a DBA's words."""
    return f"waiting on {kind.noun} ({display_name(cmd) or '?'})"


def synthetic_kind(local_id: str) -> BlockingKind | None:
    """The kind a synthetic node id stands for (``list:BLPOP``, ``pause``), or None."""
    if local_id in SYNTHETIC:
        return SYNTHETIC[local_id]
    group, colon, _ = local_id.partition(":")
    return _BY_GROUP.get(group) if colon else None


def blocking_kind(cmd: str, *, blocked: bool) -> BlockingKind | None:
    """What a client with the ``b`` flag and last command ``cmd`` waits for.

    Module commands are named ``module.command``; a client blocked in a command that cannot
    block was postponed by ``CLIENT PAUSE``.
    """
    if not blocked:
        return None
    name = cmd.lower()
    if name in BLOCKING:
        return BLOCKING[name]
    if "." in name:
        return MODULE
    return PAUSE


def display_name(cmd: str) -> str:
    """``client|list`` -> ``CLIENT LIST`` (how Redis names subcommands in its stats)."""
    return " ".join(part.upper() for part in cmd.split("|") if part)


_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a", '"': b'"', "\\": b"\\"}


def split_command_line(line: str) -> list[bytes]:
    """Split a command line as redis-cli does: quotes, ``\\n`` and ``\\xHH`` escapes.

    Raises ValueError on an unbalanced quote or a quote not followed by a space.
    """
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    raise ValueError("unbalanced double quote")
                ch = line[i]
                if line.startswith("\\x", i) and _is_hex(line[i + 2 : i + 4]):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 4
                    continue
                if ch == "\\" and i + 1 < n:
                    nxt = line[i + 1]
                    current += _ESCAPES.get(nxt, nxt.encode())
                    i += 2
                    continue
                if ch == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_double = False
                    i += 1
                    break
                current += ch.encode()
                i += 1
            elif in_single:
                if i >= n:
                    raise ValueError("unbalanced single quote")
                ch = line[i]
                if ch == "\\" and i + 1 < n and line[i + 1] == "'":
                    current += b"'"
                    i += 2
                    continue
                if ch == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_single = False
                    i += 1
                    break
                current += ch.encode()
                i += 1
            else:
                if i >= n or line[i].isspace():
                    break
                ch = line[i]
                if ch == '"' and not current:
                    in_double = True
                elif ch == "'" and not current:
                    in_single = True
                else:
                    current += ch.encode()
                i += 1
        args.append(bytes(current))


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def quote_arg(arg: bytes | str) -> str:
    """One argument as redis-cli would accept it back: bare when plain, else double-quoted."""
    raw = arg.encode("utf-8", "surrogateescape") if isinstance(arg, str) else bytes(arg)
    try:
        decoded: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded and all(c.isprintable() and not c.isspace() and c not in "\"'\\" for c in decoded):
        return decoded
    if decoded is None:
        body = "".join(_escape_byte(byte) for byte in raw)
    else:
        body = "".join(_escape_char(ch) for ch in decoded)
    return f'"{body}"'


_CHAR_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[ch]
    if ch.isprintable():
        return ch
    return "".join(f"\\x{byte:02x}" for byte in ch.encode("utf-8"))


def _escape_byte(byte: int) -> str:
    char = chr(byte)
    if char in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[char]
    if 0x20 <= byte < 0x7F:
        return char
    return f"\\x{byte:02x}"


def join_command(args: list[bytes] | list[str]) -> str:
    """A command line from its arguments, each quoted as redis-cli would need it."""
    return " ".join(quote_arg(a) for a in args)
