"""The Keyspace pane (the indexes role on Redis): key patterns from a bounded sample; SCAN
a little on every refresh, never KEYS.

Each refresh spends at most ``max_keys`` keys and ``max_ms`` milliseconds per node: a few
``SCAN cursor COUNT n`` steps, then ``TYPE``, ``PTTL`` and ``MEMORY USAGE`` (which itself
samples only a few elements of a big key) for the keys found, pipelined. The cursor carries
over to the next refresh, so the sample grows and renews itself; it is kept in a bounded
reservoir per database. SCAN visits keys in hash-table order, unrelated to their names, so
the sample is close to a random one; keyspace_estimate turns it into each pattern's keys and
bytes with a stated 95 % margin, exact once a pass has seen every key.

Every command here is O(1) or O(COUNT) on the server: the sampling never blocks it, and the
async round trips never block the UI. The live view's budget is also one of the server's time
(``server_ms_per_s``): what a sampled key costs is learnt from INFO commandstats
(:class:`SampleCost`), and each refresh samples as many keys as fit.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from dbtop.engines.redis.commands import quote_arg
from dbtop.engines.redis.connection import Link
from dbtop.engines.redis.info import integer, parse_fields, text
from dbtop.engines.redis.keyspace_estimate import (
    Measured,
    PatternEstimate,
    estimate_patterns,
    margins_extra,
)
from dbtop.engines.redis.patterns import group_keys
from dbtop.model import KeyPattern, frozen

#: How many of the largest keys each database's sample keeps track of.
BIGGEST = 32


@dataclass(frozen=True, slots=True)
class SampleBudget:
    """What one refresh may spend on sampling, per node."""

    # 50 keys a refresh (3 commands each) is ~150 commands: the sample still renews itself
    # over a few minutes, at a cost the server does not feel (benchmarks/redis_own.py)
    max_keys: int = 50
    max_ms: float = 30.0
    scan_count: int = 100
    reservoir: int = 4000
    #: a key measured less than this long ago is not measured again when SCAN meets it
    remeasure_s: float = 60.0
    #: the server's time the sample may take, in ms per second (None: max_keys each
    #: refresh), and how often it is then spent (see SampleCost.budget)
    server_ms_per_s: float | None = None
    every_s: float = 5.0


#: The live view's sample: ~0.1 ms of the server's time a second (SCAN is ~1.3 µs a key at
#: 1M keys, TYPE + PTTL + MEMORY USAGE ~2 µs): with INFO and the rest, dbtop's own commands
#: stay under 0.5 ms/s (issue 14); the margins on screen say what the sample size gives.
#: Spent every 5 s in one batch: the keyspace's patterns are made again only when the sample
#: or a database's size changed, not for a few keys every refresh.
LIVE_BUDGET = SampleBudget(max_keys=200, server_ms_per_s=0.1)
#: keys of the first batch, before the server's cost per key is known
FIRST_KEYS = 50
#: the commands the sample sends, as INFO commandstats names them
SAMPLE_COMMANDS = ("scan", "type", "pttl", "memory|usage", "select")
#: how much of a new figure goes into the running cost per key
COST_WEIGHT = 0.3


@dataclass(slots=True)
class SampleCost:
    """What one sampled key costs the server, from INFO commandstats: each sample command's
    mean time per call between two INFOs (the server does not split its time by client, so
    everyone's mean is taken as dbtop's) times the calls dbtop sent in between, over the keys
    it sampled in between."""

    per_key_us: float | None = None
    #: keys sampled since the last INFO
    keys: int = 0
    #: per command: the server's calls and usec, and dbtop's calls, at the last INFO
    seen: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    stepped_at: float | None = None

    def learn(self, raw_info: Mapping[str, str], own_calls: Mapping[str, int]) -> None:
        spent = 0.0
        for name in SAMPLE_COMMANDS:
            fields = parse_fields(raw_info.get(f"cmdstat_{name}", ""))
            calls, usec = integer(fields.get("calls")), integer(fields.get("usec"))
            if calls is None or usec is None:
                continue
            own = own_calls.get(name, 0)
            before = self.seen.get(name)
            if before is not None and calls > before[0] and usec >= before[1] and own >= before[2]:
                spent += (usec - before[1]) / (calls - before[0]) * (own - before[2])
            self.seen[name] = (calls, usec, own)
        if self.keys and spent > 0:
            cost = spent / self.keys
            known = self.per_key_us
            self.per_key_us = cost if known is None else known + COST_WEIGHT * (cost - known)
        self.keys = 0

    def budget(self, budget: SampleBudget, now: float) -> SampleBudget | None:
        """This refresh's budget, or None when it samples nothing: every ``every_s``, the
        keys that the server's time since the last batch pays for."""
        if budget.server_ms_per_s is None:
            return budget
        first = replace(budget, max_keys=min(budget.max_keys, FIRST_KEYS))
        if self.stepped_at is None:
            self.stepped_at = now
            return first
        since = now - self.stepped_at
        if since < budget.every_s:
            return None
        self.stepped_at = now
        if self.per_key_us is None:  # not learnt (the counters restarted, or hidden)
            return first
        fit = budget.server_ms_per_s * 1000 * min(since, 2 * budget.every_s) / self.per_key_us
        return replace(budget, max_keys=max(1, min(budget.max_keys, int(fit))))


