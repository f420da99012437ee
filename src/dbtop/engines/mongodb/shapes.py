"""Query shapes: a command with its values replaced, the unit slow queries are grouped by.

Pure (no I/O): a profiler entry or a running operation goes in, a ``QueryShape`` comes out:
the namespace, the operation, the filter's and the sort's keys with every value replaced by
``?`` (field paths such as ``"$qty"`` in expressions are kept: they are names, not values), and
what an index could use of it, in the terms of the Equality, Sort, Range rule:

- equality: ``field: value``, ``$eq``, a one-element ``$in``, an exact sub-document;
- in_list: ``$in`` with several values (an equality when nothing is sorted, a range for the
  sort otherwise: the advisor decides);
- range: ``$gt`` / ``$gte`` / ``$lt`` / ``$lte``, ``$ne``, ``$nin``, ``$regex`` (and regular
  expression values), ``$exists``, ``$type``, ``$not``, ``$size``, ``$all``, ``$mod``;
- sort: the ``sort`` document's keys with their directions;
- unindexable: what a single compound b-tree index cannot serve (``$or`` branches, ``$where``,
  ``$text``, geo operators, a command the server truncated).

Two commands with the same shape differ only in their values; the shape's ``id`` is stable
across runs (a hash of the canonical form: key order inside a filter does not matter).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bson.regex import Regex

from dbtop.engines.mongodb import shell
from dbtop.engines.mongodb.normalize import (
    canonical,
    is_operator_doc,
    normalize_expression,
    normalize_filter,
    normalize_stage,
)

#: the shape text shown for a statement is cut here (a pipeline can be long)
TEXT_LIMIT = 600

_RANGE_OPERATORS = frozenset(
    {"$gt", "$gte", "$lt", "$lte", "$ne", "$nin", "$regex", "$exists", "$type", "$not"}
    | {"$size", "$all", "$mod", "$bitsAllSet", "$bitsAnySet", "$bitsAllClear", "$bitsAnyClear"}
)
_GEO_OPERATORS = frozenset({"$near", "$nearSphere", "$geoWithin", "$geoIntersects", "$within"})
#: pipeline stages that keep documents as they are: a leading run of these still reads the
#: collection through an index ($match, $sort, $limit are pushed down to the query layer)
_PUSHDOWN_STAGES = frozenset({"$match", "$sort", "$limit", "$skip"})
#: profiler / currentOp ``op`` values and the command names they stand for
_OP_NAMES = {"query": "find", "getmore": "getMore", "remove": "delete"}


@dataclass(frozen=True, slots=True)
class QueryShape:
    database: str | None
    collection: str | None
    #: find, aggregate, count, distinct, update, delete, findAndModify, insert, getMore, or
    #: the command's name for anything else
    op: str
    text: str
    id: str
    equality: tuple[str, ...] = ()
    in_list: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    sort: tuple[tuple[str, int], ...] = ()
    limit: bool = False
    unindexable: tuple[str, ...] = ()

    @property
    def namespace(self) -> str:
        if self.database and self.collection:
            return f"{self.database}.{self.collection}"
        return self.database or self.collection or ""

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the filter and the sort name, equality first."""
        seen = dict.fromkeys((*self.equality, *self.in_list, *(f for f, _ in self.sort)))
        seen.update(dict.fromkeys(self.range))
        return tuple(seen)

    @property
    def indexable(self) -> bool:
        return bool(self.fields) and not self.unindexable


# -- normalization ----------------------------------------------------------------------------


# -- classification ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Classes:
    equality: dict[str, None]
    in_list: dict[str, None]
    range: dict[str, None]
    unindexable: dict[str, None]

    def add(self, kind: str, field: str) -> None:
        getattr(self, kind)[field] = None


