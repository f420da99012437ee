"""The Redis engine: clients, slow log, keyspace and blocked clients, standalone or cluster.

Panes are named for Redis (Clients, Slow log, Keyspace, Blocked); docs/engines/redis.md lists
what each shows and the ``extra`` keys of the JSON. One connection per node, raw replies,
every command O(1) or bounded (INFO, CLIENT LIST, SLOWLOG GET, a budgeted SCAN sample).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis.advice import gather_advice
from dbtop.engines.redis.anatomy import KeyAnatomy, key_anatomy
from dbtop.engines.redis.antipatterns import client_findings, server_findings
from dbtop.engines.redis.assemble import (
    Rows,
    busy_rows,
    client_rows,
    latency_rows,
    slowlog_rows,
    statement_rows,
    table_rows,
)
from dbtop.engines.redis.capabilities import LABELS, build_capabilities
from dbtop.engines.redis.cluster import ClusterNode, SlotMap, parse_cluster_nodes
from dbtop.engines.redis.collect import CONFIG_KEYS, ClientPace, NodePoll, poll_node
from dbtop.engines.redis.commands import SYNTHETIC
from dbtop.engines.redis.connection import CommandError, Link, Target, busy, parse_target
from dbtop.engines.redis.explain import command_doc, doc_only_plan, explain_query
from dbtop.engines.redis.indexes import KeySampler, SampleBudget, SampleStats
from dbtop.engines.redis.info import (
    CommandStat,
    config_map,
    integer,
    parse_info,
)
from dbtop.engines.redis.info import keyspace as db_keyspace
from dbtop.engines.redis.kill import kill_client
from dbtop.engines.redis.search import REFRESH_S, has_search, search_indexes
from dbtop.engines.redis.sessions import parse_client_list, split_session_id
from dbtop.engines.redis.summary import server_summary
from dbtop.errors import DbtopError, NotFoundError, PrivilegeError, RefusedError, UsageError
from dbtop.model import (
    Advice,
    Capabilities,
    Finding,
    IndexStat,
    KeyPattern,
    KillMode,
    KillResult,
    Notice,
    Plan,
    ServerSummary,
    Session,
    Severity,
    Snapshot,
    frozen,
)

__all__ = ["RedisEngine", "SampleBudget"]

#: How often settings, the cluster's node table and the module list are read again.
CONFIG_EVERY_S = 30.0
NODES_EVERY_S = 30.0


class RedisEngine:
    name: ClassVar[str] = "redis"

    def __init__(self, url: str | None, options: ConnectOptions) -> None:
        if not url:
            raise UsageError("give a Redis URL: redis://[user:password@]host:port/db")
        self._target: Target = parse_target(url)
        self._options = options
        self._entry = Link(self._target, options)
        self._links: dict[str, Link] = {self._entry.node: self._entry}
        #: a second connection per node, opened on first use, for the user's actions (kill,
        #: explain, suggest): an action never waits behind a poll
        self._actions: dict[str, Link] = {}
        self._cluster = False
        self._nodes: list[ClusterNode] = []
        self._slots: SlotMap | None = None
        self._nodes_at = 0.0
        self._node_errors: dict[str, str] = {}
        #: the per-refresh sampling budget (benchmarks and tests may change it)
        self.sample_budget = SampleBudget()
        self._samplers: dict[str, KeySampler] = {}
        self._client_pace: dict[str, ClientPace] = {}
        #: databases that had keys at the last poll (explain looks a bare key up in them)
        self._db_sizes_seen: set[int] = set()
        self._config: dict[str, dict[str, str]] = {}
        self._config_at = 0.0
        self._search: set[str] = set()
        self._indexes: list[IndexStat] = []
        self._indexes_at = 0.0
        self._previous_stats: dict[str, dict[str, CommandStat]] = {}
        self._previous_at: float | None = None
        self._last_sessions: list[Session] = []
        self._last_taken: datetime | None = None
        self._last_server: ServerSummary | None = None
        self._version = "?"
        self._capabilities = Capabilities(labels=LABELS, read_only=options.read_only)

    # -- identity -------------------------------------------------------------------------

    @property
    def address(self) -> str:
        if self._cluster:
            return f"{self._target.address} (cluster of {len(self._links)} nodes)"
        return self._target.address

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def is_cluster(self) -> bool:
        return self._cluster

    @property
    def nodes(self) -> list[str]:
        return list(self._links)

    # -- connection -----------------------------------------------------------------------

    async def connect(self) -> None:
        await self._entry.open()
        try:
            info = parse_info(await self._entry.call("INFO", "server"))
        except CommandError as exc:
            if not busy(exc):
                raise
            info = {}  # a busy script: the snapshot will show it
        mode = info.get("redis_mode", "standalone")
        self._version = info.get("redis_version", "?")
        if mode == "sentinel":
            await self.close()
            raise UsageError(
                f"{self._target.address} is a Sentinel, not a data node: point dbtop at the "
                "master it names (SENTINEL get-master-addr-by-name NAME)"
            )
        if mode == "cluster":
            self._cluster = True
            await self._discover()
        await self._read_modules()
        self._capabilities = await self._build_capabilities()

    async def close(self) -> None:
        for link in [*self._links.values(), *self._actions.values()]:
            await link.close()

    async def _action(self, node: str) -> Link:
        """The action connection to ``node`` (opened now if it is not yet)."""
        link = self._actions.get(node)
        if link is None:
            poll = self._links.get(node, self._entry)
            link = Link(poll.target, self._options)
            link.node = poll.node
            await link.open()
            self._actions[node] = link
        return link

    def _own_ids(self, node: str) -> set[int]:
        """dbtop's own client ids on ``node``: never shown as others, never killed."""
        links = (self._links.get(node), self._actions.get(node))
        return {link.client_id for link in links if link is not None and link.client_id}

    async def _discover(self) -> None:
        """Read CLUSTER NODES and hold one link per usable node."""
        reply = await self._entry.call("CLUSTER", "NODES")
        nodes = parse_cluster_nodes(reply, fallback_host=self._target.host)
        self._nodes = nodes
        self._slots = SlotMap(nodes)
        self._nodes_at = time.monotonic()
        wanted: dict[str, ClusterNode] = {n.name: n for n in nodes if n.usable}
        myself = next((n for n in nodes if n.is_myself), None)
        if myself is not None and myself.name != self._entry.node:
            # We reached the entry by another name (localhost, a socket): key it as announced.
            self._links.pop(self._entry.node, None)
            self._entry.node = myself.name
            self._links[myself.name] = self._entry
        for name in list(self._links):
            if name not in wanted and self._links[name] is not self._entry:
                await self._links.pop(name).close()
                self._samplers.pop(name, None)
                self._client_pace.pop(name, None)
                if name in self._actions:
                    await self._actions.pop(name).close()
        opening: list[tuple[str, Link]] = []
        for name, node in wanted.items():
            if name not in self._links:
                link = Link(self._target.at(node.host, node.port), self._options)
                link.node = name
                opening.append((name, link))
        results = await asyncio.gather(
            *(link.open() for _, link in opening), return_exceptions=True
        )
        for (name, link), result in zip(opening, results, strict=True):
            if isinstance(result, BaseException):
                self._node_errors[name] = str(result)
                continue
            self._node_errors.pop(name, None)
            self._links[name] = link

    async def _read_modules(self) -> None:
        self._search.clear()
        for name, link in self._links.items():
            try:
                modules = await link.call("MODULE", "LIST")
            except (CommandError, PrivilegeError):
                continue
            if has_search(modules):
                self._search.add(name)

    async def _build_capabilities(self) -> Capabilities:
        read = await self._read_config(self._entry)
        if read is not None:
            self._config[self._entry.node] = read
            self._config_at = time.monotonic()
        return build_capabilities(
            read,
            version=self._version,
            cluster=self._cluster,
            db=self._target.db,
            read_only=self._options.read_only,
            nodes=self._links,
            node_errors=self._node_errors,
            search=self._search,
        )

    async def _read_config(self, link: Link) -> dict[str, str] | None:
        """The settings dbtop reads; None while a busy script refuses CONFIG GET."""
        replies = await link.pipeline([["CONFIG", "GET", key] for key in CONFIG_KEYS])
        if replies and all(busy(r) for r in replies):
            return None
        config: dict[str, str] = {}
        for reply in replies:
            if not isinstance(reply, Exception):
                config.update(config_map(reply))
        return config

    # -- snapshot -------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        started = time.monotonic()
        now = datetime.now(UTC)
        notices: list[Notice] = []
        if self._cluster and (
            time.monotonic() - self._nodes_at >= NODES_EVERY_S or self._node_errors
        ):
            try:
                await self._discover()
            except DbtopError as exc:
                notices.append(Notice(feature="sessions", message=f"cluster discovery: {exc}"))
        with_config = time.monotonic() - self._config_at >= CONFIG_EVERY_S or len(
            self._config
        ) < len(self._links)
        links = list(self._links.values())
        results = await asyncio.gather(
            *(self._poll_and_sample(link, with_config) for link in links)
        )
        polls = [poll for poll, _ in results]
        if all(poll.error is not None for poll in polls):
            raise polls[0].error  # type: ignore[misc]
        if with_config:
            self._config_at = time.monotonic()
            for poll in polls:
                if poll.config is not None:
                    self._config[poll.node] = poll.config

        rows = Rows()
        interval = None if self._previous_at is None else started - self._previous_at
        sampling: dict[str, Any] = {}
        keyspace: list[KeyPattern] = []
        for poll, stats in results:
            notices.extend(poll.notices)
            if poll.error is not None:
                notices.append(
                    Notice(feature="sessions", message=str(poll.error), severity=Severity.CRITICAL)
                )
                continue
            if poll.busy is not None:
                busy_rows(
                    poll,
                    rows,
                    now=now,
                    cluster=self._cluster,
                    previous=self._last_sessions,
                    previous_at=self._last_taken,
                )
                continue
            client_rows(
                poll, rows, now=now, cluster=self._cluster, self_ids=self._own_ids(poll.node)
            )
            slowlog_rows(poll, rows, cluster=self._cluster, own_name=self._options.application_name)
            sizes = table_rows(poll, rows, cluster=self._cluster)
            latency_rows(poll, rows, cluster=self._cluster)
            sampler = self._samplers.get(poll.node)
            if sampler is not None:
                keyspace.extend(sampler.patterns(sizes, node=poll.node if self._cluster else None))
            if isinstance(stats, SampleStats):
                sampling[poll.node] = {
                    "keys": stats.keys,
                    "scans": stats.scans,
                    "elapsed_ms": round(stats.elapsed_ms, 2),
                    "reservoir": stats.reservoir,
                    "full_passes": stats.full_passes,
                    "budget_keys": self.sample_budget.max_keys,
                    "budget_ms": self.sample_budget.max_ms,
                }
            elif isinstance(stats, DbtopError):
                notices.append(
                    Notice(feature="indexes", message=f"key sampling on {poll.node}: {stats}")
                )
        ok_polls = [p for p in polls if p.ok]
        self._previous_stats = (
            statement_rows(
                polls,
                rows,
                cluster=self._cluster,
                previous=self._previous_stats,
                interval_s=interval,
            )
            or self._previous_stats
        )
        self._previous_at = started
        notices.extend(rows.notices)

        findings: list[Finding] = []
        for poll in ok_polls:
            findings.extend(
                server_findings(
                    poll.info,
                    self._config.get(poll.node, {}),
                    node=poll.node if self._cluster else None,
                )
            )
        findings.extend(client_findings(rows.sessions))
        indexes = await self._search_indexes()

        infos = [(p.node, p.info) for p in ok_polls]
        entry_cluster_info = next((p.cluster_info for p in ok_polls if p.cluster_info), None)
        max_clients = sum(
            integer(self._config.get(p.node, {}).get("maxclients"), 0) or 0 for p in ok_polls
        )
        server = server_summary(
            infos,
            address=self.address,
            db=self._target.db,
            max_clients=max_clients or None,
            cluster=self._cluster,
            cluster_info=entry_cluster_info,
        )
        if ok_polls:
            self._last_sessions = [s for s in rows.sessions if s.kind not in ("script", "pause")]
            self._last_taken = now
            self._last_server = server
        elif self._last_server is not None:
            # Busy everywhere: the last header, marked stale, without counters (no rates).
            server = dataclasses.replace(
                self._last_server,
                counters=frozen(),
                extra=frozen(self._last_server.extra, stale=True),
            )
        extra: dict[str, Any] = {
            "sampling": sampling,
            "latency_events": rows.latency,
            "errorstats": rows.errors,
            "poll_ms": {p.node: round(p.elapsed_ms, 2) for p in polls},
            # how old each node's client list is: CLIENT LIST is fetched less often when it
            # costs the server more than 1% of its time (tens of thousands of clients)
            "clients_age_s": {
                node: round(pace.age_s(time.monotonic()), 3)
                for node, pace in self._client_pace.items()
            },
            "client_list_ms": {
                node: round(pace.cost_ms, 3) for node, pace in self._client_pace.items()
            },
        }
        if self._cluster:
            extra["cluster_nodes"] = [
                {
                    "node": n.name,
                    "id": n.node_id,
                    "role": n.role,
                    "flags": sorted(n.flags),
                    "master_id": n.master_id,
                    "slots": [list(r) for r in n.slots],
                    "link_state": n.link_state,
                    "connected": n.name in self._links,
                }
                for n in self._nodes
            ]
        return Snapshot(
            engine=self.name,
            taken_at=now,
            monotonic=started,
            server=server,
            capabilities=self._capabilities,
            sessions=tuple(rows.sessions),
            statements=tuple(rows.statements),
            slow_events=tuple(sorted(rows.slow_events, key=lambda e: e.at or now, reverse=True)),
            indexes=tuple(indexes),
            tables=tuple(rows.tables),
            keyspace=tuple(keyspace),
            lock_waits=tuple(rows.lock_waits),
            findings=tuple(findings),
            notices=tuple(notices),
            collect_ms=(time.monotonic() - started) * 1000,
            extra=frozen(extra),
        )

    def _node_name(self, link: Link) -> str | None:
        return link.node if self._cluster else None

    def _samples_here(self, link: Link) -> bool:
        """Replicas of a cluster hold copies of their master's keys: sample masters only."""
        if not self._cluster:
            return True
        node = next((n for n in self._nodes if n.name == link.node), None)
        return node is None or node.is_master

    async def _poll_and_sample(
        self, link: Link, with_config: bool
    ) -> tuple[NodePoll, SampleStats | DbtopError | None]:
        pace = self._client_pace.setdefault(link.node, ClientPace())
        now = time.monotonic()
        poll = await poll_node(
            link, with_config=with_config, cluster=self._cluster, with_clients=pace.due(now)
        )
        if poll.ok:
            pace.update(poll, now)
        if not poll.ok or not self._samples_here(link):
            return poll, None
        sizes = {db: figures.keys for db, figures in db_keyspace(poll.info).items()}
        self._db_sizes_seen = set(sizes) if not self._cluster else set()
        sampler = self._samplers.setdefault(link.node, KeySampler(self.sample_budget))
        sampler.budget = self.sample_budget
        try:
            stats = await sampler.step(link, sizes, select=not self._cluster)
        except DbtopError as exc:
            return poll, exc
        return poll, stats

    async def _search_indexes(self) -> list[IndexStat]:
        if not self._search:
            return []
        if time.monotonic() - self._indexes_at < REFRESH_S and self._indexes_at:
            return self._indexes
        found: list[IndexStat] = []
        for name in sorted(self._search):
            link = self._links.get(name)
            if link is None:
                continue
            try:
                found.extend(await search_indexes(link, node=name if self._cluster else None))
            except DbtopError:
                continue
        self._indexes, self._indexes_at = found, time.monotonic()
        return found

    # -- actions --------------------------------------------------------------------------

    async def _link_for_session(self, session_id: str) -> tuple[Link, str]:
        """The action link of the session's node, and the session's id on that node."""
        node, local = split_session_id(session_id.strip())
        if node is None:
            if self._cluster and local not in SYNTHETIC:
                raise NotFoundError(
                    f"in a cluster a client id names its node: NODE/ID, e.g. "
                    f"{self._entry.node}/{local}"
                )
            return await self._action(self._entry.node), local
        if node not in self._links:
            raise NotFoundError(
                f"no node {node} in this {'cluster' if self._cluster else 'server'}"
            )
        return await self._action(node), local

    async def kill(self, session_id: str, mode: KillMode) -> KillResult:
        if self._options.read_only:
            raise RefusedError("dbtop runs read-only: kill is refused")
        link, local = await self._link_for_session(session_id)
        own = self._own_ids(link.node)
        return await kill_client(link, session_id.strip(), local, mode, own_ids=own)

    # -- explain --------------------------------------------------------------------------

    async def _anatomy(self, key: bytes) -> KeyAnatomy:
        node = self._entry.node
        if self._cluster and self._slots is not None:
            owner = self._slots.node_for(key)
            node = owner if owner in self._links else node
        link = await self._action(node)
        return await key_anatomy(
            link, key, db=self._target.db, select=not self._cluster, node=self._node_name(link)
        )

    async def _find_key(self, key: bytes) -> KeyAnatomy:
        """The key in the URL's database, or else in the first other database that has it."""
        anatomy = await self._anatomy(key)
        if anatomy.exists or self._cluster:
            return anatomy
        link = await self._action(self._entry.node)
        seen = self._db_sizes_seen or set(
            db_keyspace(parse_info(await link.call("INFO", "keyspace")))
        )
        dbs = [db for db in sorted(seen) if db != self._target.db]
        if not dbs:
            return anatomy
        replies = await link.pipeline([c for db in dbs for c in (["SELECT", db], ["EXISTS", key])])
        for db, exists in zip(dbs, replies[1::2], strict=True):
            if integer(exists) == 1:
                return await key_anatomy(link, key, db=db, select=True)
        return anatomy

    async def _db_keys(self) -> int | None:
        if self._cluster:
            total = 0
            for name in list(self._links):
                node = next((n for n in self._nodes if n.name == name), None)
                if node is None or node.is_master:
                    link = await self._action(name)
                    total += integer(await link.call("DBSIZE"), 0) or 0
            return total
        link = await self._action(self._entry.node)
        replies = await link.pipeline([["SELECT", self._target.db], ["DBSIZE"]])
        return integer(replies[-1])

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        if analyze:
            raise UsageError(
                "Redis explain never runs the command, so there is no --analyze: the plan "
                "sets the documented complexity against the keys' sizes"
            )
        if session_id is not None:
            return await self._explain_session(session_id)
        if query is None:
            raise UsageError("explain needs a key name or a command line")
        return await explain_query(
            await self._action(self._entry.node),
            query,
            anatomy_of=self._anatomy,
            db=self._target.db,
            db_keys=self._db_keys,
            find_key=self._find_key,
        )

    async def _explain_session(self, session_id: str) -> Plan:
        link, local = await self._link_for_session(session_id)
        if not local.isdigit():
            raise UsageError(f"{session_id} is not a client: explain takes a client id")
        rows = parse_client_list(await link.call("CLIENT", "LIST", "ID", int(local)))
        if not rows:
            raise NotFoundError(f"no client {session_id}")
        cmd = rows[0].get("cmd", "")
        words = [w.encode() for w in cmd.split("|") if w and w != "NULL"]
        doc = await command_doc(link, words) if words else None
        if doc is None:
            raise NotFoundError(f"client {session_id} has not run a command yet")
        return doc_only_plan(
            doc,
            query=doc.name.upper().replace("|", " "),
            note="Redis reports a client's command name, not its arguments: explain the "
            "slow-log entry or the command line to see the keys it touches",
        )

    # -- suggest --------------------------------------------------------------------------

    async def suggest(self) -> Advice:
        started = time.monotonic()
        snapshot = await self.snapshot()
        return await gather_advice(
            snapshot,
            started=started,
            samplers=self._samplers,
            poll_links=self._links,
            action=self._action,
            entry=self._entry.node,
            cluster=self._cluster,
            db=self._target.db,
            policy=self._config.get(self._entry.node, {}).get("maxmemory-policy"),
            stats=self._previous_stats,
        )
