"""One poll of one node: INFO, CLIENT LIST, SLOWLOG and LATENCY in a single round trip.

The raw replies are kept (parsed by the pure modules) so the engine can merge the nodes of a
cluster. While a script or function is busy, Redis refuses all of these with BUSY; the poll
then asks ``FUNCTION STATS`` (one of the few commands allowed) what is running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbtop.engines.redis.client_list import ClientLine, parse_client_list
from dbtop.engines.redis.connection import CommandError, Link, busy
from dbtop.engines.redis.info import config_map, integer, parse_fields, parse_info, text
from dbtop.errors import DbtopError, PrivilegeError
from dbtop.model import Feature, Notice, Severity

#: Settings read every CONFIG_EVERY_S (they rarely change; CONFIG GET is not free).
CONFIG_KEYS = (
    "maxclients",
    "maxmemory",
    "maxmemory-policy",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "latency-monitor-threshold",
    "latency-tracking",
    "busy-reply-threshold",
    "lua-time-limit",
    "appendonly",
    "save",
    "activedefrag",
    "client-output-buffer-limit",
)
SLOWLOG_ENTRIES = 128
#: INFO latencystats (a percentile computation per command, about half of INFO all's time on
#: the server) is read this often; the polls between ask for every other section and keep
#: the last percentiles, which are cumulative since start-up and move slowly
LATENCYSTATS_EVERY_S = 10.0
#: the first version whose INFO takes several sections
INFO_SECTIONS_FROM = 70000


#: Share of Redis's time that CLIENT LIST may take: at tens of thousands of clients one call
#: costs tens of milliseconds of a single-threaded server, so it is then fetched less often.
CLIENT_LIST_BUDGET = 0.01
#: A server where nothing happened since the last CLIENT LIST (no other client's command,
#: connection or block; INFO says so) has the same client list but for its clocks, when that
#: list showed nobody busy: the last list then stands in with its clocks moved on
#: (ClientLine.aged), it is read again at once when INFO shows anything else, and every
#: QUIET_REREAD_S for what moves without a command (buffer sizes).
QUIET_REREAD_S = 60.0
#: An idle client's Session is kept while its line does not change but for its clocks, and
#: made again (its clocks moved on) this often, as PostgreSQL's idle sessions ...
CLOCK_REFRESH_S = 5.0
#: ... and only this often while the UI hides idle clients (``include_idle`` False): their
#: clocks are not on screen, and each Session made again costs its conversion when the
#: snapshot is kept in the history (thousands of rows)
HIDDEN_CLOCK_REFRESH_S = 60.0
#: what INFO says of other clients' activity (dbtop's own commands are left out of it)
_ACTIVITY = (
    "total_commands_processed",
    "total_connections_received",
    "connected_clients",
    "blocked_clients",
)


def activity(info: dict[str, str]) -> tuple[str | None, ...]:
    return tuple(info.get(name) for name in _ACTIVITY)


def shows_busy(rows: list[ClientLine], own_ids: set[int]) -> bool:
    """A client (not dbtop's) that the Clients pane shows with clocks that move: one that
    ran a command this second, is blocked, in MULTI, a replica, master or monitor."""
    for row in rows:
        flags = row.get("flags")
        flags = flags if isinstance(flags, str) else ""
        if row.number("idle") == 0 or any(f in flags for f in "bxMSO"):
            client_id = row.get("id")
            if not (isinstance(client_id, str) and client_id.isdigit()) or (
                int(client_id) not in own_ids
            ):
                return True
    return False


@dataclass(slots=True)
class KeptSession:
    """An idle client's Session, and the line it was made of (as read: a kept list's rows
    are these very objects)."""

    row: ClientLine
    session: Any
    own: frozenset[int]
    made_at: float
    #: dbtop's own connection: kept only while the very same line stands in
    mine: bool = False


@dataclass(slots=True)
class KeptList:
    """The Sessions made of one kept list when every one of them was a kept Session: the
    next poll of the same list takes them as they are, until the oldest is due again."""

    rows: list[ClientLine] | None = None
    own: frozenset[int] = frozenset()
    sessions: list[Any] = field(default_factory=list)
    oldest: float = float("-inf")


@dataclass(slots=True)
class ClientPace:
    """When to fetch CLIENT LIST again, from what it cost the server last time."""

    fetched_at: float = float("-inf")
    rows: list[ClientLine] = field(default_factory=list)
    cost_ms: float = 0.0
    usec: int | None = None
    calls: int | None = None
    #: INFO's activity figures when the list was read, and whether it showed anyone busy
    seen: tuple[str | None, ...] | None = None
    busy: bool = True
    #: the Sessions of idle clients by client id (see assemble.client_rows), kept across
    #: lists while the client's line does not change but for its clocks
    built: dict[str, KeptSession] = field(default_factory=dict)
    kept_list: KeptList = field(default_factory=KeptList)
    run_id: str | None = None

    def due(self, now: float) -> bool:
        return now - self.fetched_at >= self.cost_ms / 1000 / CLIENT_LIST_BUDGET

    def may_wait(self, now: float) -> bool:
        """Whether this poll's INFO may decide if CLIENT LIST is read (QUIET_REREAD_S)."""
        return self.seen is not None and not self.busy and now - self.fetched_at < QUIET_REREAD_S

    def wanted(self, info: dict[str, str], now: float) -> bool:
        """After INFO: the list changed (something happened), and the budget allows."""
        return activity(info) != self.seen and self.due(now)

    def update(self, poll: NodePoll, now: float, own_ids: set[int] | None = None) -> None:
        """Learn the server's cost per CLIENT LIST (INFO commandstats) and keep the rows."""
        # dbtop's own CLIENT LIST calls are what is measured: the raw counters, not the
        # ones with dbtop's traffic left out
        stats = parse_fields((poll.raw_info or poll.info).get("cmdstat_client|list", ""))
        usec, calls = integer(stats.get("usec")), integer(stats.get("calls"))
        before_usec, before_calls = self.usec, self.calls
        if (
            usec is not None
            and calls is not None
            and before_usec is not None
            and before_calls is not None
            and calls > before_calls
            and usec >= before_usec
        ):
            self.cost_ms = (usec - before_usec) / (calls - before_calls) / 1000
        self.usec, self.calls = usec, calls
        if poll.clients_fetched:
            self.fetched_at = now
            self.rows = poll.clients
            self.seen = activity(poll.info)
            self.busy = shows_busy(poll.clients, own_ids or set())
            run_id = poll.info.get("run_id")
            if run_id != self.run_id:
                self.built = {}  # a restarted server numbers its clients from 1 again
            self.kept_list = KeptList()
            self.run_id = run_id
        else:
            poll.clients = self.rows
            poll.clients_shift_s = int(self.age_s(now))
        poll.built = self.built
        poll.kept_list = self.kept_list

    def age_s(self, now: float) -> float:
        return max(now - self.fetched_at, 0.0)


