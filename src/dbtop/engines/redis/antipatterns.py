"""Redis anti-patterns as Findings, each with its evidence and what to do. Pure.

Server-level findings (persistence, memory, eviction policy, connection limits, replication)
come from INFO and CONFIG on every refresh; key-level ones (big keys, patterns without TTL,
O(N) commands on big keys in the slow log) from the key sample and are gathered by
``suggest``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence

from dbtop.engines.redis.anatomy import KeyAnatomy, human_bytes
from dbtop.engines.redis.client_list import ClientLine
from dbtop.engines.redis.commands import quote_arg
from dbtop.engines.redis.complexity import ALTERNATIVES, LARGE, estimate_work
from dbtop.engines.redis.info import CommandStat, integer, keyspace, number
from dbtop.model import Finding, KeyPattern, Session, Severity, SlowEvent, frozen

BIG_KEY_BYTES = 10 * 1024 * 1024
BIG_KEY_ELEMENTS = 10_000
FRAGMENTATION_RATIO = 1.5
FRAGMENTATION_MIN_BYTES = 100 * 1024 * 1024
NO_TTL_MIN_KEYS = 1000
OUTPUT_BUFFER_BYTES = 32 * 1024 * 1024
#: a fork (BGSAVE, BGREWRITEAOF, full sync) blocks the server this long or more: worth saying
SLOW_FORK_USEC = 500_000
#: patterns whose names say they are transient: they should expire
TRANSIENT_WORDS = ("cache", "session", "sess", "tmp", "temp", "token", "otp", "lock", "rate")


def _at(node: str | None) -> str:
    return f" on {node}" if node else ""


def server_findings(
    info: Mapping[str, str], config: Mapping[str, str], *, node: str | None = None
) -> list[Finding]:
    found: list[Finding] = []
    where = _at(node)
    obj = node or "server"

    if info.get("rdb_last_bgsave_status", "ok") != "ok":
        found.append(
            Finding(
                kind="persistence_failed",
                object=obj,
                message=f"the last RDB snapshot failed{where}: with stop-writes-on-bgsave-error "
                "(the default) Redis refuses writes until a save succeeds",
                severity=Severity.CRITICAL,
                statement="check the server log and free disk space, then BGSAVE",
            )
        )
    for field, what in (
        ("aof_last_write_status", "the last AOF write"),
        ("aof_last_bgrewrite_status", "the last AOF rewrite"),
    ):
        if info.get(field, "ok") != "ok":
            found.append(
                Finding(
                    kind="persistence_failed",
                    object=obj,
                    message=f"{what} failed{where} ({field}:{info[field]})",
                    severity=Severity.CRITICAL,
                    statement="check the server log and free disk space, then BGREWRITEAOF",
                )
            )

    used = integer(info.get("used_memory"))
    rss = integer(info.get("used_memory_rss"))
    ratio = number(info.get("mem_fragmentation_ratio"))
    if ratio is not None and used and rss:
        if ratio >= FRAGMENTATION_RATIO and rss - used >= FRAGMENTATION_MIN_BYTES:
            defrag = config.get("activedefrag", "no")
            found.append(
                Finding(
                    kind="fragmentation",
                    object=obj,
                    message=f"memory fragmentation {ratio:.2f}{where}: the process holds "
                    f"{human_bytes(rss)} for {human_bytes(used)} of data",
                    statement="CONFIG SET activedefrag yes"
                    if defrag != "yes"
                    else "active defrag is on: give it time, or restart the replica first",
                    warning="active defragmentation uses CPU (jemalloc builds only)",
                )
            )
        elif ratio < 1.0 and used >= FRAGMENTATION_MIN_BYTES:
            found.append(
                Finding(
                    kind="swapping",
                    object=obj,
                    message=f"fragmentation ratio {ratio:.2f}{where}: part of Redis's memory is "
                    "swapped out, every access to it waits on the disk",
                    severity=Severity.CRITICAL,
                    statement="give the host more memory, or lower maxmemory; keep Redis "
                    "out of swap",
                )
            )

    maxmemory = integer(config.get("maxmemory") or info.get("maxmemory"))
    policy = config.get("maxmemory-policy") or info.get("maxmemory_policy")
    if maxmemory and used is not None and policy:
        share = used / maxmemory
        if policy == "noeviction" and share >= 0.75:
            found.append(
                Finding(
                    kind="eviction_refuses_writes",
                    object=obj,
                    message=f"{share:.0%} of maxmemory used{where} with maxmemory-policy "
                    "noeviction: at 100% every write fails with OOM",
                    severity=Severity.CRITICAL if share >= 0.9 else Severity.WARNING,
                    statement="raise maxmemory, delete or expire data, or for a cache: "
                    "CONFIG SET maxmemory-policy allkeys-lru",
                )
            )
        dbs = keyspace(dict(info)).values()
        keys = sum(d.keys for d in dbs)
        expires = sum(d.expires for d in dbs)
        if policy.startswith("volatile-") and keys and expires / keys < 0.1 and share >= 0.75:
            found.append(
                Finding(
                    kind="eviction_cannot_free",
                    object=obj,
                    message=f"maxmemory-policy {policy} evicts only keys with a TTL, but only "
                    f"{expires:,} of {keys:,} keys have one{where}; memory is {share:.0%} full",
                    severity=Severity.WARNING,
                    statement="set TTLs on transient keys, or CONFIG SET maxmemory-policy "
                    "allkeys-lru",
                )
            )
    system = integer(info.get("total_system_memory"))
    if not maxmemory and used and system and used >= 0.75 * system:
        found.append(
            Finding(
                kind="no_memory_limit",
                object=obj,
                message=f"no maxmemory set{where} and Redis already uses {used / system:.0%} of "
                "the host's memory: past it, the OS kills Redis (or it swaps)",
                severity=Severity.CRITICAL if used >= 0.9 * system else Severity.WARNING,
                statement="CONFIG SET maxmemory <bytes> (leave room for fork copy-on-write) and "
                "a maxmemory-policy",
            )
        )
    fork_usec = integer(info.get("latest_fork_usec"), 0) or 0
    if fork_usec >= SLOW_FORK_USEC:
        found.append(
            Finding(
                kind="slow_fork",
                object=obj,
                message=f"the last fork for a snapshot or AOF rewrite stopped the server for "
                f"{fork_usec / 1000:,.0f} ms{where}",
                severity=Severity.WARNING,
                statement="disable transparent huge pages on the host, make the data set smaller, "
                "or move persistence to a replica",
            )
        )
    evicted = integer(info.get("evicted_keys"), 0) or 0
    if evicted:
        found.append(
            Finding(
                kind="evictions",
                object=obj,
                message=f"{evicted:,} keys evicted since start-up{where}: memory is full",
                severity=Severity.INFO,
                statement="expected for a cache; otherwise raise maxmemory",
            )
        )

    rejected = integer(info.get("rejected_connections"), 0) or 0
    if rejected:
        found.append(
            Finding(
                kind="rejected_connections",
                object=obj,
                message=f"{rejected:,} connections refused since start-up{where}: maxclients "
                f"({config.get('maxclients', '?')}) was reached",
                statement="use a connection pool in the clients, or raise maxclients "
                "(and the open-files limit)",
            )
        )
    clients = integer(info.get("connected_clients"))
    maxclients = integer(config.get("maxclients") or info.get("maxclients"))
    if clients and maxclients and clients / maxclients >= 0.9:
        found.append(
            Finding(
                kind="clients_near_limit",
                object=obj,
                message=f"{clients:,} of {maxclients:,} client connections in use{where}",
                severity=Severity.WARNING,
                statement="find the client that leaks connections (Clients pane, by addr), "
                "or raise maxclients",
            )
        )

    if info.get("role") == "slave" and info.get("master_link_status", "up") != "up":
        found.append(
            Finding(
                kind="replication_down",
                object=obj,
                message=f"the link to the master {info.get('master_host')}:"
                f"{info.get('master_port')} is down{where}",
                severity=Severity.CRITICAL,
                statement="check the master's reachability and the replica's log",
            )
        )
    return found


def client_findings(sessions: Iterable[Session]) -> list[Finding]:
    found: list[Finding] = []
    for session in sessions:
        if session.is_self:
            continue
        extra = session.extra
        # A ClientLine reads one field without building the others (thousands of rows),
        # and a client with nothing to send (nearly all) is passed over on its text
        if isinstance(extra, ClientLine):
            raw = extra.raw("omem")
            omem = 0 if raw is None or raw == "0" else extra.number("omem")
        else:
            omem = integer(extra.get("omem", 0), 0) or 0
        if omem >= OUTPUT_BUFFER_BYTES:
            found.append(
                Finding(
                    kind="output_buffer",
                    object=f"client {session.id}",
                    message=f"client {session.id} ({session.client}, {session.kind}) holds "
                    f"{human_bytes(omem)} of replies it has not read" + _at(session.node),
                    statement=f"CLIENT KILL ID {session.id.rpartition('/')[2]}, and set "
                    "client-output-buffer-limit for its class",
                )
            )
        if session.kind == "monitor":
            found.append(
                Finding(
                    kind="monitor_client",
                    object=f"client {session.id}",
                    message=f"client {session.id} ({session.client}) runs MONITOR"
                    + _at(session.node)
                    + ": every command is copied to it, which can halve throughput",
                    statement=f"CLIENT KILL ID {session.id.rpartition('/')[2]} when done",
                )
            )
    return found


def _transient(pattern: str) -> bool:
    lowered = pattern.lower()
    return any(word in lowered for word in TRANSIENT_WORDS)


def keyspace_findings(
    patterns: Sequence[KeyPattern], big_keys: Sequence[KeyAnatomy], *, policy: str | None
) -> list[Finding]:
    found: list[Finding] = []
    for key in big_keys:
        large_memory = (key.memory_bytes or 0) >= BIG_KEY_BYTES
        large_length = (key.length or 0) >= BIG_KEY_ELEMENTS
        if not (large_memory or large_length):
            continue
        size = f"{key.length:,} {key.length_unit}, " if key.length is not None else ""
        found.append(
            Finding(
                kind="big_key",
                object=key.name,
                message=f"{key.type} {key.name} holds {size}{human_bytes(key.memory_bytes)} "
                f"(db{key.db}{_at(key.node)}): every O(N) command on it blocks the server, "
                "and deleting it with DEL too",
                severity=Severity.WARNING,
                statement=f"split it into smaller keys (e.g. by a hash of the member); "
                f"read it with {_scan_for(key.type)}; delete it with UNLINK {key.name}",
                extra=frozen(key.as_dict()),
            )
        )
    volatile = bool(policy and policy.startswith("volatile-"))
    for pattern in patterns:
        estimated = pattern.estimated_keys or 0
        if (
            pattern.no_ttl_share is None
            or pattern.no_ttl_share < 0.99
            or estimated < NO_TTL_MIN_KEYS
        ):
            continue
        transient = _transient(pattern.pattern)
        if not (transient or volatile):
            continue
        found.append(
            Finding(
                kind="no_ttl",
                object=pattern.pattern,
                message=f"about {estimated:,} keys like {pattern.pattern} ({pattern.database}"
                f"{_at(pattern.node)}) and none of the {pattern.sampled_keys} sampled has a TTL"
                + (
                    f"; maxmemory-policy {policy} can never evict them"
                    if volatile
                    else "; the name says they are transient, yet they never expire"
                ),
                severity=Severity.WARNING if volatile else Severity.INFO,
                statement="give them an expiry where they are written: SET key value EX "
                "seconds (or EXPIRE key seconds)",
                extra=frozen(estimated_keys=estimated, memory_bytes=pattern.memory_bytes),
            )
        )
    return found


def _scan_for(key_type: str) -> str:
    return {
        "hash": "HSCAN",
        "set": "SSCAN",
        "zset": "ZSCAN",
        "list": "LRANGE in windows",
        "stream": "XRANGE … COUNT",
    }.get(key_type, "GETRANGE in pieces" if key_type == "string" else "SCAN-style paging")


def slowlog_findings(
    events: Sequence[SlowEvent],
    keys: Mapping[tuple[str | None, bytes], KeyAnatomy],
    args_of: Mapping[str, list[bytes]],
    key_args: Mapping[str, list[bytes]],
) -> list[Finding]:
    """O(N) commands in the slow log, grouped by command and key, with the key's size now."""
    groups: dict[tuple[str, bytes | None], list[SlowEvent]] = {}
    for event in events:
        command = str(event.extra.get("command") or "").lower()
        args = args_of.get(event.id, [])
        if command in ("keys", "flushall", "flushdb"):
            if command != "keys" and any(a.upper() == b"ASYNC" for a in args[1:]):
                continue
            groups.setdefault((command, None), []).append(event)
            continue
        if command not in ALTERNATIVES:
            continue
        for first_key in key_args.get(event.id, [])[:1]:
            groups.setdefault((command, first_key), []).append(event)

    found: list[Finding] = []
    for (command, key), group in groups.items():
        worst = max(group, key=lambda e: e.duration_ms)
        times = f"{len(group)} time(s) in the slow log, up to {worst.duration_ms:,.1f} ms"
        if key is None:
            found.append(
                Finding(
                    kind="blocking_command",
                    object=command.upper(),
                    message=f"{command.upper()} ran {times}"
                    + _at(worst.node)
                    + ": it walks every key and blocks the server meanwhile",
                    severity=Severity.WARNING,
                    statement=f"instead: {ALTERNATIVES[command]}",
                    extra=frozen(example=worst.query),
                )
            )
            continue
        anatomy = keys.get((worst.node, key))
        if anatomy is None:
            continue
        work = estimate_work(
            command, args_of.get(worst.id, []), [anatomy], complexity=None, db_keys=None
        )
        if (work.elements or 0) < LARGE and not (
            anatomy.length is not None and anatomy.length >= LARGE
        ):
            continue
        found.append(
            Finding(
                kind="on_command",
                object=f"{command.upper()} {quote_arg(key)}",
                message=f"{command.upper()} on {anatomy.type} {anatomy.name} "
                f"({anatomy.length or 0:,} {anatomy.length_unit or 'elements'}) ran {times}: "
                f"{work.explanation}",
                severity=Severity.WARNING,
                statement=f"instead: {ALTERNATIVES[command]}",
                extra=frozen(example=worst.query, key=anatomy.as_dict()),
            )
        )
    return found