def _conjuncts(filter_doc: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Top-level conditions, with ``$and`` (and a one-branch ``$or``) flattened."""
    for key, value in filter_doc.items():
        key = str(key)
        if key == "$and" and isinstance(value, list):
            for branch in value:
                if isinstance(branch, Mapping):
                    yield from _conjuncts(branch)
        elif key == "$or" and isinstance(value, list) and len(value) == 1:
            if isinstance(value[0], Mapping):
                yield from _conjuncts(value[0])
        else:
            yield key, value


def _classify(filter_doc: object, classes: _Classes, prefix: str = "") -> None:
    if not isinstance(filter_doc, Mapping):
        return
    for field, cond in _conjuncts(filter_doc):
        if field.startswith("$"):
            if field in ("$or", "$nor"):
                classes.add("unindexable", f"{field} (one compound index cannot serve branches)")
            elif field == "$where":
                classes.add("unindexable", "$where (JavaScript is evaluated per document)")
            elif field == "$text":
                classes.add("unindexable", "$text (needs a text index)")
            elif field == "$expr":
                classes.add("unindexable", "$expr")
            continue
        path = prefix + field
        if isinstance(cond, Regex | re.Pattern):
            classes.add("range", path)
        elif is_operator_doc(cond):
            _classify_operators(path, cond, classes)
        else:
            classes.add("equality", path)


def _classify_operators(path: str, cond: Mapping[str, Any], classes: _Classes) -> None:
    ops = set(cond)
    if ops & _GEO_OPERATORS:
        classes.add("unindexable", f"geo query on {path} (needs a 2dsphere or 2d index)")
    elif "$eq" in ops:
        classes.add("equality", path)
    elif "$in" in ops:
        values = cond["$in"]
        kind = "equality" if isinstance(values, list) and len(values) == 1 else "in_list"
        classes.add(kind, path)
    elif "$elemMatch" in ops:
        inner = cond["$elemMatch"]
        if is_operator_doc(inner):
            _classify_operators(path, inner, classes)
        else:
            _classify(inner, classes, prefix=path + ".")
    elif ops & _RANGE_OPERATORS:
        classes.add("range", path)
    else:
        classes.add("range", path)


def _sort_keys(sort: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(sort, Mapping):
        return ()
    keys = []
    for field, direction in sort.items():
        if isinstance(direction, bool) or not isinstance(direction, int | float):
            continue  # {$meta: "textScore"} and the like: not an index order
        keys.append((str(field), -1 if direction < 0 else 1))
    return tuple(keys)


# -- from a command ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Parts:
    op: str
    collection: str | None
    filter: Any = None
    sort: Any = None
    limit: bool = False
    #: the normalized form shown (and hashed) besides the filter and the sort
    extra: Any = None
    unindexable: tuple[str, ...] = ()
    truncated: bool = False


def _leading_stages(pipeline: Sequence[Any]) -> tuple[dict[str, Any], Any, bool]:
    """The filter, sort and limit of a pipeline's leading $match / $sort / $limit run."""
    conjuncts: list[Any] = []
    sort: Any = None
    limit = False
    for stage in pipeline:
        if not isinstance(stage, Mapping) or len(stage) != 1:
            break
        name, spec = next(iter(stage.items()))
        if name not in _PUSHDOWN_STAGES:
            break
        if name == "$match" and isinstance(spec, Mapping):
            conjuncts.append(spec)
        elif name == "$sort" and sort is None:
            sort = spec
        elif name == "$limit" and sort is not None:
            limit = True
    if not conjuncts:
        return {}, sort, limit
    merged = conjuncts[0] if len(conjuncts) == 1 else {"$and": conjuncts}
    return dict(merged), sort, limit


def _parts(command: Mapping[str, Any], op: str | None, collection: str | None) -> _Parts:
    if "$truncated" in command:
        name = _OP_NAMES.get(op or "", op or "command")
        return _Parts(
            name,
            collection,
            unindexable=("the server truncated the command (over its size limit)",),
            truncated=True,
        )
    if op in ("update", "remove") and "q" in command:
        return _statement_parts("update" if op == "update" else "delete", collection, command)
    if not command:
        return _Parts(_OP_NAMES.get(op or "", op or "command"), collection)
    name = next(iter(command))
    target = command[name]
    coll = target if isinstance(target, str) else collection
    lowered = name.lower()
    if lowered == "find":
        extra = {"projection": command["projection"]} if command.get("projection") else None
        limit = bool(command.get("limit")) or bool(command.get("singleBatch"))
        return _Parts("find", coll, command.get("filter") or {}, command.get("sort"), limit, extra)
    if lowered == "aggregate":
        pipeline = command.get("pipeline")
        pipeline = pipeline if isinstance(pipeline, list) else []
        filter_doc, sort, limit = _leading_stages(pipeline)
        extra = {"pipeline": [normalize_stage(s) for s in pipeline]}
        return _Parts(
            "aggregate", coll if isinstance(target, str) else None, filter_doc, sort, limit, extra
        )
    if lowered == "count":
        return _Parts("count", coll, command.get("query") or {})
    if lowered == "distinct":
        return _Parts(
            "distinct", coll, command.get("query") or {}, extra={"key": command.get("key")}
        )
    if lowered == "findandmodify":
        action = "remove" if command.get("remove") else "update"
        update = command.get("update")
        extra = {"action": action, "update": normalize_expression(update) if update else None}
        return _Parts(
            "findAndModify", coll, command.get("query") or {}, command.get("sort"), True, extra
        )
    if lowered in ("update", "delete"):
        key = "updates" if lowered == "update" else "deletes"
        statements = command.get(key)
        if isinstance(statements, list) and statements and isinstance(statements[0], Mapping):
            return _statement_parts(lowered, coll, statements[0])
        return _Parts(lowered, coll)
    if lowered == "insert":
        return _Parts("insert", coll)
    if lowered == "getmore":
        where = command.get("collection")
        return _Parts(
            "getMore",
            where if isinstance(where, str) else collection,
            unindexable=("a getMore without its originating command",),
        )
    return _Parts(name, coll if isinstance(target, str) else collection)


def _statement_parts(op: str, collection: str | None, stmt: Mapping[str, Any]) -> _Parts:
    if op == "update":
        update = stmt.get("u")
        extra = {
            "multi": bool(stmt.get("multi")),
            "upsert": bool(stmt.get("upsert")),
            "update": normalize_expression(update) if isinstance(update, Mapping | list) else None,
        }
        return _Parts(
            "update",
            collection,
            stmt.get("q") or {},
            stmt.get("sort"),
            not stmt.get("multi"),
            extra,
        )
    one = stmt.get("limit") in (1, True)
    return _Parts("delete", collection, stmt.get("q") or {}, None, one, {"one": one})


def _text(parts: _Parts, filter_shape: Any) -> str:
    coll = shell.collection_ref(parts.collection) if parts.collection else "db"
    extra = parts.extra if isinstance(parts.extra, Mapping) else {}
    out: Iterable[str]
    if parts.truncated:
        out = [coll, f".{parts.op}(…)  (command truncated by the server)"]
    elif parts.op == "find":
        args = [filter_shape] + ([extra["projection"]] if extra.get("projection") else [])
        out = [coll, *_call("find", args)]
        if parts.sort:
            out += _call("sort", [parts.sort])
        if parts.limit:
            out.append(".limit(?)")
    elif parts.op == "aggregate":
        out = [coll, *_call("aggregate", [extra.get("pipeline", [])])]
    elif parts.op == "count":
        out = [coll, *_call("count", [filter_shape])]
    elif parts.op == "distinct":
        out = [coll, *_call("distinct", [extra.get("key") or "", filter_shape])]
    elif parts.op == "findAndModify":
        options: dict[str, Any] = {"query": filter_shape}
        if parts.sort:
            options["sort"] = parts.sort
        if extra.get("action") == "remove":
            options["remove"] = True
        elif extra.get("update") is not None:
            options["update"] = extra["update"]
        out = [coll, *_call("findAndModify", [options])]
    elif parts.op == "update":
        method = "updateMany" if extra.get("multi") else "updateOne"
        args = [filter_shape, extra.get("update") or {}]
        if extra.get("upsert"):
            args.append({"upsert": True})
        out = [coll, *_call(method, args)]
    elif parts.op == "delete":
        out = [coll, *_call("deleteOne" if extra.get("one") else "deleteMany", [filter_shape])]
    elif parts.op == "insert":
        out = [coll, ".insertMany(?)"]
    elif parts.op == "getMore":
        out = [f"getMore on {coll}"]
    else:
        out = [
            f"db.runCommand({{ {shell.key_text(parts.op)}: ",
            shell.quote(parts.collection) if parts.collection else "?",
            " })",
        ]
    return shell.join(out, TEXT_LIMIT)


def _call(method: str, args: Sequence[Any]) -> list[str]:
    out = [f".{method}("]
    for n, arg in enumerate(args):
        if n:
            out.append(", ")
        out.extend(shell.pieces(arg))
    out.append(")")
    return out


def shape_of(
    command: Mapping[str, Any] | None,
    *,
    op: str | None = None,
    namespace: str | None = None,
    database: str | None = None,
) -> QueryShape:
    """The shape of a command as the profiler or currentOp report it.

    ``op`` and ``namespace`` are the entry's ``op`` and ``ns`` fields: they name the
    collection of a statement-level document (``{q, u, multi}``) or a truncated command.
    ``database`` is used when the namespace does not name one (the command's ``$db``).
    """
    command = command or {}
    db, coll = split_namespace(namespace)
    db = db or database or (command.get("$db") if isinstance(command.get("$db"), str) else None)
    parts = _parts(shell.without_envelope(command), op, coll)
    collection = parts.collection or coll
    if collection and collection.startswith("$cmd"):
        collection = None
    parts.collection = collection
    filter_shape = normalize_filter(parts.filter) if parts.filter is not None else {}
    classes = _Classes({}, {}, {}, dict.fromkeys(parts.unindexable))
    if parts.filter is not None:
        _classify(parts.filter, classes)
    sort = _sort_keys(parts.sort)
    identity = "|".join(
        (
            db or "",
            collection or "",
            parts.op,
            canonical(filter_shape),
            canonical(list(sort)),
            str(parts.limit),
            canonical(parts.extra) if parts.extra is not None else "",
        )
    )
    digest = hashlib.sha1(identity.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return QueryShape(
        database=db,
        collection=collection,
        op=parts.op,
        text=_text(parts, filter_shape),
        id=digest,
        equality=tuple(classes.equality),
        in_list=tuple(f for f in classes.in_list if f not in classes.equality),
        range=tuple(f for f in classes.range if f not in classes.equality),
        sort=sort,
        limit=parts.limit,
        unindexable=tuple(classes.unindexable),
    )


def split_namespace(namespace: str | None) -> tuple[str | None, str | None]:
    """``"shop.orders.archive"`` -> ``("shop", "orders.archive")``: databases have no dots."""
    if not namespace:
        return None, None
    db, _, coll = namespace.partition(".")
    return db or None, coll or None


def shape_of_entry(entry: Mapping[str, Any]) -> QueryShape:
    """The shape of a profiler entry or a currentOp document (a getMore uses the command
    that opened its cursor)."""
    command = entry.get("command")
    op = entry.get("op") if isinstance(entry.get("op"), str) else None
    origin = entry.get("originatingCommand")
    if origin is None and isinstance(entry.get("cursor"), Mapping):
        origin = entry["cursor"].get("originatingCommand")
    if op == "getmore" and isinstance(origin, Mapping):
        command, op = origin, None
    ns = entry.get("ns") if isinstance(entry.get("ns"), str) else None
    return shape_of(command if isinstance(command, Mapping) else None, op=op, namespace=ns)
