"""Index advisor benchmark: a generated workload over a multi-table schema, on a real server.

    .venv/bin/python benchmarks/advisor_bench.py [--url ADMIN_URL]
        [--families 26] [--variants 8] [--per-table 2] [--max-k 4] [--repeat 3]

Builds ``dbtop_advisor_bench`` (once; a marker table holds the data version), runs the
workload (each family's statements a different number of times, with random parameters,
timed here), then prints:

- the time of ``engine.suggest()`` (snapshot, pg_stat_statements, parsing, candidates,
  hypopg verification, index health) over ``--repeat`` runs, and of the advisor alone on
  the rows measured here (the same work whatever another client does to
  pg_stat_statements on a shared server);
- the statements analyzed, the candidates, the what-if costings and EXPLAINs;
- the workload's cost before and after the suggested set, hypothetically: the time-weighted
  relative planner cost (the greedy's objective, 1.0 = today) and Σ calls × planner cost;
- on a small subset of the candidates (each table's ``--per-table`` best on their own), the
  greedy's choice of k indexes against the best set of k found by exhaustive search (k up
  to ``--max-k``): how much of the best saving the greedy gets.

Without ``--url`` it runs on a private PostgreSQL 15 (tests/servers/postgres.py: temporary
directory, pg_stat_statements preloaded, hypopg) started for the run and removed at its end.
A server given with ``--url`` needs hypopg (``apt install postgresql-15-hypopg``) and
pg_stat_statements in shared_preload_libraries. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from dbtop.analysis.advisor import AdvisorSettings, Candidate, generate, relative_cost, select
from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.engines.postgresql.advice import advise_connection
from dbtop.engines.postgresql.advice_facts import build_workload, default_settings
from dbtop.engines.postgresql.hypopg import PlannerOracle
from dbtop.model import Advice, Statement

DB = "dbtop_advisor_bench"
DATA_VERSION = 1

SCHEMA = """
DROP TABLE IF EXISTS customers, products, orders, order_items, shipments, events, tickets,
    settings, bench_version CASCADE;
CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE NOT NULL, country text NOT NULL,
    segment text NOT NULL, created_at timestamptz NOT NULL, score int NOT NULL);
INSERT INTO customers SELECT g, 'c' || g || '@example.com', 'k' || (g % 80), 's' || (g % 4),
    timestamptz '2020-01-01' + g * interval '17 minutes', g % 1000
FROM generate_series(1, 100000) g;
CREATE TABLE products (id int PRIMARY KEY, sku text NOT NULL, category int NOT NULL,
    price numeric(10,2) NOT NULL, active boolean NOT NULL);
INSERT INTO products SELECT g, 'sku-' || g, g % 300, (g % 5000) / 7.0, g % 10 <> 0
FROM generate_series(1, 30000) g;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, shop_id int NOT NULL,
    status text NOT NULL, created_at timestamptz NOT NULL, total numeric(10,2) NOT NULL,
    deleted_at timestamptz);
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 100000, g % 250, 's' || (g % 5),
    timestamptz '2021-01-01' + g * interval '3 minutes', (g % 2000) / 3.0,
    CASE WHEN g % 20 = 0 THEN timestamptz '2023-01-01' END
FROM generate_series(1, 400000) g;
CREATE TABLE order_items (id int PRIMARY KEY, order_id int NOT NULL, product_id int NOT NULL,
    qty int NOT NULL, price numeric(10,2) NOT NULL);
INSERT INTO order_items SELECT g, 1 + (g * 13) % 400000, 1 + (g * 101) % 30000, 1 + g % 4,
    (g % 700) / 3.0
FROM generate_series(1, 600000) g;
CREATE TABLE shipments (id int PRIMARY KEY, order_id int NOT NULL, carrier text NOT NULL,
    shipped_at timestamptz NOT NULL, delivered_at timestamptz);
INSERT INTO shipments SELECT g, g, 'carrier' || (g % 12),
    timestamptz '2021-01-02' + g * interval '3 minutes',
    CASE WHEN g % 30 <> 0 THEN timestamptz '2021-01-04' + g * interval '3 minutes' END
FROM generate_series(1, 300000) g;
CREATE TABLE events (id bigint PRIMARY KEY, customer_id int NOT NULL, kind text NOT NULL,
    at timestamptz NOT NULL, payload text);
INSERT INTO events SELECT g, 1 + (g * 31) % 100000, 'e' || (g % 40),
    timestamptz '2022-01-01' + g * interval '1 minute', repeat('p', 30)
