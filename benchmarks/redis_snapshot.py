"""Redis snapshot cost with 5,000 connected clients and 1,000,000 keys, beside redis-cli --stat.

    .venv/bin/python benchmarks/redis_snapshot.py [--clients 5000] [--keys 1000000]
        [--seconds 10]

Starts its own redis-server (free loopback port, tmp dir), loads ``--keys`` keys in four
patterns through ``redis-cli --pipe``, opens ``--clients`` idle connections, then measures
three windows of ``--seconds`` each:

- idle: nobody polls (Redis's own background CPU);
- dbtop: the Redis engine takes a snapshot every second (client wall time per snapshot, dbtop's
  CPU per snapshot, Redis's CPU over the window, and Redis's own time in dbtop's commands from
  INFO commandstats);
- redis-cli --stat: the same window with ``redis-cli --stat`` polling each second.

"Extra load on Redis" is the window's Redis CPU (used_cpu_sys + used_cpu_user) minus the idle
window's, as a share of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine

#: dbtop's own commands, as INFO commandstats names them
DBTOP_COMMANDS = (
    "info",
    "client|list",
    "slowlog|get",
    "latency|latest",
    "config|get",
    "scan",
    "type",
    "pttl",
    "memory|usage",
    "select",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(directory: Path, max_clients: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = shutil.which("redis-server")
    if server is None:
        sys.exit("redis-server is not installed")
    process = subprocess.Popen(
        [
            *(server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
            *("--save", "", "--appendonly", "no", "--maxclients", str(max_clients)),
            *("--logfile", str(directory / "redis.log")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return process, port
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


def resp(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def load_keys(port: int, count: int) -> float:
    """``count`` keys in four patterns, through redis-cli --pipe (the fast bulk path)."""
    started = time.monotonic()
    cli = shutil.which("redis-cli")
    if cli is None:
        sys.exit("redis-cli is not installed")
    with tempfile.NamedTemporaryFile(suffix=".resp", delete=False) as handle:
        for i in range(count):
            kind = i % 10
            if kind < 5:
                handle.write(resp("SET", f"user:{i}:profile", "x" * 40))
            elif kind < 8:
                handle.write(resp("SET", f"session:{i:032x}", "s" * 20, "EX", "86400"))
            elif kind < 9:
                handle.write(resp("HSET", f"cart:{i}", "item", "1", "qty", "2"))
            else:
                handle.write(resp("RPUSH", f"queue:{i}:jobs", str(i)))
        path = handle.name
    with open(path, "rb") as data:
        subprocess.run(
            [cli, "-p", str(port), "--pipe"], stdin=data, check=True, capture_output=True
        )
    os.unlink(path)
    return time.monotonic() - started


def open_clients(port: int, count: int) -> list[socket.socket]:
    """Idle connections, each named so that CLIENT LIST has realistic lines."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
    clients = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(resp("CLIENT", "SETNAME", f"bench-{i}"))
        clients.append(sock)
    for sock in clients:
        sock.recv(64)
    return clients


