"""20 targets in one dbtop: its CPU and memory, the time to a first full overview, and
one hung target (a stalled proxy) among the 20 while the others keep their interval.

    .venv/bin/python benchmarks/fleet.py [--seconds 30] [--interval 2]

It starts a private PostgreSQL 15 (tests/servers/postgres.py; 7 databases), a private
MariaDB (tests/integration/mysql/servers.py; 7 databases) and a private Redis
(tests/integration/redis; databases 0-5), writes a config file with 20 targets in one
group (the 20th through a tests/servers/proxy.py Proxy in front of the PostgreSQL), then:

1. runs ``dbtop fleet --interval S`` in a real terminal (a pty, 220x50) and measures its
   CPU time / wall time (% of one core) and resident memory over ``--seconds`` after a
   warm-up;
2. runs the fleet app in this process (headless, Textual's run_test): the time until all
   20 rows are live and drawn (first full overview); then stalls the proxy and, over
   ``--seconds``, the seconds between two polls of each other target (the interval when
   nothing holds them up), the hung one's polls and what its row says.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tests.integration.mysql.servers import start_private  # noqa: E402
from tests.integration.redis.conftest import start_server  # noqa: E402
from tests.servers import postgres  # noqa: E402
from tests.servers.proxy import Proxy  # noqa: E402

from _terminal import Terminal  # noqa: E402

PG_DBS = tuple(f"fleet{i}" for i in range(1, 8))
MY_DBS = tuple(f"fleet{i}" for i in range(1, 8))
REDIS_DBS = range(6)


def config_text(
    pg: postgres.PrivatePostgres, my_port: int, redis_port: int, proxy_port: int
) -> str:
    lines: list[str] = []
    names: list[str] = []
    for db in PG_DBS:
        names.append(f"pg-{db}")
        lines += [f"[targets.pg-{db}]", f'url = "{pg.url(db)}"', ""]
    for db in MY_DBS:
        names.append(f"my-{db}")
        lines += [f"[targets.my-{db}]", f'url = "mysql://root@127.0.0.1:{my_port}/{db}"', ""]
    for db in REDIS_DBS:
        names.append(f"redis-{db}")
        lines += [f"[targets.redis-{db}]", f'url = "redis://127.0.0.1:{redis_port}/{db}"', ""]
    names.append("pg-proxied")
    lines += [
        "[targets.pg-proxied]",
        f'url = "postgresql://postgres@127.0.0.1:{proxy_port}/postgres"',
        "",
    ]
    quoted = ", ".join(f'"{n}"' for n in names)
    lines += ["[groups]", f"fleet = [{quoted}]", ""]
    return "\n".join(lines)


def measure_terminal(config: Path, interval: float, seconds: float) -> dict[str, float]:
    term = Terminal(
        [sys.executable, "-m", "dbtop.cli", "fleet", "--interval", str(interval)],
        size=(220, 50),
        env={"DBTOP_CONFIG": str(config), "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        proc = psutil.Process(term.proc.pid)
        term.drain(8)  # warm-up: every target connected (the in-process run times it)
        cpu0, wall0 = sum(proc.cpu_times()[:2]), time.perf_counter()
        term.drain(seconds)
        cpu1, wall1 = sum(proc.cpu_times()[:2]), time.perf_counter()
        rss = proc.memory_info().rss
    finally:
        term.close()
    return {
        "cpu_percent": 100 * (cpu1 - cpu0) / (wall1 - wall0),
        "rss_mib": rss / 2**20,
    }


async def measure_hung(
    config: Path, interval: float, seconds: float, proxy: Proxy
) -> dict[str, object]:
    os.environ["DBTOP_CONFIG"] = str(config)
    from dbtop.cli import targets as cli_targets
    from dbtop.cli.common import add_global_arguments
    from dbtop.cli.fleet import engine_factory
    from dbtop.targets import resolve_targets
    from dbtop.ui.app import AppSettings
    from dbtop.ui.fleet.app import FleetApp, FleetTarget
    from dbtop.ui.fleet.rows import row

    parser = argparse.ArgumentParser()
    add_global_arguments(parser)
    args = parser.parse_args([])
    fleet = [
        FleetTarget(
            t.name, engine_factory(cli_targets.connect_url(t), cli_targets.target_options(t, args))
        )
        for t in resolve_targets(["fleet"])
    ]
    started = time.monotonic()
    app = FleetApp(fleet, AppSettings(interval_s=interval), handle_signals=False)
    arrivals: list[list[float]] = [[] for _ in app.sessions]
    for session in app.sessions:
        # benchmark only: note when each poll of each target arrived
        def noted(result, session=session, original=session._arrived):  # type: ignore[no-untyped-def]
            arrivals[session.index].append(time.monotonic())
            original(result)

        session.poller._on_result = noted
    full_overview: float | None = None
    async with app.run_test(size=(220, 50)) as pilot:
        while any(s.results < 2 for s in app.sessions):
            if full_overview is None and all(
                row(s.name, s.status, s.latest_result, app.clock()).state == "live"
                for s in app.sessions
            ):
                redraws = app.overview.redraws
                while app.overview.redraws == redraws:
                    await pilot.pause(0.02)
                full_overview = time.monotonic() - started
            await pilot.pause(0.05)
            if time.monotonic() - started > 60:
                raise RuntimeError("the fleet never came up")
        # the same window before the stall: the gaps any load on the machine gives
        b0 = time.monotonic()
        await pilot.pause(seconds)
        baseline = [
            b - a for times in arrivals[:-1] for a, b in itertools.pairwise(times) if a >= b0
        ]
        proxy.stall()
        t0 = time.monotonic()
        await pilot.pause(seconds)
        hung = app.sessions[-1]
        hung_row = row(hung.name, hung.status, hung.latest_result, app.clock())
        gaps = [b - a for times in arrivals[:-1] for a, b in itertools.pairwise(times) if a >= t0]
        hung_polls = sum(1 for t in arrivals[-1] if t >= t0)
        await pilot.press("q")
    return {
        "first_full_overview_s": full_overview,
        "gap_median": statistics.median(gaps),
        "gap_max": max(gaps),
        "gap_p95": statistics.quantiles(gaps, n=20)[-1],
        "gaps": len(gaps),
        "baseline_median": statistics.median(baseline),
        "baseline_p95": statistics.quantiles(baseline, n=20)[-1],
        "baseline_max": max(baseline),
        "baseline_late": sum(g > 1.25 * interval for g in baseline),
        "baseline_gaps": len(baseline),
        "late": sum(g > 1.25 * interval for g in gaps),
        "hung_polls": hung_polls,
        "hung_status": hung_row.cells[3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=2.0)
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dbtop-fleet-bench-"))
    pg = postgres.start(max_connections=100, databases=PG_DBS)
    my = start_private(label="dbtop-fleet")
    redis_server = start_server(tmp / "redis")
    try:
        with my.connect() as conn, conn.cursor() as cur:
            for db in MY_DBS:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        with Proxy("127.0.0.1", pg.port) as proxy:
            config = tmp / "config.toml"
            config.write_text(config_text(pg, my.port, redis_server.port, proxy.port))
            figures = measure_terminal(config, options.interval, options.seconds)
            print(
                f"20 targets (7 PostgreSQL databases, 7 MariaDB, 6 Redis, 1 via a proxy), "
                f"--interval {options.interval:g}, a 220x50 pty:"
            )
            print(
                f"  dbtop CPU over {options.seconds:g} s: "
                f"{figures['cpu_percent']:.1f} % of one core"
            )
            print(f"  dbtop resident memory: {figures['rss_mib']:.0f} MiB")
            hung = asyncio.run(measure_hung(config, options.interval, options.seconds, proxy))
            print(
                f"in process (headless): first full overview, all 20 rows live and drawn: "
                f"{hung['first_full_overview_s']:.2f} s after the app was made"
            )
            print(
                f"all 20 answering, {options.seconds:g} s: seconds between two polls of a "
                f"target: median {hung['baseline_median']:.2f}, p95 {hung['baseline_p95']:.2f}, "
                f"max {hung['baseline_max']:.2f}; {hung['baseline_late']} of "
                f"{hung['baseline_gaps']} gaps over 1.25 intervals"
            )
            print(f"then one target hung (proxy stalled) for {options.seconds:g} s:")
            print(
                f"  the other 19: seconds between two polls of a target: median "
                f"{hung['gap_median']:.2f}, p95 {hung['gap_p95']:.2f}, max "
                f"{hung['gap_max']:.2f} (interval {options.interval:g}); "
                f"{hung['late']} of {hung['gaps']} gaps over 1.25 intervals"
            )
            print(
                f"  the hung one: {hung['hung_polls']} polls; its row says: {hung['hung_status']}"
            )
            proxy.resume()
    finally:
        redis_server.stop()
        my.stop()
        pg.stop()


if __name__ == "__main__":
    main()
