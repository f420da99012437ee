"""Explain: the command of an operation (or one the user typed), its winning plan as a tree.

``queryPlanner`` by default: the server plans the command without running it. Only on
request, and only for reads, ``executionStats`` runs it and reports keys and documents
examined per stage; a write (update, delete, findAndModify, an aggregation with $out or
$merge) or a command that runs JavaScript ($where, $function, $accumulator) is never run.

Pure: command preparation and the conversion of the explain output (classic and slot-based
engines, sharded clusters, aggregation pipelines) to a ``PlanNode`` tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dbtop.engines.mongodb import querytext, shell
from dbtop.engines.mongodb.connection import ANALYZE_TIMEOUT_MS, Connection
from dbtop.engines.mongodb.sessions import Parsed, command_of
from dbtop.engines.mongodb.shapes import split_namespace
from dbtop.engines.mongodb.summary import integer, number, section
from dbtop.errors import QueryError, RefusedError, UsageError
from dbtop.model import Plan, PlanNode, frozen

#: commands the explain command plans (lower case)
EXPLAINABLE = frozenset({"find", "aggregate", "count", "distinct", "update", "delete"})
EXPLAINABLE_ALL = EXPLAINABLE | {"findandmodify"}
#: fields the explain command refuses or that would change what is planned
_DROPPED = frozenset({"maxTimeMS", "readConcern", "writeConcern", "$readPreference"})


def command_name(command: Mapping[str, Any]) -> str:
    return str(next(iter(command), "")).lower()


def is_write(command: Mapping[str, Any]) -> bool:
    name = command_name(command)
    if name in ("update", "delete", "findandmodify", "insert"):
        return True
    if name == "aggregate":
        pipeline = command.get("pipeline")
        if isinstance(pipeline, list) and pipeline and isinstance(pipeline[-1], Mapping):
            return bool({"$out", "$merge"} & set(pipeline[-1]))
    return False


def prepare(command: Mapping[str, Any]) -> dict[str, Any]:
    """The command as the explain command takes it: no session or transaction fields."""
    cleaned = {k: v for k, v in shell.without_envelope(command).items() if k not in _DROPPED}
    name = command_name(cleaned)
    if name not in EXPLAINABLE_ALL:
        shown = next(iter(cleaned), "?")
        raise QueryError(
            f"{shown} cannot be explained: explain plans find, aggregate, count, distinct, "
            "update, delete and findAndModify"
        )
    return cleaned


def from_operation(op_id: str, doc: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The database and the explainable command of a currentOp document."""
    command = command_of(doc)
    if command is None:
        raise QueryError(f"operation {op_id} runs no command that can be explained")
    if "$truncated" in command:
        raise QueryError(
            f"the server truncated operation {op_id}'s command (it is too large to report): "
            "it cannot be explained from here"
        )
    ns = doc.get("ns") if isinstance(doc.get("ns"), str) else None
    database, collection = split_namespace(ns)
    db_field = command.get("$db")
    if isinstance(db_field, str):
        database = db_field
    op = doc.get("op")
    as_reported = command is doc.get("command")
    if as_reported and op in ("update", "remove") and "q" in command:
        if collection is None:
            raise QueryError(f"operation {op_id} names no collection")
        if op == "update":
            command = {"update": collection, "updates": [shell.without_envelope(command)]}
        else:
            statement = {"q": command.get("q", {}), "limit": command.get("limit", 0)}
            command = {"delete": collection, "deletes": [statement]}
    return database, prepare(command)


#: operators that run server-side JavaScript (which may loop, sleep or hog a thread) or
#: write, anywhere in a filter or pipeline (a $lookup or $facet sub-pipeline too)
ACTING_OPERATORS = {
    "$where": "runs JavaScript on the server",
    "$function": "runs JavaScript on the server",
    "$accumulator": "runs JavaScript on the server",
    "$out": "writes a collection",
    "$merge": "writes into a collection",
}