@dataclass(slots=True)
class KeyRecord:
    key: bytes
    name: str
    type: str
    memory_bytes: int | None
    ttl_ms: int
    seen_pass: int
    measured_at: float = 0.0


@dataclass(slots=True)
class DbSample:
    cursor: int = 0
    pass_no: int = 0
    scanned_in_pass: int = 0
    records: OrderedDict[bytes, KeyRecord] = field(default_factory=OrderedDict)
    #: keys a SCAN step returned past the refresh's budget: measured first next time (the
    #: cursor is already past them, so dropping them would leave them out of every pass)
    pending: list[bytes] = field(default_factory=list)
    #: the pass ended with keys still pending: it ends when they are measured
    pass_done: bool = False
    #: the largest keys met in any pass, kept apart from the reservoir so that a huge key
    #: seen once stays known (a rolling scan meets every key in the end)
    biggest: dict[bytes, KeyRecord] = field(default_factory=dict)
    #: counts the changes of ``records`` and ``biggest`` (KeySampler.patterns keeps its
    #: rows while it stays, and while the database's size does too)
    version: int = 0


@dataclass(frozen=True, slots=True)
class SampleStats:
    """What one refresh spent (reported in the snapshot's extra, per node)."""

    keys: int
    scans: int
    elapsed_ms: float
    reservoir: int
    full_passes: int

    #: the keys this refresh could take (the budget's, or fewer by the server's time)
    budget_keys: int | None = None
    server_us_per_key: float | None = None

    def as_extra(self, budget: SampleBudget) -> dict[str, float | int | None]:
        extra: dict[str, float | int | None] = {
            "keys": self.keys,
            "scans": self.scans,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "reservoir": self.reservoir,
            "full_passes": self.full_passes,
            "budget_keys": budget.max_keys if self.budget_keys is None else self.budget_keys,
            "budget_ms": budget.max_ms,
        }
        if budget.server_ms_per_s is not None:
            extra["budget_server_ms_s"] = budget.server_ms_per_s
            extra["server_us_per_key"] = (
                None if self.server_us_per_key is None else round(self.server_us_per_key, 2)
            )
        return extra


