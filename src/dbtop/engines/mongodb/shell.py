"""MongoDB values and commands written as mongosh would show them, bounded in length.

An operation can carry a huge command (a 16 MB insert, a pipeline of thousands of stages,
a long binary value): the renderer is lazy and stops as soon as its budget is spent, so a
huge command costs no more to show than a small one. Strings are written JSON-escaped, so a
control character in a value or a name never reaches the terminal raw.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.dbref import DBRef
from bson.regex import Regex

#: default length of a rendered command (a table cell, a line of the plan view)
DEFAULT_LIMIT = 2000
#: items of an array or keys of a document shown before "… N more"
MAX_ITEMS = 40
#: nesting shown before "{…}"
MAX_DEPTH = 12
#: characters of a string value shown before "…"
MAX_STRING = 200
#: bytes of a binary value shown
MAX_BINARY = 24

#: fields the driver or the server adds to every command; they say nothing about the work
ENVELOPE_FIELDS = frozenset(
    {
        "lsid",
        "$db",
        "$clusterTime",
        "txnNumber",
        "autocommit",
        "startTransaction",
        "$readPreference",
        "$audit",
        "$client",
        "$configTime",
        "$topologyTime",
        "$configServerState",
        "mayBypassWriteBlocking",
        "clientOperationKey",
        "shardVersion",
        "databaseVersion",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
        "$queryOptions",
        "readConcern",
        "writeConcern",
    }
)

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_REGEX_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


class Placeholder:
    """A value replaced by a query shape: written ``?``."""

    _instance: Placeholder | None = None

    def __new__(cls) -> Placeholder:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "?"


PLACEHOLDER = Placeholder()


def quote(text: str) -> str:
    """A string literal (double quotes, JSON escapes, non-ASCII kept)."""
    return json.dumps(text, ensure_ascii=False)


def key_text(key: object) -> str:
    text = str(key)
    return text if _IDENTIFIER.match(text) else quote(text)


def collection_ref(collection: str) -> str:
    """``db.orders`` or ``db.getCollection("odd name")`` as mongosh accepts them."""
    if _IDENTIFIER.match(collection) and not collection.startswith("$"):
        return f"db.{collection}"
    return f"db.getCollection({quote(collection)})"


def _string(text: str) -> str:
    if len(text) > MAX_STRING:
        return quote(text[:MAX_STRING]) + "…"
    return quote(text)


def _binary(value: bytes | bytearray) -> str:
    subtype = value.subtype if isinstance(value, Binary) else 0
    raw = bytes(value[: MAX_BINARY + 1])
    if subtype in (3, 4) and len(value) == 16:
        return f'UUID("{uuid.UUID(bytes=bytes(value))}")'
    more = "…" if len(value) > MAX_BINARY else ""
    encoded = base64.b64encode(raw[:MAX_BINARY]).decode("ascii")
    return f'BinData({subtype}, "{encoded}{more}")'


def _datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f'ISODate("{value.isoformat(timespec="milliseconds")}Z")'


def _regex(pattern: str, flags: int | str) -> str:
    if isinstance(flags, str):
        letters = flags
    else:
        letters = "".join(letter for flag, letter in _REGEX_FLAGS if flags & flag)
    return "/" + pattern.replace("/", "\\/") + "/" + letters


def scalar_text(value: Any) -> str | None:
    """The literal of a non-container value, None for a document or an array."""
    kind = type(value)
    if kind is str:  # the common cases first: this runs for every value shown
        return _string(value)
    if kind is int:
        return str(value)
    if kind is dict or kind is list:
        return None
    if value is None:
        return "null"
    if value is PLACEHOLDER:
        return "?"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Int64 | int):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, Code):  # a str subclass: before str
        return f"Code({_string(str(value))})"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, ObjectId):
        return f'ObjectId("{value}")'
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, DatetimeMS):
        return f"new Date({int(value)})"
    if isinstance(value, Decimal128):
        return f'Decimal128("{value}")'
    if isinstance(value, Regex):
        return _regex(value.pattern, value.flags)
    if isinstance(value, re.Pattern):
        return _regex(value.pattern, value.flags)
    if isinstance(value, Timestamp):
        return f"Timestamp({{ t: {value.time}, i: {value.inc} }})"
    if isinstance(value, uuid.UUID):
        return f'UUID("{value}")'
    if isinstance(value, bytes | bytearray):
        return _binary(value)
    if isinstance(value, MinKey):
        return "MinKey()"
    if isinstance(value, MaxKey):
        return "MaxKey()"
    if isinstance(value, DBRef):
        return f"DBRef({quote(value.collection)}, {value_text(value.id, 80)})"
    if isinstance(value, Mapping | list | tuple):
        return None
    return _string(str(value))


def pieces(value: Any, depth: int = 0) -> Iterator[str]:
    """The text of ``value`` in small pieces, so a consumer can stop at any point."""
    literal = scalar_text(value)
    if literal is not None:
        yield literal
        return
    if isinstance(value, Mapping):
        if not value:
            yield "{}"
            return
        if depth >= MAX_DEPTH:
            yield "{…}"
            return
        yield "{ "
        for n, (key, item) in enumerate(value.items()):
            if n >= MAX_ITEMS:
                yield f", … {len(value) - n} more"
                break
            if n:
                yield ", "
            yield key_text(key)
            yield ": "
            yield from pieces(item, depth + 1)
        yield " }"
        return
    items = list(value[: MAX_ITEMS + 1]) if isinstance(value, list | tuple) else []
    if not items:
        yield "[]"
        return
    if depth >= MAX_DEPTH:
        yield "[…]"
        return
    yield "["
    for n, item in enumerate(items[:MAX_ITEMS]):
        if n:
            yield ", "
        yield from pieces(item, depth + 1)
    if len(value) > MAX_ITEMS:
        yield f", … {len(value) - MAX_ITEMS} more"
    yield "]"


def join(parts: Iterable[str], limit: int = DEFAULT_LIMIT) -> str:
    """Concatenate pieces up to ``limit`` characters, ending with "…" when cut."""
    out: list[str] = []
    used = 0
    for part in parts:
        if used + len(part) > limit:
            out.append(part[: max(limit - used, 0)])
            out.append("…")
            break
        out.append(part)
        used += len(part)
    return "".join(out)


def value_text(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    return join(pieces(value), limit)


def without_envelope(command: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k not in ENVELOPE_FIELDS}


# -- commands ---------------------------------------------------------------------------------


def _call(method: str, *args: Any) -> Iterator[str]:
    yield f".{method}("
    for n, arg in enumerate(args):
        if n:
            yield ", "
        yield from pieces(arg)
    yield ")"


def _find(coll: str, cmd: Mapping[str, Any]) -> Iterator[str]:
    yield collection_ref(coll)
    args: list[Any] = [cmd.get("filter", {})]
    if cmd.get("projection"):
        args.append(cmd["projection"])
    yield from _call("find", *args)
    for option in ("sort", "skip", "limit", "hint", "collation"):
        value = cmd.get(option)
        if value is None or value == {} or value == 0 or value == "":
            continue
        yield from _call(option, value)


def _statement(coll: str, op: str, stmt: Mapping[str, Any]) -> Iterator[str]:
    """One statement of an update or delete (``{q, u, multi}`` / ``{q, limit}``)."""
    yield collection_ref(coll)
    if op == "update":
        method = "updateMany" if stmt.get("multi") else "updateOne"
        args = [stmt.get("q", {}), stmt.get("u", {})]
        if stmt.get("upsert"):
            args.append({"upsert": True})
        yield from _call(method, *args)
    else:
        method = "deleteOne" if stmt.get("limit") in (1, True) else "deleteMany"
        yield from _call(method, stmt.get("q", {}))


def _writes(coll: str, op: str, cmd: Mapping[str, Any], key: str) -> Iterator[str]:
    statements = cmd.get(key)
    if isinstance(statements, list) and statements and isinstance(statements[0], Mapping):
        yield from _statement(coll, op, statements[0])
        if len(statements) > 1:
            yield f"  (+{len(statements) - 1} more)"
    else:
        yield collection_ref(coll)
        yield f".{op}(…)"


def _command_pieces(
    cmd: Mapping[str, Any], op: str | None, collection: str | None
) -> Iterator[str]:
    if "$truncated" in cmd:
        yield collection_ref(collection) if collection else "db"
        yield f".{op or 'command'}(…)  (command truncated by the server: "
        yield from pieces(cmd["$truncated"])
        yield ")"
        return
    if op in ("update", "remove") and "q" in cmd and collection:
        # currentOp and the profiler report one statement of an update / delete
        yield from _statement(collection, "update" if op == "update" else "delete", cmd)
        return
    if not cmd:
        yield f"{collection_ref(collection)}.{op or 'command'}()" if collection else "{}"
        return
    name = next(iter(cmd))
    target = cmd[name]
    coll = target if isinstance(target, str) else None
    lowered = name.lower()
    if lowered == "find" and coll:
        yield from _find(coll, cmd)
    elif lowered == "aggregate":
        yield collection_ref(coll) if coll else "db"
        yield from _call("aggregate", cmd.get("pipeline", []))
    elif lowered == "count" and coll:
        yield collection_ref(coll)
        yield from _call("count", cmd.get("query", {}))
    elif lowered == "distinct" and coll:
        yield collection_ref(coll)
        yield from _call("distinct", cmd.get("key", ""), cmd.get("query", {}))
    elif lowered == "findandmodify" and coll:
        yield collection_ref(coll)
        options = {k: v for k, v in cmd.items() if k != name}
        yield from _call("findAndModify", options)
    elif lowered == "update" and coll:
        yield from _writes(coll, "update", cmd, "updates")
    elif lowered == "delete" and coll:
        yield from _writes(coll, "delete", cmd, "deletes")
    elif lowered == "insert" and coll:
        documents = cmd.get("documents")
        count = len(documents) if isinstance(documents, list) else None
        yield collection_ref(coll)
        yield f".insertMany(<{count} documents>)" if count is not None else ".insertMany(…)"
    elif lowered == "getmore":
        where = cmd.get("collection") or collection
        yield f"getMore on {collection_ref(where)}" if isinstance(where, str) else "getMore"
    else:
        yield "db.runCommand("
        yield from pieces(cmd)
        yield ")"


def command_text(
    command: Mapping[str, Any] | None,
    *,
    op: str | None = None,
    collection: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> str:
    """The command as mongosh would write it: ``db.orders.find({ … }).sort({ … })``.

    ``op`` and ``collection`` come from the operation (currentOp / profiler ``op`` and ``ns``):
    they name what a statement-level document (``{q, u, multi}``) or a truncated command is.
    """
    if command is None:
        return ""
    cmd = without_envelope(command)
    return join(_command_pieces(cmd, op, collection), limit)