def acting_operator(value: Any, depth: int = 0) -> str | None:
    """The first operator of ACTING_OPERATORS anywhere in ``value`` (pure); a document
    nested deeper than anything a user types counts as acting (it cannot be checked)."""
    if depth > 100:
        return "a document nested too deep to check"
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if isinstance(key, str) and key in ACTING_OPERATORS:
                return key
            found = acting_operator(inner, depth + 1)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for inner in value:
            found = acting_operator(inner, depth + 1)
            if found:
                return found
    return None


def check_analyze(command: Mapping[str, Any]) -> None:
    """executionStats runs the command: only a read that runs no JavaScript and writes
    nothing. (The server documents that explain of an update or delete in executionStats
    mode does not apply the change; dbtop does not rely on that and refuses writes.)"""
    found = acting_operator(command)
    if found:
        why = ACTING_OPERATORS.get(found, "cannot be checked")
        raise RefusedError(
            f"executionStats would run {found}, which {why}: refused; plain explain "
            "(queryPlanner) shows the plan without running it"
        )
    if is_write(command):
        raise RefusedError(
            "executionStats runs the command and dbtop runs only reads that way: this is a "
            f"{next(iter(command), 'write')}; explain it without analyze (queryPlanner)"
        )


# -- the plan tree ----------------------------------------------------------------------------


def _detail(stage: Mapping[str, Any]) -> str | None:
    name = str(stage.get("stage", ""))
    parts: list[str] = []
    if "indexName" in stage or "keyPattern" in stage:
        if stage.get("indexName"):
            parts.append(str(stage["indexName"]))
        if isinstance(stage.get("keyPattern"), Mapping):
            parts.append(shell.value_text(stage["keyPattern"], 200))
        bounds = stage.get("indexBounds")
        if isinstance(bounds, Mapping) and bounds:
            parts.append(
                "bounds "
                + ", ".join(
                    f"{field}: {shell.value_text(b, 80)}" for field, b in list(bounds.items())[:4]
                )
            )
        if stage.get("direction") == "backward":
            parts.append("backward")
    if isinstance(stage.get("sortPattern"), Mapping):
        parts.append("by " + shell.value_text(stage["sortPattern"], 200))
        parts.append("in memory")
    if name == "COLLSCAN" and stage.get("direction") == "backward":
        parts.append("backward")
    if isinstance(stage.get("filter"), Mapping) and stage["filter"]:
        parts.append("filter " + shell.value_text(stage["filter"], 200))
    for key in ("limitAmount", "skipAmount"):
        if key in stage:
            parts.append(f"{key.removesuffix('Amount')} {stage[key]}")
    if isinstance(stage.get("transformBy"), Mapping):
        parts.append("project " + shell.value_text(stage["transformBy"], 120))
    return " ".join(parts) or None