FROM generate_series(1, 500000) g;
CREATE TABLE tickets (id int PRIMARY KEY, customer_id int NOT NULL, state text NOT NULL,
    priority int NOT NULL, opened_at timestamptz NOT NULL);
INSERT INTO tickets SELECT g, 1 + (g * 17) % 100000, 'st' || (g % 6), g % 5,
    timestamptz '2022-01-01' + g * interval '9 minutes'
FROM generate_series(1, 60000) g;
CREATE TABLE settings (key text PRIMARY KEY, value text);
INSERT INTO settings SELECT 'k' || g, 'v' FROM generate_series(1, 40) g;
CREATE TABLE bench_version (version int);
"""


@dataclass(frozen=True)
class Family:
    """One query shape; variants differ by select list, so pg_stat_statements sees each as
    its own statement."""

    name: str
    sql: str  # {cols} is replaced by a select list
    columns: tuple[str, ...]
    params: tuple[str, ...]  # kinds of parameter: int, text, ts, num, small
    weight: int  # how many times each variant runs


def families() -> list[Family]:
    o = ("id", "customer_id", "status", "total", "created_at", "shop_id")
    oi = ("id", "order_id", "product_id", "qty", "price")
    sh = ("id", "order_id", "carrier", "shipped_at", "delivered_at")
    ev = ("id", "customer_id", "kind", "at")
    tk = ("id", "customer_id", "state", "priority", "opened_at")
    cu = ("id", "email", "country", "segment", "score")
    pr = ("id", "sku", "category", "price")
    return [
        Family(
            "orders by customer",
            "SELECT {cols} FROM orders WHERE customer_id = $1",
            o,
            ("cust",),
            6,
        ),
        Family(
            "latest orders of a customer",
            "SELECT {cols} FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10",
            o,
            ("cust",),
            5,
        ),
        Family(
            "orders by status in a period",
            "SELECT {cols} FROM orders WHERE status = $1 AND created_at >= $2 AND created_at < $3",
            o,
            ("status", "ts", "ts"),
            2,
        ),
        Family(
            "orders of a shop by status",
            "SELECT {cols} FROM orders WHERE shop_id = $1 AND status = $2",
            o,
            ("shop", "status"),
            3,
        ),
        Family(
            "live orders of a customer",
            "SELECT {cols} FROM orders WHERE customer_id = $1 AND deleted_at IS NULL",
            o,
            ("cust",),
            4,
        ),
        Family(
            "items of an order",
            "SELECT {cols} FROM order_items WHERE order_id = $1",
            oi,
            ("order",),
            6,
        ),
        Family(
            "items of a product",
            "SELECT {cols} FROM order_items WHERE product_id = $1",
            oi,
            ("product",),
            2,
        ),
        Family(
            "items of a customer",
            "SELECT {cols} FROM order_items i JOIN orders o ON o.id = i.order_id "
            "WHERE o.customer_id = $1",
            tuple(f"i.{c}" for c in oi),
            ("cust",),
            3,
        ),
        Family(
            "shipment of an order",
            "SELECT {cols} FROM shipments WHERE order_id = $1",
            sh,
            ("order",),
            4,
        ),
        Family(
            "shipments of a carrier in a period",
            "SELECT {cols} FROM shipments WHERE carrier = $1 AND shipped_at BETWEEN $2 AND $3",
            sh,
            ("carrier", "ts", "ts"),
            1,
        ),
        Family(
            "undelivered shipments",
            "SELECT {cols} FROM shipments WHERE delivered_at IS NULL AND shipped_at < $1",
            sh,
            ("ts",),
            1,
        ),
        Family(
            "latest events of a customer",
            "SELECT {cols} FROM events WHERE customer_id = $1 ORDER BY at DESC LIMIT 20",
            ev,
            ("cust",),
            5,
        ),
        Family(
            "events of a kind in a period",
            "SELECT {cols} FROM events WHERE kind = $1 AND at > $2 AND at < $3",
            ev,
            ("kind", "ts", "ts"),
            2,
        ),
        Family(
            "event counts since",
            "SELECT kind, count(*) FROM events WHERE at > $1 GROUP BY kind",
            ("kind",),
            ("ts",),
            1,
        ),
        Family(
            "open tickets of a customer",
            "SELECT {cols} FROM tickets WHERE customer_id = $1 AND state = $2",
            tk,
            ("cust", "state"),
            3,
        ),
        Family(
            "ticket queue",
            "SELECT {cols} FROM tickets WHERE state = $1 ORDER BY priority, opened_at LIMIT 50",
            tk,
            ("state",),
            2,
        ),
        Family(
            "customer by email", "SELECT {cols} FROM customers WHERE email = $1", cu, ("email",), 5
        ),
        Family(
            "customers of a country and segment",
            "SELECT {cols} FROM customers WHERE country = $1 AND segment = $2",
            cu,
            ("country", "segment"),
            1,
        ),
        Family(
            "new customers",
            "SELECT {cols} FROM customers WHERE created_at > $1 ORDER BY created_at LIMIT 100",
            (*cu, "created_at"),
            ("ts",),
            1,
        ),
        Family("product by sku", "SELECT {cols} FROM products WHERE sku = $1", pr, ("sku",), 4),
        Family(
            "products of a category in a price range",
            "SELECT {cols} FROM products WHERE category = $1 AND price BETWEEN $2 AND $3",
            pr,
            ("category", "num", "num"),
            2,
        ),
        Family(
            "orders of a country",
            "SELECT {cols} FROM customers c JOIN orders o ON o.customer_id = c.id "
            "WHERE c.country = $1 AND o.created_at > $2",
            tuple(f"o.{c}" for c in o),
            ("country", "ts"),
            1,
        ),
        Family(
            "order total update",
            "UPDATE orders SET total = $1 WHERE id = $2 RETURNING {cols}",
            o,
            ("num", "order"),
            3,
        ),
        Family(
            "old events of a customer",
            "SELECT {cols} FROM events WHERE customer_id = $1 AND at < $2",
            ev,
            ("cust", "ts"),
            2,
        ),
        Family(
            "biggest orders",
            "SELECT {cols} FROM orders WHERE total > $1 ORDER BY total DESC LIMIT 5",
            o,
            ("num",),
            1,
        ),
        Family(
            "setting",
            "SELECT {cols} FROM settings WHERE key = $1",
            ("key", "value"),
            ("setting",),
            3,
        ),
    ]


def value(kind: str, rng: random.Random) -> object:
    import datetime as dt

    base = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    return {
        "cust": lambda: rng.randint(1, 100000),
        "order": lambda: rng.randint(1, 400000),
        "product": lambda: rng.randint(1, 30000),
        "status": lambda: f"s{rng.randint(0, 4)}",
        "shop": lambda: rng.randint(0, 249),
        "carrier": lambda: f"carrier{rng.randint(0, 11)}",
        "kind": lambda: f"e{rng.randint(0, 39)}",
        "state": lambda: f"st{rng.randint(0, 5)}",
        "email": lambda: f"c{rng.randint(1, 100000)}@example.com",
        "country": lambda: f"k{rng.randint(0, 79)}",
        "segment": lambda: f"s{rng.randint(0, 3)}",
        "sku": lambda: f"sku-{rng.randint(1, 30000)}",
        "category": lambda: rng.randint(0, 299),
        "num": lambda: rng.randint(1, 600),
        "setting": lambda: f"k{rng.randint(1, 40)}",
        "ts": lambda: base + dt.timedelta(days=rng.randint(0, 300)),
    }[kind]()


def statements(fams: list[Family], variants: int) -> list[tuple[Family, str]]:
    """Up to ``variants`` select lists per family: prefixes and pairs of its columns."""
    out: list[tuple[Family, str]] = []
    for fam in fams:
        if "{cols}" not in fam.sql:
            out.append((fam, fam.sql))
            continue
        lists: list[tuple[str, ...]] = [("*",) if "JOIN" not in fam.sql else fam.columns]
        lists += [fam.columns[:n] for n in range(1, len(fam.columns) + 1)]
        lists += list(itertools.combinations(fam.columns, 2))
        seen: list[str] = []
        for cols in lists:
            text = fam.sql.format(cols=", ".join(cols))
            if text not in seen:
                seen.append(text)
            if len(seen) == variants:
                break
        out.extend((fam, text) for text in seen)
    return out


def url_for(base: str, database: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path="/" + database))


async def prepare_database(admin_url: str) -> str:
    admin = await asyncpg.connect(admin_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DB):
            await admin.execute(f"CREATE DATABASE {DB}")
    finally:
        await admin.close()
    url = url_for(admin_url, DB)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        version = None
        if await conn.fetchval("SELECT to_regclass('bench_version')"):
            version = await conn.fetchval("SELECT max(version) FROM bench_version")
        if version != DATA_VERSION:
            started = time.monotonic()
            await conn.execute(SCHEMA)
            await conn.execute("VACUUM ANALYZE")
            await conn.execute("INSERT INTO bench_version VALUES ($1)", DATA_VERSION)
            print(f"built {DB} in {time.monotonic() - started:.1f} s")
    finally:
        await conn.close()
    return url


async def run_workload(
    url: str, work: list[tuple[Family, str]], seed: int
) -> tuple[list[Statement], float]:
    """Run every statement ``weight`` times (UPDATEs rolled back); the rows are what
    pg_stat_statements would hold, with the time measured here, so the figures do not
    depend on another client resetting pg_stat_statements meanwhile."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(url)
    started = time.monotonic()
    rows: list[Statement] = []
    try:
        with contextlib.suppress(asyncpg.PostgresError):
            await conn.execute(
                "SELECT pg_stat_statements_reset(0, "
                "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
            )
        tr = conn.transaction()
        await tr.start()
        try:
            for n, (fam, text) in enumerate(work):
                spent = 0.0
                for _ in range(fam.weight):
                    args = [value(k, rng) for k in fam.params]
                    t0 = time.perf_counter()
                    await conn.fetch(text, *args)
                    spent += (time.perf_counter() - t0) * 1000.0
                rows.append(Statement(f"s{n}", text, fam.weight, spent, database=DB))
        finally:
            await tr.rollback()
    finally:
        await conn.close()
    return rows, time.monotonic() - started


