"""One poll of one node: INFO, CLIENT LIST, SLOWLOG and LATENCY in a single round trip.

The raw replies are kept (parsed by the pure modules) so the engine can merge the nodes of a
cluster. While a script or function is busy, Redis refuses all of these with BUSY; the poll
then asks ``FUNCTION STATS`` (one of the few commands allowed) what is running.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dbtop.engines.redis.clients import parse_client_list
from dbtop.engines.redis.info import config_map, integer, parse_info, text
from dbtop.engines.redis.link import CommandError, Link, busy
from dbtop.errors import DbtopError, PrivilegeError
from dbtop.model import Notice, Severity

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
    clients: list[dict[str, str]] = field(default_factory=list)
    slowlog: list[Any] = field(default_factory=list)
    latency: list[Any] = field(default_factory=list)
    cluster_info: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] | None = None
    notices: list[Notice] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.busy is None


def _denied(feature: str, what: str, exc: Exception, node: str) -> Notice:
    return Notice(
        feature=feature,
        message=f"{node}: {what} refused: {' '.join(str(exc).split())}",
        hint="grant it to dbtop's ACL user (docs/engines/redis.md lists the commands)",
    )


async def poll_node(
    link: Link, *, with_config: bool, cluster: bool, latency: bool = True
) -> NodePoll:
    started = time.monotonic()
    poll = NodePoll(node=link.node)
    commands: list[list[Any]] = [
        ["INFO", "all"],
        ["CLIENT", "LIST"],
        ["SLOWLOG", "GET", SLOWLOG_ENTRIES],
    ]
    if latency:
        commands.append(["LATENCY", "LATEST"])
    if cluster:
        commands.append(["CLUSTER", "INFO"])
    config_at = len(commands)
    if with_config:
        commands.extend(["CONFIG", "GET", name] for name in CONFIG_KEYS)
    try:
        replies = await link.pipeline(commands)
    except DbtopError as exc:
        poll.error = exc
        poll.elapsed_ms = (time.monotonic() - started) * 1000
        return poll

    info_reply, clients_reply, slowlog_reply = replies[:3]
    if busy(info_reply):
        try:
            poll.busy = await _busy_script(link)
        except DbtopError as exc:
            poll.error = exc
        poll.elapsed_ms = (time.monotonic() - started) * 1000
        return poll
    if isinstance(info_reply, Exception):
        poll.error = PrivilegeError(f"{link.node}: INFO refused: {info_reply}")
        poll.elapsed_ms = (time.monotonic() - started) * 1000
        return poll
    poll.info = parse_info(info_reply)
    if isinstance(clients_reply, Exception):
        poll.notices.append(_denied("sessions", "CLIENT LIST", clients_reply, link.node))
    else:
        poll.clients = parse_client_list(clients_reply)
    if isinstance(slowlog_reply, Exception):
        poll.notices.append(_denied("statements", "SLOWLOG GET", slowlog_reply, link.node))
    else:
        poll.slowlog = list(slowlog_reply or [])
    position = 3
    if latency:
        latency_reply = replies[position]
        position += 1
        if not isinstance(latency_reply, Exception):
            poll.latency = list(latency_reply or [])
    if cluster:
        cluster_reply = replies[position]
        if not isinstance(cluster_reply, Exception):
            poll.cluster_info = parse_info(cluster_reply)
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
                    feature="suggest",
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