def display_key(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


class KeySampler:
    """The rolling sample of one node's keys, in every database that has keys."""

    def __init__(self, budget: SampleBudget | None = None) -> None:
        self.budget = budget or SampleBudget()
        self.cost = SampleCost()
        self.dbs: dict[int, DbSample] = {}
        #: per database: (sample version, size, node) and the rows made of them
        self._patterns: dict[int, tuple[tuple[int, int, str | None], list[KeyPattern]]] = {}
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._next = 0

    async def step(
        self,
        link: Link,
        db_sizes: dict[int, int],
        *,
        select: bool,
        budget: SampleBudget | None = None,
    ) -> SampleStats:
        """Spend one refresh's budget; databases are visited in turn across refreshes."""
        budget = budget or self.budget
        started = time.monotonic()
        for db in list(self.dbs):
            if not db_sizes.get(db):
                del self.dbs[db]  # emptied or flushed: its sample is history
        order = sorted(db for db, size in db_sizes.items() if size > 0)
        keys_done = scans = 0
        if order:
            self._next %= len(order)
            order = order[self._next :] + order[: self._next]
            self._next += 1
        for db in order:
            sample = self.dbs.setdefault(db, DbSample())
            while keys_done < budget.max_keys:
                if (time.monotonic() - started) * 1000 >= budget.max_ms:
                    break
                if sample.pending:
                    keys, done = sample.pending, sample.pass_done
                    sample.pending, sample.pass_done = [], False
                else:
                    count = min(budget.scan_count, max(budget.max_keys - keys_done, 1))
                    keys, done = await self._scan(link, db, sample, count, select=select)
                    scans += 1
                room = budget.max_keys - keys_done
                if len(keys) > room:
                    sample.pending, sample.pass_done = keys[room:], done
                    keys, done = keys[:room], False
                keys_done += len(keys)
                await self._measure(link, db, sample, keys, select=select, budget=budget)
                if done:
                    self._finish_pass(sample)
                    break
            if keys_done >= budget.max_keys or (time.monotonic() - started) * 1000 >= (
                budget.max_ms
            ):
                break
        return SampleStats(
            keys=keys_done,
            scans=scans,
            elapsed_ms=(time.monotonic() - started) * 1000,
            reservoir=sum(len(s.records) for s in self.dbs.values()),
            full_passes=sum(s.pass_no for s in self.dbs.values()),
            budget_keys=budget.max_keys,
            server_us_per_key=self.cost.per_key_us,
        )

    async def _scan(
        self, link: Link, db: int, sample: DbSample, count: int, *, select: bool
    ) -> tuple[list[bytes], bool]:
        commands: list[list[object]] = [["SELECT", db]] if select else []
        commands.append(["SCAN", sample.cursor, "COUNT", count])
        reply = (await link.pipeline(commands))[-1]
        if isinstance(reply, Exception):
            raise link.error(reply)
        cursor, keys = integer(text(reply[0]), 0) or 0, list(reply[1])
        sample.cursor = cursor
        sample.scanned_in_pass += len(keys)
        return keys, cursor == 0

    async def _measure(
        self,
        link: Link,
        db: int,
        sample: DbSample,
        keys: list[bytes],
        *,
        select: bool,
        budget: SampleBudget,
    ) -> None:
        now = time.monotonic()
        fresh = [
            k
            for k in keys
            if (r := sample.records.get(k)) is not None and now - r.measured_at < budget.remeasure_s
        ]
        for key in fresh:  # seen again this pass: kept, not measured again
            sample.records[key].seen_pass = sample.pass_no
            sample.records.move_to_end(key)
        fresh_set = set(fresh)
        keys = [k for k in keys if k not in fresh_set]
        if not keys:
            return
        sample.version += 1
        commands: list[list[object]] = [["SELECT", db]] if select else []
        for key in keys:
            commands.extend((["TYPE", key], ["PTTL", key], ["MEMORY", "USAGE", key]))
        replies = await link.pipeline(commands)
        replies = replies[1:] if select else replies
        for index, key in enumerate(keys):
            type_reply, ttl_reply, memory_reply = replies[3 * index : 3 * index + 3]
            if isinstance(type_reply, Exception):
                continue
            key_type = text(type_reply)
            if key_type == "none":  # expired or deleted between SCAN and TYPE
                sample.records.pop(key, None)
                sample.biggest.pop(key, None)
                continue
            record = KeyRecord(
                key=key,
                name=display_key(key),
                type=key_type,
                memory_bytes=None if isinstance(memory_reply, Exception) else integer(memory_reply),
                ttl_ms=_ttl(ttl_reply),
                seen_pass=sample.pass_no,
                measured_at=now,
            )
            sample.records[key] = record
            sample.records.move_to_end(key)
            self._track_big(sample, record)
        while len(sample.records) > budget.reservoir:
            sample.records.popitem(last=False)

    def _track_big(self, sample: DbSample, record: KeyRecord) -> None:
        if record.memory_bytes is None:
            return
        if len(sample.biggest) < BIGGEST or record.key in sample.biggest:
            sample.biggest[record.key] = record
            return
        smallest = min(sample.biggest.values(), key=lambda r: r.memory_bytes or 0)
        if (smallest.memory_bytes or 0) < record.memory_bytes:
            del sample.biggest[smallest.key]
            sample.biggest[record.key] = record

    def _finish_pass(self, sample: DbSample) -> None:
        """A full SCAN ended: keys not seen during it are gone from the server."""
        sample.version += 1
        for key in [k for k, r in sample.records.items() if r.seen_pass < sample.pass_no]:
            del sample.records[key]
        for key in [k for k, r in sample.biggest.items() if r.seen_pass < sample.pass_no]:
            del sample.biggest[key]
        sample.pass_no += 1
        sample.scanned_in_pass = 0

    def resting(self) -> SampleStats:
        """What a refresh that sampled nothing spent (SampleCost.budget gave None)."""
        return SampleStats(
            keys=0,
            scans=0,
            elapsed_ms=0.0,
            reservoir=sum(len(s.records) for s in self.dbs.values()),
            full_passes=sum(s.pass_no for s in self.dbs.values()),
            budget_keys=0,
            server_us_per_key=self.cost.per_key_us,
        )

    def records(self) -> Iterable[tuple[int, KeyRecord]]:
        """Every key measured and still held: the reservoir and the biggest keys."""
        for db, sample in self.dbs.items():
            for record in sample.records.values():
                yield db, record
            for key, record in sample.biggest.items():
                if key not in sample.records:
                    yield db, record

    def patterns(self, db_sizes: dict[int, int], *, node: str | None) -> list[KeyPattern]:
        """One KeyPattern per pattern and database, estimated from the sample; a database
        whose sample and size did not change since the last call keeps its rows (thousands
        of keys grouped and estimated again would give the same)."""
        rows: list[KeyPattern] = []
        kept: dict[int, tuple[tuple[int, int, str | None], list[KeyPattern]]] = {}
        for db, sample in sorted(self.dbs.items()):
            state = (sample.version, db_sizes.get(db, -1), node)
            known = self._patterns.get(db)
            if known is not None and known[0] == state:
                rows.extend(known[1])
                kept[db] = known
                continue
            first = len(rows)
            self._db_patterns(db, sample, db_sizes, node, rows)
            kept[db] = (state, rows[first:])
        self._patterns = kept
        rows.sort(key=lambda p: (-(p.memory_bytes or 0), p.pattern))
        return rows

    def _db_patterns(
        self,
        db: int,
        sample: DbSample,
        db_sizes: dict[int, int],
        node: str | None,
        rows: list[KeyPattern],
    ) -> None:
        records = list(sample.records.values())
        big = [r for k, r in sample.biggest.items() if k not in sample.records]
        if not records and not big:
            return
        if len(self._tokens) > 4 * self.budget.reservoir * max(len(self.dbs), 1):
            self._tokens.clear()  # bounded cache of split key names
        grouping = group_keys((r.name for r in (*records, *big)), token_cache=self._tokens)
        groups: dict[str, list[KeyRecord]] = {}
        for record in records:
            groups.setdefault(grouping.of(record.name), []).append(record)
        big_groups: dict[str, list[KeyRecord]] = {}
        for record in (*big, *(r for k, r in sample.biggest.items() if k in sample.records)):
            big_groups.setdefault(grouping.of(record.name), []).append(record)
        size = db_sizes.get(db, len(records))
        estimates = estimate_patterns(
            size,
            (Measured(r.key, grouping.of(r.name), r.memory_bytes) for r in records),
            (Measured(r.key, grouping.of(r.name), r.memory_bytes) for r in big),
        )
        for pattern in {*groups, *big_groups}:
            rows.append(
                _pattern_row(
                    pattern,
                    groups.get(pattern, []),
                    big_groups.get(pattern, []),
                    estimates[pattern],
                    sampled=len(records),
                    db=db,
                    node=node,
                )
            )


def _ttl(reply: object) -> int:
    """PTTL in ms; -1 (no expiry) when unknown."""
    if isinstance(reply, Exception):
        return -1
    value = integer(reply)
    return -1 if value is None else value


def _pattern_row(
    pattern: str,
    members: list[KeyRecord],
    big: list[KeyRecord],
    estimate: PatternEstimate,
    *,
    sampled: int,
    db: int,
    node: str | None,
) -> KeyPattern:
    """Counts and bytes from keyspace_estimate (with their 95 % margins); the rest of the
    row describes the keys actually measured."""
    known = list({r.key: r for r in (*members, *big)}.values())
    share = len(members) / sampled if sampled else 0.0
    big_keys = {r.key for r in big}
    typical = [r.memory_bytes for r in members if r.key not in big_keys and r.memory_bytes]
    mean = sum(typical) / len(typical) if typical else None
    biggest = max(known, key=lambda r: r.memory_bytes or 0)
    types = Counter(r.type for r in known)
    main_type = types.most_common(1)[0][0] if len(types) == 1 else "mixed"
    no_ttl = sum(1 for r in known if r.ttl_ms < 0)
    ttls = [r.ttl_ms for r in known if r.ttl_ms >= 0]
    return KeyPattern(
        pattern=pattern,
        database=f"db{db}",
        type=main_type,
        sampled_keys=len(members),
        estimated_keys=estimate.keys,
        memory_bytes=estimate.memory_bytes,
        no_ttl_share=no_ttl / len(known),
        biggest_key=biggest.name,
        biggest_key_bytes=biggest.memory_bytes,
        node=node,
        extra=frozen(
            types=dict(types),
            share=share,
            mean_bytes=None if mean is None else round(mean),
            tracked_big_keys=len(big),
            avg_ttl_s=(sum(ttls) / len(ttls) / 1000) if ttls else None,
            biggest_key_quoted=quote_arg(biggest.key),
            **margins_extra(estimate),
        ),
    )