async def time_suggest(url: str, repeat: int) -> tuple[list[float], Advice]:
    """``engine.suggest()`` end to end: snapshot, pg_stat_statements, advice."""
    times = []
    advice = Advice()
    for _ in range(repeat):
        engine = PostgresEngine(url, ConnectOptions(read_only=True, statement_timeout_ms=5000))
        await engine.connect()
        try:
            started = time.perf_counter()
            advice = await engine.suggest()
            times.append(time.perf_counter() - started)
        finally:
            await engine.close()
    return times, advice


async def time_advise(url: str, rows: list[Statement], repeat: int) -> tuple[list[float], Advice]:
    """The advisor on the measured rows (the same work, whatever pg_stat_statements holds)."""
    times = []
    advice = Advice()
    for _ in range(repeat):
        conn = await asyncpg.connect(
            url,
            server_settings={"statement_timeout": "5000", "default_transaction_read_only": "on"},
        )
        try:
            started = time.perf_counter()
            advice = await advise_connection(conn, statements=rows)
            times.append(time.perf_counter() - started)
        finally:
            await conn.close()
    return times, advice


def report(title: str, times: list[float], advice: Advice) -> None:
    extra = advice.extra
    print(
        f"\n{title}: median {statistics.median(times):.2f} s, min {min(times):.2f} s "
        f"over {len(times)} runs"
    )
    print(
        f"  statements {extra['statements']}, analyzed {extra['analyzed']}, "
        f"candidates {extra['candidates']}, what-if costings {extra['evaluations']}, "
        f"EXPLAINs {extra['explains']}, plan mode {extra['plan_mode']}, "
        f"hypopg resets {extra['hypopg_resets']}"
    )
    relative = extra["workload_relative_cost_after"]
    costed = extra["workload_share_costed"]
    print(
        f"  suggested {len(advice.suggestions)} index(es); time-weighted planner cost of "
        f"the costed statements ({costed:.0%} of the time): 1.000 -> {relative:.3f}"
    )


