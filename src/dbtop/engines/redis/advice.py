"""The advisor entry of Redis (``suggest``): a deeper look than one refresh, then the
anti-pattern findings.

It refreshes once, samples deeper (SUGGEST_BUDGET per node, so the biggest keys are likelier
met), measures the largest keys met and the first key of each O(N) command of the slow log,
and hands the evidence to the pure rules of ``antipatterns``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from dbtop.engines.redis.anatomy import KeyAnatomy, key_anatomy
from dbtop.engines.redis.antipatterns import (
    commandstat_findings,
    keyspace_findings,
    slowlog_findings,
)
from dbtop.engines.redis.commands import split_command_line
from dbtop.engines.redis.connection import Link
from dbtop.engines.redis.explain import command_keys
from dbtop.engines.redis.indexes import KeyRecord, KeySampler, SampleBudget
from dbtop.engines.redis.info import CommandStat
from dbtop.engines.redis.statements import merge_command_stats
from dbtop.errors import DbtopError
from dbtop.model import Advice, KeyPattern, Snapshot, frozen

#: What ``suggest`` may spend on sampling, per node.
SUGGEST_BUDGET = SampleBudget(max_keys=50_000, max_ms=3000.0, scan_count=1000)
#: How many of the largest keys met are measured (length, encoding …).
SUGGEST_BIG_KEYS = 20
#: How many slow-log entries are looked at (their keys measured).
SUGGEST_SLOW_EVENTS = 64


def db_sizes(snapshot: Snapshot, node: str) -> dict[int, int]:
    """db -> keys on ``node`` (standalone rows have no node), from the snapshot's tables."""
    return {
        int(t.table[2:]): t.live_rows or 0
        for t in snapshot.tables
        if t.node in (None, node) and t.table[2:].isdigit()
    }


async def gather_advice(
    snapshot: Snapshot,
    *,
    started: float,
    samplers: Mapping[str, KeySampler],
    poll_links: Mapping[str, Link],
    action: Callable[[str], Awaitable[Link]],
    entry: str,
    cluster: bool,
    db: int,
    policy: str | None,
    stats: Mapping[str, Mapping[str, CommandStat]],
) -> Advice:
    def node_name(link: Link) -> str | None:
        return link.node if cluster else None

    # The deeper pass runs on the poll connection, which serializes it with the polls
    # (the sampler's cursor is shared with them).
    for name, sampler in samplers.items():
        await sampler.step(
            poll_links[name], db_sizes(snapshot, name), select=not cluster, budget=SUGGEST_BUDGET
        )
    patterns: list[KeyPattern] = []
    candidates: list[tuple[str, int, KeyRecord]] = []
    for name, sampler in samplers.items():
        patterns.extend(sampler.patterns(db_sizes(snapshot, name), node=name if cluster else None))
        candidates.extend((name, key_db, record) for key_db, record in sampler.records())
    candidates.sort(key=lambda c: -(c[2].memory_bytes or 0))
    big: list[KeyAnatomy] = []
    for name, key_db, record in candidates[:SUGGEST_BIG_KEYS]:
        link = await action(name)
        big.append(
            await key_anatomy(link, record.key, db=key_db, select=not cluster, node=node_name(link))
        )

    events = list(snapshot.slow_events)[:SUGGEST_SLOW_EVENTS]
    args_of: dict[str, list[bytes]] = {}
    key_args: dict[str, list[bytes]] = {}
    anatomies: dict[tuple[str | None, bytes], KeyAnatomy] = {}
    for event in events:
        try:
            args = split_command_line(event.query.split(" … (")[0])
        except ValueError:
            continue
        args_of[event.id] = args
        link = await action(
            event.node if event.node is not None and event.node in poll_links else entry
        )
        try:
            keys = await command_keys(link, args)
        except DbtopError:
            continue
        key_args[event.id] = keys
        for key in keys[:1]:
            if (event.node, key) not in anatomies:
                anatomies[(event.node, key)] = await key_anatomy(
                    link, key, db=db, select=not cluster, node=node_name(link)
                )
    findings = list(snapshot.findings)
    seen = {(f.kind, f.object) for f in findings}  # the poll's big keys are the sample's too
    for f in (
        *keyspace_findings(patterns, big, policy=policy),
        *slowlog_findings(events, anatomies, args_of, key_args),
        *commandstat_findings(merge_command_stats(stats)),
    ):
        if (f.kind, f.object) not in seen:
            seen.add((f.kind, f.object))
            findings.append(f)
    return Advice(
        findings=tuple(findings),
        notices=tuple((*snapshot.capabilities.notices, *snapshot.notices)),
        extra=frozen(
            statements=len(events) + len(snapshot.statements),
            analyzed=len(events),
            candidates=0,
            sampled_keys=len(candidates),
            patterns=len(patterns),
            big_keys_checked=len(big),
            elapsed_s=time.monotonic() - started,
        ),
    )
