"""A scripted MongoDB server on the real wire protocol (mockupdb), answering like mongod.

pymongo's async client talks OP_MSG to it over TCP exactly as to a mongod: handshake,
cursors with batches and getMore, errors with codes. The replies are the recorded documents
of ``fixtures.py``; the server applies the few request options that decide what a real
server returns ($currentOp's allUsers / idleConnections and a $match, find's filter on ``ts``,
sort by $natural, limit and projection, cursor batch sizes) and records every command it got
so tests can check what dbtop sent (maxTimeMS, killOp's opid, no write in read-only mode).

mockupdb serves each connection on its own thread and handles one request at a time, so a
handler must answer at once: the test URLs use ``serverMonitoringMode=poll`` so that the
driver's monitor does not expect a server-held ("awaitable") hello.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bson import Int64
from mockupdb import MockupDB

from tests.integration.mongodb import fixtures as fx

Reply = dict[str, Any]
#: commands a mongod with authorization on answers before authentication
_NO_AUTH = frozenset({"ismaster", "hello", "saslstart", "saslcontinue", "ping", "endsessions"})


class CommandError(Exception):
    def __init__(self, code: int, code_name: str, errmsg: str) -> None:
        super().__init__(errmsg)
        self.reply = {"ok": 0.0, "errmsg": errmsg, "code": code, "codeName": code_name}


def unauthorized(command: str, database: str = "admin") -> CommandError:
    return CommandError(
        13, "Unauthorized", f"not authorized on {database} to execute command {{ {command}: 1 }}"
    )


@dataclass
class Collection:
    stats: list[dict[str, Any]]
    index_stats: list[dict[str, Any]]
    specs: list[dict[str, Any]]


@dataclass
class World:
    """Everything the scripted server knows; tests change it between polls."""

    kind: str = "standalone"
    max_wire: int = 21
    version: str = "7.0.12"
    operations: list[dict[str, Any]] = field(default_factory=list)
    idle_connections: list[dict[str, Any]] = field(default_factory=list)
    #: user whose operations allUsers: false shows
    user: str = "monitor"
    database_sizes: dict[str, int] = field(default_factory=dict)
    collections: dict[tuple[str, str], Collection] = field(default_factory=dict)
    #: views, (database, name) -> {"viewOn": …, "pipeline": […]}, listed by listCollections
    views: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    profile_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    explain: Callable[[str, dict[str, Any], str], Reply] | None = None
    #: command keys refused with Unauthorized: "serverStatus", "currentOp-allUsers",
    #: "indexStats", "collStats", "profile", "profile-read", "killOp"
    refuse: set[str] = field(default_factory=set)
    #: every command but the handshake is refused as unauthenticated (auth is on and the
    #: URL names no user)
    require_auth: bool = False
    #: commands answered by closing the connection (a server going away mid-poll)
    hangup: set[str] = field(default_factory=set)
    ops_counter: int = 0
    #: when set, serverStatus's opcounters are counted as mongod does: every command the
    #: server received (handshakes and heartbeats included) by category, plus these
    #: operations of the application
    app_ops: dict[str, int] | None = None
    #: opids whose killOp makes them disappear
    killed: list[Any] = field(default_factory=list)
    #: changes a test makes to each serverStatus / replSetGetStatus reply (health checks)
    status_patch: Callable[[dict[str, Any]], None] | None = None
    repl_patch: Callable[[dict[str, Any]], None] | None = None
    #: local.oplog.rs entries, oldest first (find in $natural order)
    oplog: list[dict[str, Any]] = field(default_factory=list)


class ScriptedMongo:
    def __init__(self, world: World) -> None:
        self.world = world
        self.server = MockupDB(auto_ismaster=False, request_timeout=5)
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._cursors: dict[int, tuple[str, list[dict[str, Any]], int]] = {}
        self._cursor_ids = itertools.count(7_000_001)
        self._opids = itertools.count(900_001)
        self._apps: dict[int, str | None] = {}
        self._lock = threading.Lock()
        self.port = 0

    def reset(self, world: World) -> ScriptedMongo:
        """Serve another world (one server is shared by the tests: stopping one takes a
        second, mockupdb's accept loop polls)."""
        with self._lock:
            self.world = world
            self.received.clear()
            self._cursors.clear()
        return self

    def start(self) -> ScriptedMongo:
        self.server.autoresponds(self._handle)
        self.port = self.server.run()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return f"mongodb://localhost:{self.port}/?serverMonitoringMode=poll"

    def url_for(self, database: str = "", **options: str) -> str:
        query = "&".join(["serverMonitoringMode=poll", *(f"{k}={v}" for k, v in options.items())])
        return f"mongodb://localhost:{self.port}/{database}?{query}"

    def commands(self, name: str) -> list[dict[str, Any]]:
        return [doc for n, doc in self.received if n == name.lower()]

    # -- dispatch ------------------------------------------------------------------------------

    def _handle(self, request: Any) -> bool:
        name = request.command_name
        if not name:
            return request.fail("legacy opcodes are not supported")
        doc = dict(request.doc)
        database = doc.get("$db", request.namespace or "admin")
        lowered = name.lower()
        with self._lock:
            self.received.append((lowered, doc))
        if lowered in self.world.hangup:
            return request.hangup()
        port = request.client_port
        if lowered in ("ismaster", "hello"):
            meta = doc.get("client")
            if isinstance(meta, Mapping):
                app = meta.get("application", {}).get("name")
                self._apps[port] = app
        try:
            if self.world.require_auth and lowered not in _NO_AUTH:
                raise CommandError(13, "Unauthorized", f"command {name} requires authentication")
            handler = getattr(self, f"on_{lowered}", None)
            if handler is None:
                raise CommandError(59, "CommandNotFound", f"no such command: '{name}'")
            reply = handler(database, doc, port)
        except CommandError as err:
            reply = err.reply
        try:
            return request.replies(reply)
        except OSError:
            return True  # the client went away meanwhile (a cancelled poll): as a mongod, move on

    # -- handshake and server state -------------------------------------------------------------

    def on_ismaster(self, database: str, doc: dict, port: int) -> Reply:
        reply = fx.hello(self.port, kind=self.world.kind, max_wire=self.world.max_wire)
        if "helloOk" in doc:
            reply["helloOk"] = True
        if "saslSupportedMechs" in doc:
            reply["saslSupportedMechs"] = ["SCRAM-SHA-256", "SCRAM-SHA-1"]
        if doc.get("ismaster") is not None:
            reply["ismaster"] = True
        return reply

    on_hello = on_ismaster

    def on_saslstart(self, database: str, doc: dict, port: int) -> Reply:
        raise CommandError(18, "AuthenticationFailed", "Authentication failed.")

    def on_ping(self, database: str, doc: dict, port: int) -> Reply:
        return {"ok": 1.0}

    def on_endsessions(self, database: str, doc: dict, port: int) -> Reply:
        return {"ok": 1.0}

    def on_serverstatus(self, database: str, doc: dict, port: int) -> Reply:
        if "serverStatus" in self.world.refuse:
            raise unauthorized("serverStatus")
        self.world.ops_counter += 1000
        status = fx.server_status(
            kind=self.world.kind, version=self.world.version, ops=self.world.ops_counter
        )
        if self.world.app_ops is not None:
            counted = dict.fromkeys(("insert", "query", "update", "delete", "getmore"), 0)
            counted["command"] = 0
            with self._lock:
                for name, _ in self.received:  # this serverStatus included, as mongod does
                    kind = {"find": "query"}.get(name, name)
                    counted[kind if kind in counted else "command"] += 1
            for kind, count in self.world.app_ops.items():
                counted[kind] += count
            status["opcounters"] = {k: Int64(v) for k, v in counted.items()}
        if self.world.status_patch is not None:
            self.world.status_patch(status)
        return status

    def on_replsetgetstatus(self, database: str, doc: dict, port: int) -> Reply:
        if self.world.kind != "replset":
            raise CommandError(76, "NoReplicationEnabled", "not running with --replSet")
        reply = fx.repl_set_status()
        if self.world.repl_patch is not None:
            self.world.repl_patch(reply)
        return reply

    def on_listdatabases(self, database: str, doc: dict, port: int) -> Reply:
        reply = fx.list_databases(self.world.database_sizes)
        if doc.get("nameOnly"):
            reply["databases"] = [{"name": d["name"]} for d in reply["databases"]]
        return reply

    def on_listcollections(self, database: str, doc: dict, port: int) -> Reply:
        names = sorted(c for (db, c) in self.world.collections if db == database)
        batch: list[dict[str, Any]] = [{"name": n, "type": "collection"} for n in names]
        batch += [
            {"name": name, "type": "view", "options": dict(options)}
            for (db, name), options in sorted(self.world.views.items())
            if db == database
        ]
        wanted = doc.get("filter", {}).get("name")
        if isinstance(wanted, str):
            batch = [d for d in batch if d["name"] == wanted]
        return self._cursor(f"{database}.$cmd.listCollections", batch, doc)

    def on_listindexes(self, database: str, doc: dict, port: int) -> Reply:
        coll = self._collection(database, doc["listIndexes"])
        return self._cursor(f"{database}.{doc['listIndexes']}", copy.deepcopy(coll.specs), doc)

    def on_profile(self, database: str, doc: dict, port: int) -> Reply:
        if "profile" in self.world.refuse:
            raise unauthorized("profile", database)
        state = self.world.profile.setdefault(database, {"level": 0, "slowms": 100})
        reply = fx.profile_reply(state["level"], state["slowms"])
        level = doc.get("profile")
        if level != -1:
            state["level"] = level
            if "slowms" in doc:
                state["slowms"] = doc["slowms"]
        return reply

    def on_killop(self, database: str, doc: dict, port: int) -> Reply:
        if "killOp" in self.world.refuse:
            raise unauthorized("killOp")
        self.world.killed.append(doc.get("op"))
        return dict(fx.KILL_OP_REPLY)

    def on_killsessions(self, database: str, doc: dict, port: int) -> Reply:
        return {"ok": 1.0}

    def on_explain(self, database: str, doc: dict, port: int) -> Reply:
        if self.world.explain is None:
            raise CommandError(59, "CommandNotFound", "no explain scripted")
        command = doc["explain"]
        if "unknownOp" in repr(command):
            raise CommandError(2, "BadValue", "unknown operator: $unknownOp")
        return self.world.explain(database, command, doc.get("verbosity", "allPlansExecution"))

    # -- cursors --------------------------------------------------------------------------------

    def _cursor(self, ns: str, docs: list[dict[str, Any]], request: Mapping[str, Any]) -> Reply:
        size = 101
        options = request.get("cursor")
        if isinstance(options, Mapping) and isinstance(options.get("batchSize"), int):
            size = options["batchSize"]
        if isinstance(request.get("batchSize"), int):
            size = request["batchSize"]
        size = size or len(docs) or 1
        first, rest = docs[:size], docs[size:]
        cursor_id = 0
        if rest:
            cursor_id = next(self._cursor_ids)
            self._cursors[cursor_id] = (ns, rest, size)
        return {"cursor": {"id": Int64(cursor_id), "ns": ns, "firstBatch": first}, "ok": 1.0}

    def on_getmore(self, database: str, doc: dict, port: int) -> Reply:
        cursor_id = int(doc["getMore"])
        if cursor_id not in self._cursors:
            raise CommandError(43, "CursorNotFound", f"cursor id {cursor_id} not found")
        ns, docs, size = self._cursors.pop(cursor_id)
        size = doc.get("batchSize") or size
        batch, rest = docs[:size], docs[size:]
        next_id = 0
        if rest:
            next_id = cursor_id
            self._cursors[cursor_id] = (ns, rest, size)
        return {"cursor": {"id": Int64(next_id), "ns": ns, "nextBatch": batch}, "ok": 1.0}

    def on_killcursors(self, database: str, doc: dict, port: int) -> Reply:
        ids = [int(i) for i in doc.get("cursors", [])]
        for cursor_id in ids:
            self._cursors.pop(cursor_id, None)
        return {"cursorsKilled": ids, "cursorsNotFound": [], "ok": 1.0}

    # -- aggregate and find ---------------------------------------------------------------------

    def _collection(self, database: str, name: str) -> Collection:
        coll = self.world.collections.get((database, name))
        if coll is None:
            raise CommandError(26, "NamespaceNotFound", f"ns does not exist: {database}.{name}")
        return coll

    def on_aggregate(self, database: str, doc: dict, port: int) -> Reply:
        pipeline = doc.get("pipeline", [])
        first = pipeline[0] if pipeline else {}
        target = doc["aggregate"]
        if "$currentOp" in first:
            docs = self._current_op(first["$currentOp"], doc, port)
            ns = "admin.$cmd.aggregate"
        elif "$collStats" in first:
            if "collStats" in self.world.refuse:
                raise unauthorized("collStats", database)
            docs = copy.deepcopy(self._collection(database, target).stats)
            ns = f"{database}.{target}"
        elif "$indexStats" in first:
            if "indexStats" in self.world.refuse:
                raise unauthorized("indexStats", database)
            docs = copy.deepcopy(self._collection(database, target).index_stats)
            ns = f"{database}.{target}"
        else:
            raise CommandError(40324, "Location40324", "Unrecognized pipeline stage name")
        for stage in pipeline[1:]:
            if "$match" in stage:
                docs = [d for d in docs if matches(d, stage["$match"])]
            elif "$limit" in stage:
                docs = docs[: stage["$limit"]]
            elif "$project" in stage:
                docs = [project(d, stage["$project"]) for d in docs]
        return self._cursor(ns, docs, doc)

    def _current_op(self, options: Mapping[str, Any], request: dict, port: int) -> list[dict]:
        world = self.world
        if options.get("allUsers") and "currentOp-allUsers" in world.refuse:
            raise unauthorized("aggregate")
        now = dt.datetime.now(dt.UTC)
        docs = [copy.deepcopy(op) for op in world.operations if op.get("opid") not in world.killed]
        if not options.get("idleSessions", True):
            docs = [d for d in docs if d.get("type") != "idleSession"]
        if options.get("idleConnections"):
            docs.extend(copy.deepcopy(world.idle_connections))
        # the $currentOp aggregation itself is an active operation, as on a real server
        docs.append(
            {
                "type": "op",
                "host": "db1.example.net:27017",
                "desc": "conn999",
                "connectionId": 999,
                "client": f"127.0.0.1:{port}",
                "appName": self._apps.get(port),
                "active": True,
                "currentOpTime": fx.iso(now),
                "effectiveUsers": [{"user": world.user, "db": "admin"}],
                "opid": next(self._opids),
                "secs_running": Int64(0),
                "microsecs_running": Int64(85),
                "op": "command",
                "ns": "admin.$cmd.aggregate",
                "command": {k: v for k, v in request.items() if k != "lsid"},
                "numYields": 0,
                "locks": {},
                "waitingForLock": False,
            }
        )
        if world.kind == "mongos":
            for d in docs:
                if isinstance(d.get("opid"), int) and d.get("desc") != "conn999":
                    d["opid"] = f"shard01:{d['opid']}"
                    d["shard"] = "shard01"
        if not options.get("allUsers"):
            docs = [
                d
                for d in docs
                if any(u.get("user") == world.user for u in d.get("effectiveUsers", []))
            ]
        return docs

    def on_find(self, database: str, doc: dict, port: int) -> Reply:
        target = doc["find"]
        if (database, target) == ("local", "oplog.rs") and self.world.oplog:
            entries = [copy.deepcopy(e) for e in self.world.oplog]
            if (doc.get("sort") or {}).get("$natural") == -1:
                entries.reverse()
            return self._cursor("local.oplog.rs", entries[: doc.get("limit") or None], doc)
        if target != "system.profile":
            raise CommandError(26, "NamespaceNotFound", f"no scripted collection {target}")
        if "profile-read" in self.world.refuse:
            raise unauthorized("find", database)
        entries = [copy.deepcopy(e) for e in self.world.profile_entries.get(database, [])]
        if (doc.get("sort") or {}).get("$natural") == -1:
            entries.reverse()
        entries = [e for e in entries if matches(e, doc.get("filter") or {})]
        if doc.get("limit"):
            entries = entries[: doc["limit"]]
        projection = doc.get("projection") or {}
        excluded = [k for k, v in projection.items() if not v]
        for entry in entries:
            for key in excluded:
                entry.pop(key, None)
        return self._cursor(f"{database}.system.profile", entries, doc)


def project(doc: dict[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """A $project of field paths: all 0 (exclusion) or all 1 (inclusion, with _id)."""
    if all(not v for v in spec.values()):
        out = copy.deepcopy(doc)
        for path in spec:
            *parents, last = path.split(".")
            target: Any = out
            for part in parents:
                target = target.get(part) if isinstance(target, dict) else None
            if isinstance(target, dict):
                target.pop(last, None)
        return out
    return {k: v for k, v in doc.items() if k in spec or k == "_id"}


def _get(doc: Mapping[str, Any], path: str) -> Any:
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _naive(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _compare(op: str, value: Any, arg: Any) -> bool:
    if op == "$in":
        return value in arg
    if op == "$eq":
        return value == arg
    if op == "$gt":
        return value > arg
    if op == "$gte":
        return value >= arg
    if op == "$lt":
        return value < arg
    if op == "$lte":
        return value <= arg
    raise CommandError(2, "BadValue", f"unknown operator: {op}")


def matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """The query operators the scripted replies need: equality, $gt/$gte/$lt/$lte, $in."""
    for path, cond in query.items():
        value = _naive(_get(doc, path))
        if isinstance(cond, Mapping) and cond and all(str(k).startswith("$") for k in cond):
            for op, arg in cond.items():
                arg = _naive(arg)
                if value is None:
                    return False
                ok = _compare(op, value, arg)
                if not ok:
                    return False
        elif value != cond:
            return False
    return True