def commandstat_findings(stats: Mapping[str, CommandStat]) -> list[Finding]:
    """KEYS calls that never reached the slow log still walk the whole keyspace."""
    found: list[Finding] = []
    keys = stats.get("keys")
    if keys is not None and keys.calls:
        per_call = keys.usec / keys.calls / 1000 if keys.calls else 0
        found.append(
            Finding(
                kind="blocking_command",
                object="KEYS",
                message=f"KEYS was called {keys.calls:,} times since the statistics were reset "
                f"({per_call:,.2f} ms per call): it walks every key",
                severity=Severity.INFO,
                statement=f"instead: {ALTERNATIVES['keys']}",
            )
        )
    return found


class ClientFindings:
    """``client_findings`` kept while a poll's Sessions are the very objects of the last
    poll's (a quiet server's thousands of idle clients: see assemble.client_rows)."""

    def __init__(self) -> None:
        self._sessions: list[Session] = []
        self._found: list[Finding] = []

    def __call__(self, sessions: Sequence[Session]) -> list[Finding]:
        known = self._sessions
        if len(known) != len(sessions) or not all(map(operator.is_, known, sessions)):
            self._sessions, self._found = list(sessions), client_findings(sessions)
        return list(self._found)


def poll_findings(
    nodes: Iterable[tuple[str | None, dict[str, str], Mapping[str, str]]],
    sessions: Sequence[Session],
    clients: ClientFindings | None = None,
) -> list[Finding]:
    """The findings of one poll: each node's (name in a cluster, INFO, settings), then the
    clients'."""
    findings: list[Finding] = []
    for node, info, config in nodes:
        findings.extend(server_findings(info, config, node=node))
    findings.extend(clients(sessions) if clients is not None else client_findings(sessions))
    return findings