def redis_cpu(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def command_usec(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name: int(stats.get(f"cmdstat_{name}", {}).get("usec", 0)) for name in DBTOP_COMMANDS}


async def dbtop_window(port: int, seconds: float) -> dict[str, float]:
    engine = RedisEngine(f"redis://127.0.0.1:{port}/0", ConnectOptions())
    await engine.connect()
    walls: list[float] = []
    cpus: list[float] = []
    sample_ms: list[float] = []
    poll_ms: list[float] = []
    sessions = 0
    patterns: list[str] = []
    try:
        await engine.snapshot()  # warm
        probe = redis.Redis(port=port)
        usec_before = command_usec(probe)
        cpu_before = redis_cpu(probe)
        window_start = time.monotonic()
        while time.monotonic() - window_start < seconds:
            tick = time.monotonic()
            cpu0 = time.process_time()
            snapshot = await engine.snapshot()
            cpus.append((time.process_time() - cpu0) * 1000)
            walls.append((time.monotonic() - tick) * 1000)
            node = next(iter(snapshot.extra["sampling"].values()))
            sample_ms.append(node["elapsed_ms"])
            poll_ms.append(next(iter(snapshot.extra["poll_ms"].values())))
            sessions = len(snapshot.sessions)
            patterns = [f"{p.pattern}≈{p.estimated_keys:,}" for p in snapshot.keyspace[:4]]
            await asyncio.sleep(max(1.0 - (time.monotonic() - tick), 0))
        elapsed = time.monotonic() - window_start
        cpu_after = redis_cpu(probe)
        usec_after = command_usec(probe)
        probe.close()
    finally:
        await engine.close()
    server_usec = sum(usec_after[n] - usec_before[n] for n in DBTOP_COMMANDS)
    return {
        "snapshots": len(walls),
        "sessions": sessions,
        "wall_median_ms": statistics.median(walls),
        "wall_max_ms": max(walls),
        "poll_median_ms": statistics.median(poll_ms),
        "sample_median_ms": statistics.median(sample_ms),
        "dbtop_cpu_median_ms": statistics.median(cpus),
        "redis_cpu_s": cpu_after - cpu_before,
        "elapsed_s": elapsed,
        "redis_usec_per_snapshot": server_usec / len(walls),
        "patterns": ", ".join(patterns),  # type: ignore[dict-item]
    }


def idle_window(port: int, seconds: float) -> dict[str, float]:
    probe = redis.Redis(port=port)
    before = redis_cpu(probe)
    started = time.monotonic()
    time.sleep(seconds)
    result = {"redis_cpu_s": redis_cpu(probe) - before, "elapsed_s": time.monotonic() - started}
    probe.close()
    return result


def stat_window(port: int, seconds: float) -> dict[str, float]:
    cli = shutil.which("redis-cli")
    probe = redis.Redis(port=port)
    before = redis_cpu(probe)
    started = time.monotonic()
    process = subprocess.Popen(
        [cli or "redis-cli", "-p", str(port), "--stat", "-i", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(seconds)
    process.terminate()
    process.wait(10)
    result = {"redis_cpu_s": redis_cpu(probe) - before, "elapsed_s": time.monotonic() - started}
    probe.close()
    return result


def share(window: dict[str, float], idle: dict[str, float]) -> float:
    base = idle["redis_cpu_s"] / idle["elapsed_s"]
    return (window["redis_cpu_s"] / window["elapsed_s"] - base) * 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dbtop-redis-bench-") as tmp:
        process, port = start_server(Path(tmp), args.clients + 500)
        try:
            load_s = load_keys(port, args.keys)
            clients = open_clients(port, args.clients)
            info = redis.Redis(port=port).info()
            print(
                f"redis {info['redis_version']} on 127.0.0.1:{port}: "
                f"{info['db0']['keys']:,} keys (loaded in {load_s:.1f}s), "
                f"{info['connected_clients']:,} clients, used_memory {info['used_memory_human']}"
            )
            idle = idle_window(port, args.seconds)
            dbtop = asyncio.run(dbtop_window(port, args.seconds))
            stat = stat_window(port, args.seconds)
            for sock in clients:
                sock.close()
        finally:
            process.terminate()
            process.wait(10)

    print(f"\ndbtop, one snapshot per second for {dbtop['elapsed_s']:.0f}s:")
    print(
        f"  snapshots                    {dbtop['snapshots']:.0f} ({dbtop['sessions']:,} sessions)"
    )
    print(
        f"  wall time per snapshot       median {dbtop['wall_median_ms']:.1f} ms, "
        f"max {dbtop['wall_max_ms']:.1f} ms"
    )
    print(f"    of which poll round trip   median {dbtop['poll_median_ms']:.1f} ms")
    print(f"    of which key sampling      median {dbtop['sample_median_ms']:.1f} ms")
    print(f"  dbtop CPU per snapshot       median {dbtop['dbtop_cpu_median_ms']:.1f} ms")
    print(
        f"  Redis time in dbtop's cmds   {dbtop['redis_usec_per_snapshot'] / 1000:.2f} ms "
        "per snapshot (INFO commandstats)"
    )
    print(f"  patterns                     {dbtop['patterns']}")
    print("\nextra Redis CPU over idle, share of one core:")
    print(f"  idle baseline                {idle['redis_cpu_s'] / idle['elapsed_s'] * 100:.2f} %")
    print(f"  dbtop (1 s interval)         {share(dbtop, idle):+.2f} %")
    print(f"  redis-cli --stat (1 s)       {share(stat, idle):+.2f} %")


if __name__ == "__main__":
    main()