def _children(stage: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    children: list[Mapping[str, Any]] = []
    if isinstance(stage.get("inputStage"), Mapping):
        children.append(stage["inputStage"])
    for key in ("inputStages", "innerStage", "outerStage"):
        value = stage.get(key)
        if isinstance(value, list):
            children.extend(v for v in value if isinstance(v, Mapping))
        elif isinstance(value, Mapping):
            children.append(value)
    return children


def stage_node(plan: Mapping[str, Any], stats: Mapping[str, Any] | None = None) -> PlanNode:
    """A query-layer stage (and the matching executionStats stage, when analyzed)."""
    plan = plan.get("queryPlan", plan) if isinstance(plan.get("queryPlan"), Mapping) else plan
    if isinstance(plan.get("shards"), list):
        return _sharded(plan, stats)
    name = str(plan.get("stage", "?"))
    same = stats if stats is not None and stats.get("stage") == name else None
    children = _children(plan)
    stat_children = _children(same) if same is not None else []
    nodes = tuple(
        stage_node(child, stat_children[i] if i < len(stat_children) else None)
        for i, child in enumerate(children)
    )
    extra: dict[str, Any] = {}
    if same is not None:
        for key in ("keysExamined", "docsExamined", "works", "seeks", "nSkipped", "memUsage"):
            value = integer(same.get(key))
            if value is not None:
                extra[key] = value
        if "usedDisk" in same:
            extra["usedDisk"] = bool(same.get("usedDisk"))
    for key in ("isMultiKey", "planNodeId"):
        if key in plan:
            extra[key] = plan[key] if isinstance(plan[key], bool | int) else str(plan[key])
    return PlanNode(
        name=name,
        detail=_detail(plan),
        actual_rows=number(same.get("nReturned")) if same else None,
        actual_ms=number(same.get("executionTimeMillisEstimate")) if same else None,
        children=nodes,
        extra=frozen(extra),
    )


def _sharded(plan: Mapping[str, Any], stats: Mapping[str, Any] | None) -> PlanNode:
    stat_shards = {}
    if stats is not None and isinstance(stats.get("shards"), list):
        stat_shards = {s.get("shardName"): s for s in stats["shards"] if isinstance(s, Mapping)}
    children = []
    for shard in plan["shards"]:
        if not isinstance(shard, Mapping):
            continue
        name = str(shard.get("shardName", "?"))
        winning = shard.get("winningPlan")
        stat = stat_shards.get(name)
        stages = stat.get("executionStages") if isinstance(stat, Mapping) else None
        inner = (
            (stage_node(winning, stages if isinstance(stages, Mapping) else None),)
            if isinstance(winning, Mapping)
            else ()
        )
        children.append(
            PlanNode(
                name="SHARD",
                detail=name,
                actual_rows=number(stat.get("nReturned")) if isinstance(stat, Mapping) else None,
                children=inner,
                extra=frozen(
                    shard=name,
                    keysExamined=integer(stat.get("totalKeysExamined")) if stat else None,
                    docsExamined=integer(stat.get("totalDocsExamined")) if stat else None,
                ),
            )
        )
    return PlanNode(
        name=str(plan.get("stage", "SHARD_MERGE")),
        detail=f"{len(children)} shard(s)",
        actual_rows=number(stats.get("nReturned")) if stats else None,
        actual_ms=number(stats.get("executionTimeMillis")) if stats else None,
        children=tuple(children),
    )


def _query_layer(doc: Mapping[str, Any]) -> PlanNode | None:
    planner = section(doc, "queryPlanner")
    winning = planner.get("winningPlan")
    if not isinstance(winning, Mapping):
        return None
    stats = section(doc, "executionStats").get("executionStages")
    explain_v2 = str(doc.get("explainVersion", "1")) != "1"
    # The slot-based engine's executionStages are its own stages, not the query plan's.
    usable = stats if isinstance(stats, Mapping) and not explain_v2 else None
    if isinstance(winning.get("shards"), list):
        usable = stats if isinstance(stats, Mapping) else None
    return stage_node(winning, usable)


def _pipeline(stages: Sequence[Any]) -> PlanNode:
    """Aggregation stages as a chain: the last stage on top, the cursor stage at the bottom."""
    node: PlanNode | None = None
    for stage in stages:
        if not isinstance(stage, Mapping):
            continue
        name = next((k for k in stage if str(k).startswith("$")), "?")
        spec = stage.get(name)
        if name == "$cursor" and isinstance(spec, Mapping):
            node = _query_layer(spec) or PlanNode(name="$cursor")
            continue
        detail = shell.value_text(spec, 160) if spec not in (None, {}) else None
        node = PlanNode(
            name=str(name),
            detail=detail,
            actual_rows=number(stage.get("nReturned")),
            actual_ms=number(stage.get("executionTimeMillisEstimate")),
            children=(node,) if node is not None else (),
        )
    return node or PlanNode(name="aggregate")


def plan_tree(doc: Mapping[str, Any]) -> PlanNode:
    """The winning plan of an explain reply as a tree of stages."""
    if isinstance(doc.get("stages"), list):
        return _pipeline(doc["stages"])
    shards = doc.get("shards")
    if isinstance(shards, Mapping) and "queryPlanner" not in doc:
        children = []
        for name, shard in shards.items():
            if not isinstance(shard, Mapping):
                continue
            inner = (
                _pipeline(shard["stages"])
                if isinstance(shard.get("stages"), list)
                else _query_layer(shard)
            )
            children.append(
                PlanNode(
                    name="SHARD",
                    detail=str(name),
                    children=(inner,) if inner else (),
                    extra=frozen(shard=str(name)),
                )
            )
        merge = doc.get("mergeType")
        return PlanNode(
            name="MERGE",
            detail=f"on {merge}" if merge else None,
            children=tuple(children),
        )
    node = _query_layer(doc)
    if node is None:
        raise QueryError("the server's explain output has no winning plan")
    return node


def notes(doc: Mapping[str, Any], root: PlanNode, analyzed: bool) -> tuple[str, ...]:
    out: list[str] = []
    planner = section(doc, "queryPlanner")
    rejected = planner.get("rejectedPlans")
    if isinstance(rejected, list) and rejected:
        out.append(f"{len(rejected)} other plan(s) considered and rejected")
    if str(doc.get("explainVersion", "1")) != "1":
        out.append("planned by the slot-based engine (explainVersion 2)")
    stats = section(doc, "executionStats")
    if analyzed and stats:
        returned = integer(stats.get("nReturned"))
        docs = integer(stats.get("totalDocsExamined"))
        keys = integer(stats.get("totalKeysExamined"))
        millis = number(stats.get("executionTimeMillis"))
        out.append(
            f"returned {returned if returned is not None else '?'} document(s), examined "
            f"{keys if keys is not None else '?'} key(s) and "
            f"{docs if docs is not None else '?'} document(s) in "
            f"{millis if millis is not None else '?'} ms"
        )
        if docs and returned is not None and docs >= 10 * max(returned, 1):
            out.append(
                f"examined {docs / max(returned, 1):,.0f} documents per document returned: "
                "an index on the filter's fields would read far fewer"
            )
    names = {node.name for node in root.walk()}
    if "COLLSCAN" in names:
        out.append("COLLSCAN: no index serves this filter (dbtop suggest proposes one)")
    if "SORT" in names:
        out.append(
            "SORT in memory: an index with the equality fields, then the sort fields, "
            "would return documents already in order"
        )
    return tuple(out)


def request(
    query: str | None, op: Parsed | None, default_database: str | None, analyze: bool
) -> tuple[str | None, dict[str, Any], list[str]]:
    """The database and the command to explain, from a typed query or an operation, with
    the notes about what was asked for."""
    notes: list[str] = []
    if op is not None:
        database, command = from_operation(op.id, op.doc)
    elif query is not None:
        parsed = querytext.parse(query, default_database)
        database, command = parsed.database, prepare(parsed.command)
        if parsed.verbosity and parsed.verbosity != "queryPlanner" and not analyze:
            notes.append(
                f"the query asks for {parsed.verbosity}: that runs it, which dbtop does "
                "only with analyze (dbtop explain --analyze)"
            )
    else:
        raise UsageError("explain needs a query or an operation id")
    return database, command, notes


async def run(
    conn: Connection,
    database: str | None,
    command: dict[str, Any],
    said: list[str],
    analyze: bool,
) -> Plan:
    """Send explain (queryPlanner; executionStats on request, never for a write)."""
    if not database:
        raise UsageError(
            "name the database: in the URL (mongodb://host/DATABASE), with "
            'db.getSiblingDB("name"), or as $db in a command document'
        )
    if analyze:
        check_analyze(command)
    verbosity = "executionStats" if analyze else "queryPlanner"
    limit = ANALYZE_TIMEOUT_MS if analyze else conn.options.statement_timeout_ms
    client = conn.require()
    body = {"explain": command, "verbosity": verbosity, "maxTimeMS": limit}
    try:
        reply = await conn.timed(client[database].command(body), limit / 1000)
    except BaseException as exc:
        raise conn.translate(exc, "explain") from None
    root = plan_tree(reply)
    if is_write(command):
        said.append("queryPlanner only: explain never executes a write")
    said.extend(notes(reply, root, analyze))
    return Plan(
        query=f"{database}: {shell.command_text(command)}",
        root=root,
        raw=reply,
        analyzed=analyze,
        notes=tuple(said),
    )
