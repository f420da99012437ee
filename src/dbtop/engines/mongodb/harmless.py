"""Proof that a command is harmless before explain runs it with executionStats: the
operators of the command itself are checked by ``explain.check_analyze`` (pure); a view
runs its own pipeline when it is read, so every collection the command reads (its own, and
the ``from`` / ``coll`` of $lookup, $graphLookup and $unionWith) is looked up with
listCollections, and a view's pipeline is checked the same way, through views of views."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dbtop.engines.harmless import MAX_VIEW_DEPTH, refusal
from dbtop.engines.mongodb.connection import Connection
from dbtop.engines.mongodb.explain import ACTING_OPERATORS, acting_operator, command_name
from dbtop.errors import RefusedError


def _refuse(what: str, why: str) -> RefusedError:
    return refusal("executionStats", what, why, plain="plain explain (queryPlanner)")


def read_collections(value: Any, depth: int = 0) -> Iterator[str]:
    """The collections a pipeline or filter reads besides the command's own (pure)."""
    if depth > 100:
        return
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key in ("$lookup", "$graphLookup") and isinstance(inner, Mapping):
                if isinstance(inner.get("from"), str):
                    yield inner["from"]
            elif key == "$unionWith":
                if isinstance(inner, str):
                    yield inner
                elif isinstance(inner, Mapping) and isinstance(inner.get("coll"), str):
                    yield inner["coll"]
            yield from read_collections(inner, depth + 1)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from read_collections(inner, depth + 1)


def collections_of(command: Mapping[str, Any]) -> list[str]:
    own = command.get(next(iter(command), ""))
    names = [own] if isinstance(own, str) and command_name(command) != "explain" else []
    return list(dict.fromkeys([*names, *read_collections(command)]))


async def prove(conn: Connection, database: str, command: Mapping[str, Any]) -> None:
    await _prove(conn, database, collections_of(command), depth=0, seen=set())


async def _prove(
    conn: Connection, database: str, names: list[str], *, depth: int, seen: set[str]
) -> None:
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        try:
            reply = await conn.command(
                database, {"listCollections": 1, "filter": {"name": name}, "nameOnly": False}
            )
        except Exception:  # any failure: it cannot be shown harmless
            raise _refuse(
                f"the collection {name}", "dbtop cannot check is not a view (listCollections)"
            ) from None
        batch = reply.get("cursor", {}).get("firstBatch", [])
        for info in batch if isinstance(batch, list) else []:
            if not isinstance(info, Mapping) or info.get("name") != name:
                continue
            if info.get("type") != "view":
                continue
            raw = info.get("options")
            options: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            pipeline = options.get("pipeline", [])
            found = acting_operator(pipeline)
            if found:
                why = ACTING_OPERATORS.get(found, "cannot be checked")
                raise _refuse(f"{found} (in the view {name})", why)
            if depth >= MAX_VIEW_DEPTH:
                raise _refuse(f"the view {name}", f"nests views deeper than {MAX_VIEW_DEPTH}")
            inner = [options["viewOn"]] if isinstance(options.get("viewOn"), str) else []
            inner.extend(read_collections(pipeline))
            await _prove(conn, database, inner, depth=depth + 1, seen=seen)