async def greedy_vs_exhaustive(url: str, rows: list[Statement], per_table: int, max_k: int) -> None:
    conn = await asyncpg.connect(url, server_settings={"statement_timeout": "5000"})
    try:
        built = await build_workload(conn, rows)
        workload = built.workload
        settings = default_settings(built.server.version)
        generated = generate(workload, settings)
        oracle = PlannerOracle(conn, version=built.server.version, hypopg=True)
        await oracle.begin()
        try:
            await oracle.prepare(workload.queries)
            candidates, _ = await oracle.validate(generated.candidates)
            none: frozenset[Candidate] = frozenset()
            base_raw = await oracle.costs(none, workload.queries)
            base = {q: c for q, c in base_raw.items() if c}
            # a statement's cost depends only on the candidates on its own tables
            cache: dict[tuple[frozenset[Candidate], str], float] = {}
            reach = {q.id: workload.reaches(q) for q in workload.queries}

            async def objective(chosen: frozenset[Candidate]) -> float:
                after = dict(base)
                todo: dict[frozenset[Candidate], list] = {}
                for q in workload.queries:
                    if q.id not in base:
                        continue
                    mine = frozenset(c for c in chosen if c.table in reach[q.id])
                    if not mine:
                        continue
                    if (mine, q.id) in cache:
                        after[q.id] = cache[(mine, q.id)]
                    else:
                        todo.setdefault(mine, []).append(q)
                for mine, qs in todo.items():
                    for qid, cost in (await oracle.costs(mine, qs)).items():
                        value = cost if cost is not None else base[qid]
                        cache[(mine, qid)] = value
                        after[qid] = value
                return relative_cost(workload, base, after)

            # the subset: each table's best candidates on their own, so that the sets
            # mix complements (other tables) and substitutes (the same table)
            alone: dict[object, list[tuple[float, str, Candidate]]] = {}
            for cand in candidates:
                score = await objective(frozenset({cand}))
                alone.setdefault(cand.table, []).append((score, cand.label, cand))
            pool = [c for entries in alone.values() for _, _, c in sorted(entries)[:per_table]]
            today = await objective(none)
            print(
                f"\ngreedy vs exhaustive over {len(pool)} candidates (the {per_table} best of "
                f"each of {len(alone)} tables); objective: time-weighted relative cost"
            )
            print(
                f"  {'k':>2}  {'best':>7}  {'greedy':>7}  {'share':>6}  "
                f"{'greedy*':>7}  {'share':>6}  sets"
            )
            # the search measures read cost alone: so does the greedy here (its weighing of
            # the writes' upkeep, which the full run above includes, is left out)
            reads_only = dataclasses.replace(workload, writes={})
            for k in range(1, max_k + 1):
                results = []
                for margin in (settings.tie_margin, 0.0):
                    picked = await select(
                        reads_only,
                        pool,
                        oracle,
                        AdvisorSettings(
                            covering=settings.covering,
                            max_suggestions=k,
                            min_benefit=0.0,
                            tie_margin=margin,
                        ),
                        oracle.sizes,
                    )
                    results.append(await objective(frozenset(c.candidate for c in picked.chosen)))
                best, tried = today, 0
                for combo in itertools.combinations(pool, k):
                    tried += 1
                    best = min(best, await objective(frozenset(combo)))

                def got(value: float, best: float = best) -> str:
                    return f"{(today - value) / (today - best):6.1%}" if today > best else "  -"

                print(
                    f"  {k:>2}  {best:7.4f}  {results[0]:7.4f}  {got(results[0])}  "
                    f"{results[1]:7.4f}  {got(results[1])}  {tried}"
                )
            print(
                "  share: part of the best set's saving the greedy's set gets; greedy* without "
                "the preference for a smaller index on near-ties"
            )
        finally:
            await oracle.close()
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a superuser URL (default: a private server)")
    parser.add_argument("--families", type=int, default=26)
    parser.add_argument("--variants", type=int, default=8)
    parser.add_argument("--per-table", type=int, default=2)
    parser.add_argument("--max-k", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    server = None
    if args.url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.servers import postgres

        server = postgres.start(databases=("postgres",))
        if not server.hypopg:
            server.stop()
            raise SystemExit("hypopg is not installed (apt-get install postgresql-15-hypopg)")
        args.url = server.url("postgres")
    try:
        await run(args)
    finally:
        if server is not None:
            server.stop()


async def run(args: argparse.Namespace) -> None:
    url = await prepare_database(args.url)
    fams = families()[: args.families]
    work = statements(fams, args.variants)
    rows, ran = await run_workload(url, work, args.seed)
    print(
        f"workload: {len(fams)} families, {len(work)} statements, "
        f"{sum(f.weight for f, _ in work)} executions in {ran:.1f} s"
    )
    times, advice = await time_suggest(url, args.repeat)
    report("engine.suggest() (statements from pg_stat_statements)", times, advice)
    times, advice = await time_advise(url, rows, args.repeat)
    report("advise_connection() on the measured workload", times, advice)
    for s in advice.suggestions:
        print(f"    {s.statement}  ({s.cost_before:,.0f} -> {s.cost_after:,.0f})")
    _calls_cost(advice)
    await greedy_vs_exhaustive(url, rows, args.per_table, args.max_k)


def _calls_cost(advice: Advice) -> None:
    """Σ calls × planner cost of the whole workload, today and with the suggestions."""
    served: dict[str, tuple[int, float, float]] = {}
    for s in advice.suggestions:
        for q in s.queries:
            if q.cost_before is not None and q.cost_after is not None:
                served[q.query] = (q.calls or 0, q.cost_before, q.cost_after)
    before = sum(c * b for c, b, _ in served.values())
    after = sum(c * a for c, _, a in served.values())
    if before:
        print(
            f"  Σ calls × cost over the {len(served)} statements served: {before:,.0f} -> "
            f"{after:,.0f} ({1 - after / before:.1%} lower)"
        )


if __name__ == "__main__":
    asyncio.run(main())