@dataclass(slots=True)
class InfoPace:
    """Which INFO sections a poll asks for: all of them every LATENCYSTATS_EVERY_S, and in
    between the sections that the last full INFO had but latencystats."""

    #: whether the server takes several sections in one INFO (Redis 7+)
    sections_ok: bool = False
    #: the sections of the last full INFO, by the names INFO takes
    sections: tuple[str, ...] = ()
    full_at: float = float("-inf")
    #: the latency_percentiles_usec_* lines of the last full INFO
    latency: dict[str, str] = field(default_factory=dict)

    def wanted(self, now: float) -> list[str]:
        if not self.sections_ok or not self.sections or now - self.full_at >= LATENCYSTATS_EVERY_S:
            return ["INFO", "all"]
        return ["INFO", *self.sections]

    def learn(self, command: list[Any], reply: object, info: dict[str, str], now: float) -> None:
        """After the reply: a full one teaches the sections and the percentiles; a partial
        one gets the last percentiles back (the same names, as if INFO all had been asked)."""
        if command[1:] == ["all"]:
            self.full_at = now
            self.sections = tuple(name for name in section_names(reply) if name != "latencystats")
            self.latency = {k: v for k, v in info.items() if k.startswith(LATENCY_PREFIX)}
        else:
            info.update(self.latency)

    def age_s(self, now: float) -> float:
        return max(now - self.full_at, 0.0)


