"""What a user types to explain: a mongosh call or a command document, read into a command.

Pure (no I/O). Accepted:

- mongosh calls: ``db.orders.find({ status: "A" }).sort({ ts: -1 }).limit(10)``,
  ``db.orders.aggregate([...])``, ``countDocuments``, ``count``, ``distinct``, ``findOne``,
  ``updateOne`` / ``updateMany`` / ``replaceOne``, ``deleteOne`` / ``deleteMany``,
  ``findOneAndUpdate`` / ``findOneAndReplace`` / ``findOneAndDelete``, with
  ``db.getSiblingDB("x")``, ``db.getCollection("odd name")`` or ``db["odd name"]``;
- a command document: ``{ find: "orders", filter: { … } }`` (``$db`` names the database).

Values are JavaScript literals as mongosh takes them (unquoted keys, single quotes, trailing
commas, ``ObjectId("…")``, ``ISODate("…")``, ``NumberLong(…)``, ``UUID("…")``, ``/regex/i`` …)
or Extended JSON (``{"$oid": "…"}``).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp
from bson.binary import Binary
from bson.errors import BSONError
from bson.json_util import object_hook
from bson.regex import Regex

from dbtop.errors import QueryError

#: commands explain can plan
EXPLAINABLE = frozenset({"find", "aggregate", "count", "distinct", "update", "delete"})
_FIND_MODIFIERS = {
    "sort": "sort",
    "limit": "limit",
    "skip": "skip",
    "hint": "hint",
    "collation": "collation",
    "projection": "projection",
    "maxTimeMS": "maxTimeMS",
    "comment": "comment",
    "min": "min",
    "max": "max",
}
_IGNORED_CALLS = frozenset({"toArray", "pretty", "itcount"})
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"(?:[^\W\d]|\$)[\w$]*")


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    database: str | None
    command: dict[str, Any]
    #: a verbosity named in the text (``.explain("executionStats")``), if any
    verbosity: str | None = None


class _Call:
    __slots__ = ("args", "name")

    def __init__(self, name: str, args: list[Any]) -> None:
        self.name = name
        self.args = args


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- low level --------------------------------------------------------------------------

    def fail(self, what: str) -> QueryError:
        snippet = self.text[self.pos : self.pos + 20]
        where = f"at character {self.pos + 1}" + (f" ({snippet!r})" if snippet else " (the end)")
        return QueryError(f"cannot read the query {where}: {what}")

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch.isspace() or ch == ";":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unclosed comment")
                self.pos = end + 2
            else:
                break

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def accept(self, ch: str) -> bool:
        if self.peek() == ch:
            self.pos += 1
            return True
        return False

    def expect(self, ch: str) -> None:
        if not self.accept(ch):
            raise self.fail(f"expected {ch!r}")

    def ident(self) -> str | None:
        self.skip()
        match = _IDENT.match(self.text, self.pos)
        if not match:
            return None
        self.pos = match.end()
        return match.group(0)

    def at_end(self) -> bool:
        return self.peek() == ""

    # -- values -----------------------------------------------------------------------------

    def value(self) -> Any:
        ch = self.peek()
        if ch == "{":
            return self.document()
        if ch == "[":
            return self.array()
        if ch in ("'", '"'):
            return self.string()
        if ch == "/":
            return self.regex()
        if ch and (ch.isdigit() or ch in "+-."):
            return self.number()
        name = self.ident()
        if name is None:
            raise self.fail("expected a value")
        return self.named(name)

    def document(self) -> Any:
        self.expect("{")
        doc: dict[str, Any] = {}
        while not self.accept("}"):
            ch = self.peek()
            if ch in ("'", '"'):
                key = self.string()
            elif ch and (ch.isdigit() or ch == "-"):
                key = self.text[self.pos : self._number_end()]
                self.pos += len(key)
            else:
                name = self.ident()
                if name is None:
                    raise self.fail("expected a field name")
                key = name
            self.expect(":")
            doc[key] = self.value()
            if not self.accept(","):
                self.expect("}")
                break
        try:
            return object_hook(doc)
        except (TypeError, ValueError, KeyError, BSONError) as exc:
            raise self.fail(f"invalid Extended JSON: {exc}") from None

    def array(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while not self.accept("]"):
            items.append(self.value())
            if not self.accept(","):
                self.expect("]")
                break
        return items

    def string(self) -> str:
        quote_char = self.peek()
        self.pos += 1
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            self.pos += 1
            if ch == quote_char:
                return "".join(out)
            if ch == "\\":
                out.append(self._escape())
            else:
                out.append(ch)
        raise self.fail("unclosed string")

    def _escape(self) -> str:
        text = self.text
        if self.pos >= len(text):
            raise self.fail("unclosed string")
        ch = text[self.pos]
        self.pos += 1
        simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "v": "\v"}
        if ch in simple:
            return simple[ch]
        if ch in ("u", "x"):
            width = 4 if ch == "u" else 2
            digits = text[self.pos : self.pos + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise self.fail("invalid escape")
            self.pos += width
            return chr(int(digits, 16))
        return ch

    def _number_end(self) -> int:
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a number")
        return match.end()

    def number(self) -> int | float:
        start = self.pos
        end = self._number_end()
        self.pos = end
        literal = self.text[start:end]
        if re.fullmatch(r"[+-]?\d+", literal):
            return int(literal)
        return float(literal)

    def regex(self) -> Regex[str]:
        self.expect("/")
        text = self.text
        out: list[str] = []
        in_class = False
        while self.pos < len(text):
            ch = text[self.pos]
            self.pos += 1
            if ch == "\\" and self.pos < len(text):
                out.append(ch + text[self.pos])
                self.pos += 1
                continue
            if ch == "[":
                in_class = True
            elif ch == "]":
                in_class = False
            elif ch == "/" and not in_class:
                match = re.compile(r"[a-z]*").match(text, self.pos)
                flags = match.group(0) if match else ""
                self.pos += len(flags)
                return Regex("".join(out), flags)
            out.append(ch)
        raise self.fail("unclosed regular expression")

    def arguments(self) -> list[Any]:
        self.expect("(")
        args: list[Any] = []
        while not self.accept(")"):
            args.append(self.value())
            if not self.accept(","):
                self.expect(")")
                break
        return args

    def named(self, name: str) -> Any:
        constants = {
            "true": True,
            "false": False,
            "null": None,
            "undefined": None,
            "NaN": float("nan"),
            "Infinity": float("inf"),
        }
        if name in constants:
            return constants[name]
        if name == "new":
            constructor = self.ident()
            if constructor is None:
                raise self.fail("expected a constructor after new")
            name = constructor
        if name in ("MinKey", "MaxKey") and self.peek() != "(":
            return MinKey() if name == "MinKey" else MaxKey()
        if self.peek() != "(":
            raise self.fail(f"unknown name {name!r}")
        args = self.arguments()
        try:
            return _construct(name, args)
        except (TypeError, ValueError, IndexError, KeyError, BSONError) as exc:
            raise self.fail(f"invalid {name}(…): {exc}") from None


def _construct(name: str, args: Sequence[Any]) -> Any:
    first = args[0] if args else None
    if name == "ObjectId":
        return ObjectId(first) if first is not None else ObjectId()
    if name in ("ISODate", "Date"):
        if first is None:
            return dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if isinstance(first, int | float):
            return dt.datetime.fromtimestamp(first / 1000, dt.UTC).replace(tzinfo=None)
        text = str(first).replace("Z", "+00:00")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            text += "T00:00:00+00:00"
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if name in ("NumberLong", "Long"):
        return Int64(int(str(first)))
    if name in ("NumberInt", "Int32"):
        return int(str(first))
    if name in ("NumberDecimal", "Decimal128"):
        return Decimal128(str(first))
    if name == "Double":
        return float(str(first))
    if name == "UUID":
        return Binary.from_uuid(uuid.UUID(str(first)) if first is not None else uuid.uuid4())
    if name == "BinData":
        data = base64.b64decode(str(args[1]), validate=True)
        subtype = int(first)  # type: ignore[arg-type]
        return data if subtype == 0 else Binary(data, subtype)  # as the driver decodes them
    if name == "Timestamp":
        if isinstance(first, Mapping):
            return Timestamp(int(first["t"]), int(first["i"]))
        return Timestamp(int(first), int(args[1]))  # type: ignore[arg-type]
    if name == "RegExp":
        return Regex(str(first), str(args[1]) if len(args) > 1 else "")
    if name == "Code":
        return Code(str(first))
    if name == "MinKey":
        return MinKey()
    if name == "MaxKey":
        return MaxKey()
    raise ValueError(f"unknown constructor {name}")


# -- the mongosh chain ------------------------------------------------------------------------


def parse(text: str, default_database: str | None = None) -> ParsedCommand:
    """The command (and its database) that ``text`` asks for; QueryError when unreadable."""
    parser = _Parser(text)
    if parser.peek() == "{":
        command = parser.document()
        if not parser.at_end():
            raise parser.fail("unexpected text after the command document")
        if not isinstance(command, dict) or not command:
            raise QueryError("the command document is empty")
        database = command.pop("$db", None)
        return ParsedCommand(
            database if isinstance(database, str) else default_database, dict(command)
        )
    start = parser.pos
    if parser.ident() != "db":
        parser.pos = start
        raise parser.fail("expected db.<collection>.<method>(…) or a command document")
    database = default_database
    collection: str | None = None
    calls: list[_Call] = []
    while not parser.at_end():
        if parser.accept("["):
            if collection is not None:
                raise parser.fail("a collection is named twice")
            collection = parser.string() if parser.peek() in "'\"" else None
            if collection is None:
                raise parser.fail("expected a quoted collection name")
            parser.expect("]")
            continue
        parser.expect(".")
        name = parser.ident()
        if name is None:
            raise parser.fail("expected a name after '.'")
        if parser.peek() != "(":
            # db.orders.archive: a dotted collection name
            collection = f"{collection}.{name}" if collection is not None else name
            continue
        args = parser.arguments()
        if name == "getSiblingDB" and collection is None and not calls:
            database = _string_arg(parser, name, args)
        elif name == "getCollection" and collection is None and not calls:
            collection = _string_arg(parser, name, args)
        else:
            calls.append(_Call(name, args))
    if collection is None:
        raise QueryError("name a collection: db.<collection>.<method>(…)")
    if not calls:
        raise QueryError(f"say what to explain on {collection}: find(…), aggregate(…), …")
    verbosity = None
    chain: list[_Call] = []
    for call in calls:
        if call.name == "explain":
            if call.args and isinstance(call.args[0], str):
                verbosity = call.args[0]
            elif call.args and call.args[0] is True:
                verbosity = "allPlansExecution"
        elif call.name not in _IGNORED_CALLS:
            chain.append(call)
    if not chain:
        raise QueryError(f"say what to explain on {collection}: find(…), aggregate(…), …")
    return ParsedCommand(database, _command(collection, chain), verbosity)


def _string_arg(parser: _Parser, name: str, args: Sequence[Any]) -> str:
    if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
        raise parser.fail(f"{name}(…) takes one name")
    return args[0]


def _doc(args: Sequence[Any], index: int) -> dict[str, Any]:
    if len(args) <= index or args[index] is None:
        return {}
    value = args[index]
    if not isinstance(value, Mapping):
        raise QueryError(f"expected a document as argument {index + 1}, got {value!r}")
    return dict(value)


def _command(collection: str, chain: Sequence[_Call]) -> dict[str, Any]:
    head, rest = chain[0], chain[1:]
    name, args = head.name, head.args
    if name in ("find", "findOne"):
        command: dict[str, Any] = {"find": collection, "filter": _doc(args, 0)}
        if len(args) > 1 and args[1]:
            command["projection"] = _doc(args, 1)
        if name == "findOne":
            command["limit"] = 1
            command["singleBatch"] = True
        for call in rest:
            if call.name == "count":
                return {"count": collection, "query": command["filter"]}
            option = _FIND_MODIFIERS.get(call.name)
            if option is None or len(call.args) != 1:
                raise QueryError(f"cursor method {call.name}(…) is not understood here")
            command[option] = call.args[0]
        return command
    if rest:
        raise QueryError(f"{rest[0].name}(…) cannot follow {name}(…)")
    if name == "aggregate":
        pipeline = args[0] if args else []
        if not isinstance(pipeline, list):
            raise QueryError("aggregate(…) takes an array of stages")
        command = {"aggregate": collection, "pipeline": pipeline, "cursor": {}}
        for key in ("hint", "collation", "allowDiskUse", "let"):
            if key in _doc(args, 1):
                command[key] = _doc(args, 1)[key]
        return command
    if name == "countDocuments":
        pipeline = [{"$match": _doc(args, 0)}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]
        return {"aggregate": collection, "pipeline": pipeline, "cursor": {}}
    if name == "count":
        return {"count": collection, "query": _doc(args, 0)}
    if name == "distinct":
        if not args or not isinstance(args[0], str):
            raise QueryError("distinct(…) takes a field name first")
        return {"distinct": collection, "key": args[0], "query": _doc(args, 1)}
    if name in ("updateOne", "updateMany", "replaceOne", "update"):
        options = _doc(args, 2)
        multi = name == "updateMany" or (name == "update" and bool(options.get("multi")))
        update = args[1] if len(args) > 1 else None
        if not isinstance(update, Mapping | list):
            raise QueryError(f"{name}(…) takes a filter and an update")
        statement = {"q": _doc(args, 0), "u": update, "multi": multi}
        if options.get("upsert"):
            statement["upsert"] = True
        return {"update": collection, "updates": [statement]}
    if name in ("deleteOne", "deleteMany", "remove"):
        limit = 1 if name == "deleteOne" else 0
        return {"delete": collection, "deletes": [{"q": _doc(args, 0), "limit": limit}]}
    if name in ("findOneAndUpdate", "findOneAndReplace", "findOneAndDelete"):
        options = _doc(args, 1 if name == "findOneAndDelete" else 2)
        command = {"findAndModify": collection, "query": _doc(args, 0)}
        if name == "findOneAndDelete":
            command["remove"] = True
        else:
            if len(args) < 2:
                raise QueryError(f"{name}(…) takes a filter and an update")
            command["update"] = args[1]
        for key in ("sort", "projection", "upsert", "hint", "collation"):
            if key in options:
                command["fields" if key == "projection" else key] = options[key]
        return command
    raise QueryError(
        f"{name}(…) cannot be explained: explain plans find, findOne, aggregate, "
        "countDocuments, count, distinct, update*, delete* and findOneAnd*"
    )
