"""The Redis engine: clients, slow log, keyspace and blocked clients, standalone or cluster.

Panes are named for Redis (Clients, Slow log, Keyspace, Blocked); docs/engines/redis.md lists
what each shows and the ``extra`` keys of the JSON. One connection per node, raw replies,
every command O(1) or bounded (INFO, CLIENT LIST, SLOWLOG GET, a budgeted SCAN sample).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from operator import attrgetter
from typing import Any, ClassVar

from dbtop.engines.base import ConnectOptions, EngineBase
from dbtop.engines.redis.advice import gather_advice
from dbtop.engines.redis.anatomy import KeyAnatomy, key_anatomy
from dbtop.engines.redis.antipatterns import ClientFindings, poll_findings
from dbtop.engines.redis.assemble import Rows, busy_rows, node_rows, snapshot_extra, statement_rows
from dbtop.engines.redis.capabilities import LABELS, declare_capabilities
from dbtop.engines.redis.cluster import ClusterNode, SlotMap, nodes_extra, parse_cluster_nodes
from dbtop.engines.redis.collect import (
    CLOCK_REFRESH_S,
    HIDDEN_CLOCK_REFRESH_S,
    INFO_SECTIONS_FROM,
    ClientPace,
    InfoPace,
    NodePoll,
    poll_node,
    read_config,
)
from dbtop.engines.redis.commands import synthetic_kind
from dbtop.engines.redis.connection import CommandError, Link, Target, busy, parse_target
from dbtop.engines.redis.explain import (
    count_keys,
    explain_client,
    explain_query,
    find_in_databases,
)
from dbtop.engines.redis.health import HealthSource
from dbtop.engines.redis.indexes import LIVE_BUDGET, KeySampler, SampleStats
from dbtop.engines.redis.info import CommandStat, integer, parse_info, version_number
from dbtop.engines.redis.info import keyspace as db_keyspace
from dbtop.engines.redis.kill import kill_client
from dbtop.engines.redis.progress import findings as progress_findings
from dbtop.engines.redis.reuse import KeptRows
from dbtop.engines.redis.search import REFRESH_S, all_search_indexes, search_nodes
from dbtop.engines.redis.sessions import split_session_id
from dbtop.engines.redis.summary import server_summary, stale_summary
from dbtop.engines.refresh import Every
from dbtop.engines.sections import Sections
from dbtop.errors import DbtopError, NotFoundError, UsageError
from dbtop.model import (
    Advice,
    Capabilities,
    Feature,
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

#: How often settings, the cluster's node table and the module list are read again.
CONFIG_EVERY_S = 30.0
NODES_EVERY_S = 30.0


#: a row's id, the key its previous equal row is found by (reuse.KeptRows)
_id = attrgetter("id")


def _never_lost(exc: BaseException, what: str) -> BaseException | None:
    """No one section ends a Redis poll: a node that fails is that node's notice, and the
    poll fails only when no node answers (``_poll_nodes``)."""
    return None


class RedisEngine(EngineBase):
    name: ClassVar[str] = "redis"

    def __init__(self, url: str | None, options: ConnectOptions | None = None) -> None:
        if not url:
            raise UsageError("give a Redis URL: redis://[user:password@]host:port/db")
        self._target: Target = parse_target(url)
        super().__init__(options, self._target.address)
        self._capabilities = Capabilities(labels=LABELS, read_only=self.options.read_only)
        self._entry = Link(self._target, self.options)
        self._links: dict[str, Link] = {self._entry.node: self._entry}
        #: a second connection per node, opened on first use, for the user's actions (kill,
        #: explain, suggest): an action never waits behind a poll
        self._actions: dict[str, Link] = {}
        self._cluster = False
        self._nodes: Every[list[ClusterNode]] = Every(NODES_EVERY_S, [])
        self._slots: SlotMap | None = None
        self._node_errors: dict[str, str] = {}
        #: the per-refresh sampling budget (benchmarks and tests may change it)
        self.sample_budget = LIVE_BUDGET
        self._samplers: dict[str, KeySampler] = {}
        self._client_pace: dict[str, ClientPace] = {}
        self._info_pace: dict[str, InfoPace] = {}
        #: databases that had keys at the last poll (explain looks a bare key up in them)
        self._db_sizes_seen: set[int] = set()
        self._config: dict[str, dict[str, str]] = {}
        #: when the settings were last read (they come in the poll's round trip)
        self._config_read: Every[None] = Every(CONFIG_EVERY_S, None)
        self._search: set[str] = set()
        self._indexes: Every[list[IndexStat]] = Every(REFRESH_S, [])
        self._previous_stats: dict[str, dict[str, CommandStat]] = {}
        self._previous_at: float | None = None
        #: the last answered poll's clients (busy_rows leaves its scripts and pauses out)
        self._last_sessions: Sequence[Session] = ()
        self._last_taken: datetime | None = None
        self._last_server: ServerSummary | None = None
        self._health = HealthSource()
        self._client_findings = ClientFindings()
        self._kept = KeptRows()
        self._version = "?"

    # -- identity -------------------------------------------------------------------------

    @property
    def address(self) -> str:
        if self._cluster:
            return f"{self._target.address} (cluster of {len(self._links)} nodes)"
        return self._target.address

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
            await self._nodes.get(self._discover, period_s=0)
        self._search = await search_nodes(self._links)
        read = await read_config(self._entry)
        if read is not None:
            self._config[self._entry.node] = read
            self._config_read.set(None)
        declare_capabilities(
            self,
            read,
            version=self._version,
            cluster=self._cluster,
            db=self._target.db,
            nodes=self._links,
            node_errors=self._node_errors,
            search=self._search,
        )

    async def close(self) -> None:
        for link in [*self._links.values(), *self._actions.values()]:
            await link.close()

    async def _action(self, node: str) -> Link:
        """The action connection to ``node`` (opened now if it is not yet)."""
        link = self._actions.get(node)
        if link is None:
            poll = self._links.get(node, self._entry)
            link = Link(poll.target, self.options)
            link.node = poll.node
            await link.open()
            self._actions[node] = link
        return link

    def _own_ids(self, node: str) -> set[int]:
        """dbtop's own client ids on ``node``: never shown as others, never killed."""
        links = (self._links.get(node), self._actions.get(node))
        return {link.client_id for link in links if link is not None and link.client_id}

    async def _discover(self) -> list[ClusterNode]:
        """Read CLUSTER NODES and hold one link per usable node."""
        reply = await self._entry.call("CLUSTER", "NODES")
        nodes = parse_cluster_nodes(reply, fallback_host=self._target.host)
        self._slots = SlotMap(nodes)
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
                self._info_pace.pop(name, None)
                if name in self._actions:
                    await self._actions.pop(name).close()
        opening: list[tuple[str, Link]] = []
        for name, node in wanted.items():
            if name not in self._links:
                link = Link(self._target.at(node.host, node.port), self.options)
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
        return nodes

    # -- snapshot -------------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        started = time.monotonic()
        now = datetime.now(UTC)
        sections = Sections(recoverable=(DbtopError,), lost=_never_lost)
        if self._cluster:
            await sections.read(
                Feature.SESSIONS, "the cluster's nodes", self._refresh_nodes(), None
            )
        results = await self._poll_nodes(sections)
        polls = [poll for poll, _ in results]
        rows = Rows()
        keyspace, sampling = self._node_rows(results, rows, sections, now=now)
        self._statements(polls, rows, started)
        sections.notices.extend(rows.notices)
        ok_polls = [p for p in polls if p.ok]
        infos = [
            (p.node if self._cluster else None, p.info, self._config.get(p.node, {}))
            for p in ok_polls
        ]
        findings = poll_findings(infos, rows.sessions, self._client_findings)
        findings += self._health.findings(infos, keyspace, started) + progress_findings(infos)
        search = partial(all_search_indexes, self._links, self._search, cluster=self._cluster)
        indexes = await sections.read(
            Feature.INDEXES, "the search indexes", self._indexes.get(search), []
        )
        server = self._server(ok_polls, rows, now)
        kept = self._kept
        slow = sorted(rows.slow_events, key=lambda e: e.at or now, reverse=True)
        return Snapshot(
            engine=self.name,
            taken_at=now,
            monotonic=started,
            server=server,
            capabilities=self._capabilities,
            sessions=kept.rows("sessions", rows.sessions),
            statements=kept.rows("statements", kept.same_rows("statements", rows.statements, _id)),
            slow_events=kept.rows("slow_events", kept.same_rows("slow_events", slow, _id)),
            indexes=kept.rows("indexes", indexes, equal=True),
            tables=kept.rows("tables", rows.tables, equal=True),
            keyspace=kept.rows("keyspace", keyspace),
            lock_waits=kept.rows("lock_waits", rows.lock_waits, equal=True),
            findings=kept.rows("findings", findings, equal=True),
            notices=kept.rows("notices", sections.notices, equal=True),
            collect_ms=(time.monotonic() - started) * 1000,
            extra=frozen(
                snapshot_extra(
                    polls,
                    rows,
                    sampling,
                    paces=self._client_pace,
                    info_paces=self._info_pace,
                    cluster_nodes=nodes_extra(self._nodes.value, self._links)
                    if self._cluster
                    else None,
                )
            ),
        )

    async def _refresh_nodes(self) -> None:
        """CLUSTER NODES again every NODES_EVERY_S, or at once while a node is unreachable."""
        await self._nodes.get(self._discover, period_s=0 if self._node_errors else None)

    async def _poll_nodes(self, sections: Sections) -> list[tuple[NodePoll, SampleStats | None]]:
        """Every node at once; the poll fails only when no node answers."""
        with_config = self._config_read.due() or len(self._config) < len(self._links)
        results = await asyncio.gather(
            *(self._poll_and_sample(link, with_config, sections) for link in self._links.values())
        )
        polls = [poll for poll, _ in results]
        first = polls[0].error
        if first is not None and all(poll.error is not None for poll in polls):
            raise first
        if with_config:
            self._config_read.set(None)
            for poll in polls:
                if poll.config is not None:
                    self._config[poll.node] = poll.config
        return results

    def _node_rows(
        self,
        results: list[tuple[NodePoll, SampleStats | None]],
        rows: Rows,
        sections: Sections,
        *,
        now: datetime,
    ) -> tuple[list[KeyPattern], dict[str, Any]]:
        """Each node's clients, slow log, databases and latency into ``rows``; the keyspace
        patterns and what the sampling cost."""
        sampling: dict[str, Any] = {}
        keyspace: list[KeyPattern] = []
        for poll, stats in results:
            sections.notices.extend(poll.notices)
            if poll.error is not None:
                sections.notices.append(
                    Notice(Feature.SESSIONS, str(poll.error), severity=Severity.CRITICAL)
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
            sizes = node_rows(
                poll,
                rows,
                now=now,
                cluster=self._cluster,
                self_ids=self._own_ids(poll.node),
                own_name=self.options.application_name,
                refresh_s=CLOCK_REFRESH_S if self.include_idle else HIDDEN_CLOCK_REFRESH_S,
            )
            sampler = self._samplers.get(poll.node)
            if sampler is not None:
                keyspace.extend(sampler.patterns(sizes, node=poll.node if self._cluster else None))
            if stats is not None:
                sampling[poll.node] = stats.as_extra(self.sample_budget)
        return keyspace, sampling

    def _statements(self, polls: list[NodePoll], rows: Rows, started: float) -> None:
        """The command statistics as rates since the last poll (kept for the next)."""
        interval = None if self._previous_at is None else started - self._previous_at
        stats = statement_rows(
            polls, rows, cluster=self._cluster, previous=self._previous_stats, interval_s=interval
        )
        self._previous_stats, self._previous_at = stats or self._previous_stats, started

    def _server(self, ok_polls: list[NodePoll], rows: Rows, now: datetime) -> ServerSummary:
        max_clients = sum(
            integer(self._config.get(p.node, {}).get("maxclients"), 0) or 0 for p in ok_polls
        )
        server = server_summary(
            [(p.node, p.info) for p in ok_polls],
            address=self.address,
            db=self._target.db,
            max_clients=max_clients or None,
            cluster=self._cluster,
            cluster_info=next((p.cluster_info for p in ok_polls if p.cluster_info), None),
        )
        if ok_polls:
            self._last_sessions = rows.sessions
            self._last_taken = now
            self._last_server = server
        elif self._last_server is not None:
            server = stale_summary(self._last_server)
        return server

    def _node_name(self, link: Link) -> str | None:
        return link.node if self._cluster else None

    def _is_master(self, name: str) -> bool:
        node = next((n for n in self._nodes.value if n.name == name), None)
        return node is None or node.is_master

    async def _poll_and_sample(
        self, link: Link, with_config: bool, sections: Sections
    ) -> tuple[NodePoll, SampleStats | None]:
        pace = self._client_pace.setdefault(link.node, ClientPace())
        info_pace = self._info_pace.get(link.node)
        if info_pace is None:
            sections_ok = (version_number(self._version) or 0) >= INFO_SECTIONS_FROM
            info_pace = self._info_pace[link.node] = InfoPace(sections_ok=sections_ok)
        now = time.monotonic()
        wait = pace.may_wait(now)
        poll = await poll_node(
            link,
            with_config=with_config,
            cluster=self._cluster,
            with_clients=pace.due(now) and not wait,
            clients_if=(lambda info: pace.wanted(info, now)) if wait else None,
            info_pace=info_pace,
        )
        if poll.ok:
            pace.update(poll, now, self._own_ids(link.node))
        # Replicas of a cluster hold copies of their master's keys: sample masters only.
        if not poll.ok or (self._cluster and not self._is_master(link.node)):
            return poll, None
        sizes = {db: figures.keys for db, figures in db_keyspace(poll.info).items()}
        self._db_sizes_seen = set(sizes) if not self._cluster else set()
        sampler = self._samplers.setdefault(link.node, KeySampler(self.sample_budget))
        sampler.budget = self.sample_budget
        own_calls = link.ledger.at_info.by_name if link.ledger.at_info is not None else {}
        sampler.cost.learn(poll.raw_info, own_calls)
        budget = sampler.cost.budget(self.sample_budget, time.monotonic())
        if budget is None:
            return poll, sampler.resting()
        stats = await sections.read(
            Feature.INDEXES,
            f"the key sample on {link.node}",
            sampler.step(link, sizes, select=not self._cluster, budget=budget),
            None,
        )
        if stats is not None:
            sampler.cost.keys += stats.keys
        return poll, stats

    # -- actions --------------------------------------------------------------------------

    async def _link_for_session(self, session_id: str) -> tuple[Link, str]:
        """The action link of the session's node, and the session's id on that node."""
        node, local = split_session_id(session_id.strip())
        if node is None:
            if self._cluster and synthetic_kind(local) is None:
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

    async def kill(
        self, session_id: str, mode: KillMode, *, expected: Session | None = None
    ) -> KillResult:
        self.refuse_read_only()
        target = session_id.strip()
        link, local = await self._link_for_session(target)
        node = target[: len(target) - len(local)]  # "NODE/" in a cluster, else ""
        self.refuse_own(target, {f"{node}{client_id}" for client_id in self._own_ids(link.node)})
        return await kill_client(link, target, local, mode, expected)

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
        found = await find_in_databases(link, key, db=self._target.db, seen=self._db_sizes_seen)
        return found or anatomy

    async def _db_keys(self) -> int | None:
        if self._cluster:
            masters = [await self._action(n) for n in list(self._links) if self._is_master(n)]
            return await count_keys(masters, db=None)
        return await count_keys([await self._action(self._entry.node)], db=self._target.db)

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
            link, local = await self._link_for_session(session_id)
            return await explain_client(link, session_id, local)
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
