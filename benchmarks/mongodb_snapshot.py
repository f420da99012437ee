"""MongoDB snapshot cost at scale, against the scripted server (no mongod can be installed here).

    .venv/bin/python benchmarks/mongodb_snapshot.py [--ops 5000] [--collections 2000]
        [--profile 1000] [--polls 10]

Starts the scripted wire-protocol server of the tests (tests/integration/mongodb) in its own
process, seeded with ``--ops`` running operations (a tenth of them waiting for locks),
``--collections`` collections over 20 databases and ``--profile`` profiler entries, then:

- times ``connect()``, the first snapshot (catalog listing, sizing, first profile read) and
  ``--polls`` steady snapshots (wall time and dbtop's own CPU per snapshot: the server runs
  in another process);
- counts the commands one steady poll sends, by name (a driver command listener): the
  bound on collections read per poll is what keeps a server with thousands of collections
  cheap to watch;
- times the pure parts alone: query shapes per second and the lock inference over
  ``--ops`` operations.

The scripted server answers from memory, so the wall times are dbtop's side of the work
plus loopback round trips; a real mongod adds its own execution time. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from pymongo import monitoring

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.mongodb import fixtures as fx
from tests.integration.mongodb.scripted import Collection, ScriptedMongo, World

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mongodb import MongoEngine, locks, operations
from dbtop.engines.mongodb.shapes import shape_of_entry


def build_world(n_ops: int, n_collections: int, n_profile: int) -> World:
    now = dt.datetime.now(dt.UTC)
    world = World()
    templates = fx.current_ops(now)
    exclusive, waiting, scan = templates[1], templates[2], templates[3]
    world.operations = [templates[0]]
    for n in range(n_ops):
        template = exclusive if n % 500 == 0 else waiting if n % 10 == 0 else scan
        world.operations.append(
            {
                **template,
                "opid": 100_000 + n,
                "connectionId": 100_000 + n,
                "ns": f"db{n % 20:02d}.c{n % 50:04d}",
                "microsecs_running": 1_000_000 + n,
            }
        )
    since = now - dt.timedelta(days=3)
    for n in range(n_collections):
        db, name = f"db{n % 20:02d}", f"c{n:04d}"
        world.collections[(db, name)] = Collection(
            stats=[
                fx.coll_stats(
                    f"{db}.{name}",
                    count=1000 + n * 37,
                    avg=200,
                    index_sizes={"_id_": 40_000, "a_1": 30_000},
                    collscans=n % 7,
                )
            ],
            index_stats=[
                fx.index_stat("_id_", {"_id": 1}, ops=n, since=since),
                fx.index_stat("a_1", {"a": 1}, ops=n % 3, since=since),
            ],
            specs=[fx.index_spec("_id_", {"_id": 1}), fx.index_spec("a_1", {"a": 1})],
        )
    world.database_sizes = {f"db{n:02d}": 1_000_000 * (n + 1) for n in range(20)}
    entries = fx.profile_entries(now)
    world.profile = {"db00": {"level": 1, "slowms": 100}}
    world.profile_entries = {
        "db00": [
            {**entries[n % len(entries)], "ts": fx.naive(now - dt.timedelta(seconds=n_profile - n))}
            for n in range(n_profile)
        ]
    }
    return world


def serve(args: tuple[int, int, int], ready: multiprocessing.connection.Connection) -> None:
    world = build_world(*args)
    world.explain = None
    server = ScriptedMongo(world).start()
    ready.send(server.port)
    ready.recv()  # until the parent is done
    server.stop()


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(port: int, polls: int, listener: Commands) -> None:
    url = f"mongodb://localhost:{port}/?serverMonitoringMode=poll"
    engine = MongoEngine(url, ConnectOptions(connect_timeout_s=5))
    started = time.monotonic()
    await engine.connect()
    print(f"connect: {(time.monotonic() - started) * 1000:.1f} ms")
    started = time.monotonic()
    first = await engine.snapshot()
    print(
        f"first snapshot: {(time.monotonic() - started) * 1000:.1f} ms "
        f"({len(first.sessions)} operations, {len(first.lock_waits)} lock edges, "
        f"{len(first.statements)} shapes, {len(first.tables)} collections read of "
        f"{first.extra['collections_known']})"
    )
    walls, cpus = [], []
    for n in range(polls):
        if n == polls - 1:
            listener.names.clear()
        wall0, cpu0 = time.monotonic(), cpu()
        await engine.snapshot()
        walls.append((time.monotonic() - wall0) * 1000)
        cpus.append((cpu() - cpu0) * 1000)
    print(
        f"steady snapshot: wall median {statistics.median(walls):.1f} ms "
        f"(min {min(walls):.1f}, max {max(walls):.1f}); dbtop CPU median "
        f"{statistics.median(cpus):.1f} ms"
    )
    total = sum(listener.names.values())
    shown = ", ".join(f"{name} {count}" for name, count in listener.names.most_common())
    print(f"commands in one steady poll: {total} ({shown})")
    await engine.close()


def pure(n_ops: int, n_profile: int) -> None:
    now = dt.datetime.now(dt.UTC)
    world = build_world(n_ops, 0, n_profile)
    entries = world.profile_entries["db00"]
    started = time.perf_counter()
    for entry in entries:
        shape_of_entry(entry)
    elapsed = time.perf_counter() - started
    print(f"query shapes: {len(entries) / elapsed:,.0f} entries/s")
    parsed = [
        op
        for doc in world.operations
        if (op := operations.parse(doc, app_name="x", node="n")) is not None
    ]
    started = time.perf_counter()
    infos = [
        info
        for op in parsed
        if (info := locks.lock_info(op.id, op.doc, op.running_s or 0.0, op.node)) is not None
    ]
    edges = locks.infer_waits(infos)
    elapsed = time.perf_counter() - started
    print(
        f"lock inference over {len(parsed):,} operations: {elapsed * 1000:.1f} ms "
        f"({len(edges):,} edges)"
    )
    started = time.perf_counter()
    for op in parsed:
        operations.to_session(op, now=now)
    elapsed = time.perf_counter() - started
    print(f"sessions from currentOp: {len(parsed) / elapsed:,.0f} documents/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=5000)
    parser.add_argument("--collections", type=int, default=2000)
    parser.add_argument("--profile", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=10)
    args = parser.parse_args()
    listener = Commands()
    monitoring.register(listener)
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(
        target=serve, args=((args.ops, args.collections, args.profile), child)
    )
    process.start()
    try:
        port = parent.recv()
        print(
            f"scripted server: {args.ops:,} operations, {args.collections:,} collections, "
            f"{args.profile:,} profiler entries"
        )
        asyncio.run(measure(port, args.polls, listener))
    finally:
        parent.send("stop")
        process.join(30)
    pure(args.ops, args.profile)


if __name__ == "__main__":
    main()
