"""What dbtop's own polling costs an idle Redis, and what OPS it shows for it (issue 12).

    PYTHONPATH=src .venv/bin/python benchmarks/redis_own.py [--keys 50000] [--polls 10]
        [--interval 0.5]

Starts its own redis-server (free loopback port, tmp dir; nobody else talks to it), loads
``--keys`` keys, then:

- reads ``instantaneous_ops_per_sec`` with a plain client while dbtop is not polling;
- takes ``--polls`` snapshots ``--interval`` seconds apart with the Redis engine and
  reports, from the server's INFO commandstats read around them: commands per poll and
  the server's µs per poll in them; from dbtop's own figures: the header's OPS
  (analysis.rates over the first and last snapshot) and the top of its commandstats list
  by calls/s.

Run it on two trees (``git archive <commit> src | tar -x -C /tmp/before``, then
``PYTHONPATH=/tmp/before/src``) for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbtop.analysis.rates import compute_rates
from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from redis_snapshot import load_keys, start_server


def totals(client: redis.Redis) -> tuple[int, int, dict[str, int]]:
    stats = client.info("commandstats")
    usec = {name.removeprefix("cmdstat_"): s["usec"] for name, s in stats.items()}
    return sum(s["calls"] for s in stats.values()), sum(usec.values()), usec


async def settled_ops(plain: redis.Redis) -> int:
    """instantaneous_ops_per_sec once the load's burst has left its ~1.6 s window."""
    ops = plain.info("stats")["instantaneous_ops_per_sec"]
    for _ in range(30):
        if ops < 3:
            break
        await asyncio.sleep(1.0)  # slower, or this loop's own INFO would be the rate
        ops = plain.info("stats")["instantaneous_ops_per_sec"]
    return int(ops)


async def measure(port: int, polls: int, interval_s: float) -> None:
    plain = redis.Redis(port=port)
    idle_ops = await settled_ops(plain)
    engine = RedisEngine(f"redis://127.0.0.1:{port}/0", ConnectOptions())
    await engine.connect()
    try:
        await engine.snapshot()  # the first poll also reads CONFIG
        calls_before, usec_before, by_before = totals(plain)
        first = last = await engine.snapshot()
        for _ in range(polls - 1):
            await asyncio.sleep(interval_s)  # the UI's refresh
            last = await engine.snapshot()
        shown_ops = last.server.extra.get("instantaneous_ops_per_sec")
        calls_after, usec_after, by_after = totals(plain)
    finally:
        await engine.close()
    # the plain client's INFO commandstats before is counted in ``after``
    per_poll = (calls_after - calls_before - 1) / polls
    usec_per_poll = (usec_after - usec_before) / polls
    costly = sorted(
        ((n, (u - by_before.get(n, 0)) / polls) for n, u in by_after.items()), key=lambda i: -i[1]
    )[:5]
    rates = compute_rates(first, last)
    ops = rates.server.get(last.server.throughput_counter) if rates else None
    top = sorted(
        ((name, rate.calls_s) for name, rate in (rates.statements if rates else {}).items()),
        key=lambda item: -item[1],
    )[:4]
    print(f"instantaneous_ops_per_sec, dbtop not polling: {idle_ops}")
    print(f"instantaneous_ops_per_sec in dbtop's header extra while polling: {shown_ops}")
    print(f"commands per poll: {per_poll:.0f}   server µs per poll: {usec_per_poll:.0f}")
    print("server µs per poll by command: " + ", ".join(f"{n} {u:.0f}" for n, u in costly))
    if rates:
        print(f"header OPS over {rates.interval_s:.2f}s of polling: {ops:.1f}")
    print("top statements by calls/s: " + ", ".join(f"{n} {r:.0f}" for n, r in top))
    plain.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--polls", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        process, port = start_server(Path(directory), 1000)
        try:
            load_keys(port, args.keys)
            asyncio.run(measure(port, args.polls, args.interval))
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