LATENCY_PREFIX = "latency_percentiles_usec_"


def section_names(reply: object) -> list[str]:
    """``# Server`` … ``# Keyspace`` headers of an INFO reply, as INFO takes them."""
    return [
        line[1:].strip().lower()
        for line in text(reply).splitlines()
        if line.startswith("#") and line[1:].strip()
    ]


@dataclass(slots=True)
class BusyScript:
    function: str | None
    command: str | None
    duration_s: float | None


@dataclass(slots=True)
class NodePoll:
    """What one node said this time (or why it said nothing)."""

    node: str
    error: DbtopError | None = None
    busy: BusyScript | None = None
    info: dict[str, str] = field(default_factory=dict)
    #: INFO as the server gave it; ``info`` leaves dbtop's own commands out (owntraffic.py)
    raw_info: dict[str, str] = field(default_factory=dict)
    clients: list[ClientLine] = field(default_factory=list)
    #: False when CLIENT LIST was left out of this poll and ``clients`` is the last list
    clients_fetched: bool = True
    #: how old that last list is, in whole seconds (its clocks are moved on by as much)
    clients_shift_s: int = 0
    #: idle clients' Sessions kept from earlier polls, by client id (assemble.client_rows)
    built: dict[str, KeptSession] = field(default_factory=dict)
    kept_list: KeptList | None = None
    slowlog: list[Any] = field(default_factory=list)
    latency: list[Any] = field(default_factory=list)
    cluster_info: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] | None = None
    notices: list[Notice] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.busy is None


def stamp_identity(clients: list[ClientLine], info: dict[str, str]) -> None:
    """Each client's creation time on the server's clock (INFO's ``server_time_usec``, read
    in the same round trip as CLIENT LIST, minus the client's ``age``) and the server run
    it belongs to: with the client id, what tells a kill it still has the same client."""
    run_id = info.get("run_id")
    server_us = info.get("server_time_usec")
    for row in clients:
        if run_id:
            row.add("run_id", run_id)
        if server_us and server_us.isdigit():
            row.add("server_time_usec", int(server_us))


def _denied(feature: Feature, what: str, exc: Exception, node: str) -> Notice:
    return Notice(
        feature=feature,
        message=f"{node}: {what} refused: {' '.join(str(exc).split())}",
        hint="grant it to dbtop's ACL user (docs/engines/redis.md lists the commands)",
    )


async def poll_node(
    link: Link,
    *,
    with_config: bool,
    cluster: bool,
    with_clients: bool = True,
    latency: bool = True,
    clients_if: Callable[[dict[str, str]], bool] | None = None,
    info_pace: InfoPace | None = None,
) -> NodePoll:
    """One round trip; ``with_clients`` False leaves CLIENT LIST out (see ClientPace),
    unless ``clients_if(info)`` then asks for it: a second round trip. ``info_pace`` leaves
    latencystats out of most INFOs (see InfoPace)."""
    started = time.monotonic()
    poll = NodePoll(node=link.node, clients_fetched=with_clients)
    info_command = info_pace.wanted(started) if info_pace is not None else ["INFO", "all"]
    wanted: list[tuple[str, list[Any]]] = [
        ("info", info_command),
        ("slowlog", ["SLOWLOG", "GET", SLOWLOG_ENTRIES]),
    ]
    if with_clients:
        wanted.append(("clients", ["CLIENT", "LIST"]))
    if latency:
        wanted.append(("latency", ["LATENCY", "LATEST"]))
    if cluster:
        wanted.append(("cluster", ["CLUSTER", "INFO"]))
    config_at = len(wanted)
    commands = [command for _, command in wanted]
    if with_config:
        commands.extend(["CONFIG", "GET", name] for name in CONFIG_KEYS)
    try:
        replies = await link.pipeline(commands)
    except DbtopError as exc:
        poll.error = exc
        poll.elapsed_ms = (time.monotonic() - started) * 1000
        return poll

    reply = {name: replies[i] for i, (name, _) in enumerate(wanted)}
    if busy(reply["info"]):
        try:
            poll.busy = await _busy_script(link)
        except DbtopError as exc:
            poll.error = exc
        poll.elapsed_ms = (time.monotonic() - started) * 1000
        return poll
    if isinstance(reply["info"], Exception):
        poll.error = PrivilegeError(f"{link.node}: INFO refused: {reply['info']}")
        poll.elapsed_ms = (time.monotonic() - started) * 1000
        return poll
    poll.raw_info = parse_info(reply["info"])
    if info_pace is not None:
        info_pace.learn(info_command, reply["info"], poll.raw_info, started)
    poll.info = link.ledger.exclude(poll.raw_info)
    if "clients" not in reply and clients_if is not None and clients_if(poll.info):
        try:
            (reply["clients"],) = await link.pipeline([["CLIENT", "LIST"]])
        except DbtopError as exc:
            poll.error = exc
            poll.elapsed_ms = (time.monotonic() - started) * 1000
            return poll
        poll.clients_fetched = True
    if "clients" in reply:
        if isinstance(reply["clients"], Exception):
            poll.notices.append(
                _denied(Feature.SESSIONS, "CLIENT LIST", reply["clients"], link.node)
            )
        else:
            poll.clients = parse_client_list(reply["clients"])
            stamp_identity(poll.clients, poll.info)
    if isinstance(reply["slowlog"], Exception):
        poll.notices.append(_denied(Feature.STATEMENTS, "SLOWLOG GET", reply["slowlog"], link.node))
    else:
        poll.slowlog = list(reply["slowlog"] or [])
    if "latency" in reply and not isinstance(reply["latency"], Exception):
        poll.latency = list(reply["latency"] or [])
    if "cluster" in reply and not isinstance(reply["cluster"], Exception):
        poll.cluster_info = parse_info(reply["cluster"])
    if with_config:
        config: dict[str, str] = {}
        denied: Exception | None = None
        for reply in replies[config_at:]:
            if isinstance(reply, Exception):
                denied = denied or reply
                continue
            config.update(config_map(reply))
        poll.config = config
        if denied is not None and not config:
            poll.notices.append(
                Notice(
                    feature=Feature.SUGGEST,
                    message=f"{link.node}: CONFIG GET refused ({denied}): limits and "
                    "policies are unknown",
                    hint="grant +config|get to dbtop's user",
                    severity=Severity.INFO,
                )
            )
    poll.elapsed_ms = (time.monotonic() - started) * 1000
    return poll


async def _busy_script(link: Link) -> BusyScript:
    """What runs while the server answers BUSY: FUNCTION STATS knows about functions only."""
    try:
        reply = await link.call("FUNCTION", "STATS")
    except CommandError:  # BUSY again: an EVAL script, which Redis does not describe
        return BusyScript(function=None, command=None, duration_s=None)
    fields = _pairs(reply)
    running = fields.get("running_script")
    if not running:
        return BusyScript(function=None, command=None, duration_s=None)
    script = _pairs(running)
    command = script.get("command")
    args = [text(a) for a in command] if isinstance(command, list) else []
    duration = integer(script.get("duration_ms"))
    return BusyScript(
        function=text(script.get("name")) or None,
        command=" ".join(args) or None,
        duration_s=None if duration is None else duration / 1000,
    )


def _pairs(reply: object) -> dict[str, Any]:
    if not isinstance(reply, list):
        return {}
    return {text(k): v for k, v in zip(reply[0::2], reply[1::2], strict=False)}


async def read_config(link: Link) -> dict[str, str] | None:
    """The settings dbtop reads; None while a busy script refuses CONFIG GET."""
    replies = await link.pipeline([["CONFIG", "GET", key] for key in CONFIG_KEYS])
    if replies and all(busy(r) for r in replies):
        return None
    config: dict[str, str] = {}
    for reply in replies:
        if not isinstance(reply, Exception):
            config.update(config_map(reply))
    return config
