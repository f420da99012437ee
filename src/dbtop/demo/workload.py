"""The demo's live traffic: what a DBA would meet on a small shop's database.

Each actor has its own connection and ``application_name``, so every pane shows something
recognisable:

- ``demo-shop`` (3 connections): steady point lookups, inserts and updates, all indexed.
- ``demo-account-history``: a customer's order history by ``customer_id``, a column without
  an index: the slow query family that wants ``CREATE INDEX ON orders (customer_id)``.
- ``demo-price-batch`` -> ``demo-checkout`` -> ``demo-cart``: a three-deep lock chain that
  forms for ``LOCK_HOLD_S`` seconds every ``LOCK_PERIOD_S``. The root blocker is busy in a
  statement (not idle), so cancelling it with ``k`` releases the whole chain.
- ``demo-report``: a session left idle in a transaction that holds a snapshot.

Every actor survives what a user does from the UI: a cancelled query or a terminated
session costs it one round, then it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any

import asyncpg

from dbtop.demo import schema

# One actor of the workload: started as a task, it runs until cancelled.
Actor = Callable[[], Coroutine[Any, Any, None]]

APP_SHOP = "demo-shop"
APP_SLOW = "demo-account-history"
APP_ROOT_BLOCKER = "demo-price-batch"
APP_WAITER = "demo-checkout"
APP_SECOND_WAITER = "demo-cart"
APP_IDLE_IN_TRANSACTION = "demo-report"
APPLICATIONS = (
    APP_SHOP,
    APP_SLOW,
    APP_ROOT_BLOCKER,
    APP_WAITER,
    APP_SECOND_WAITER,
    APP_IDLE_IN_TRANSACTION,
)

SHOP_CONNECTIONS = 3
#: how long the root blocker holds its row lock, and how often the chain forms
LOCK_HOLD_S = 8.0
LOCK_PERIOD_S = 12.0
#: how long the report session stays idle inside its transaction before starting another
IDLE_TRANSACTION_S = 120.0
IDLE_POLL_S = 0.25
#: the slow family's pace: about three full scans of ``orders`` a second
SLOW_PAUSE_S = (0.2, 0.45)
SHOP_PAUSE_S = (0.01, 0.05)
RECONNECT_PAUSE_S = 1.0

#: what a user's kill or a vanished server throws at an actor: it starts over
_ACTOR_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

_log = logging.getLogger(__name__)

SLOW_HISTORY = (
    "SELECT id, product_id, status, total, created_at FROM orders "
    "WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20"
)
SLOW_SUMMARY = "SELECT count(*), coalesce(sum(total), 0) FROM orders WHERE customer_id = $1"


class Workload:
    """``await Workload(url).run(stop)`` drives the server until ``stop`` is set.

    ``ready`` is set once every actor has connected, so that a caller announces the demo
    only when all its sessions are there.
    """

    def __init__(self, url: str, *, seed: int | None = None) -> None:
        self.url = url
        self.rng = random.Random(seed)
        self.ready = asyncio.Event()
        self._connected: set[str] = set()
        self._actors = 0
        self._recent_orders: list[int] = []

    async def run(self, stop: asyncio.Event) -> None:
        actors: list[Actor] = [
            *(self._shop_actor(i) for i in range(SHOP_CONNECTIONS)),
            self._slow_actor(),
            self._lock_chain_actor(),
            self._idle_actor(),
        ]
        self._actors = SHOP_CONNECTIONS + 5  # the lock chain has three connections
        tasks = [asyncio.create_task(actor()) for actor in actors]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ connections

    async def _connect(self, application: str, key: str, **settings: str) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self.url,
            timeout=10,
            server_settings={"application_name": application, **settings},
        )
        self._connected.add(key)
        if len(self._connected) >= self._actors:
            self.ready.set()
        return conn

    async def _loop(
        self,
        application: str,
        key: str,
        body: Callable[[asyncpg.Connection], Awaitable[None]],
        **settings: str,
    ) -> None:
        """Run ``body`` round after round on one connection, reconnecting after errors."""
        conn: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    if conn is None or conn.is_closed():
                        conn = await self._connect(application, key, **settings)
                    await body(conn)
                except _ACTOR_ERRORS as exc:
                    _log.debug("%s: %s: %s", key, type(exc).__name__, exc)
                    await asyncio.sleep(RECONNECT_PAUSE_S)
        finally:
            # Closing politely would wait on the server; the demo is shutting down.
            if conn is not None:
                conn.terminate()

    # ------------------------------------------------------------------ steady traffic

    def _shop_actor(self, index: int) -> Actor:
        return lambda: self._loop(APP_SHOP, f"shop-{index}", self._shop_round)

    async def _shop_round(self, conn: asyncpg.Connection) -> None:
        rng = self.rng
        product = rng.randint(max(schema.LOCKED_PRODUCTS) + 1, schema.PRODUCTS)
        customer = rng.randint(1, schema.CUSTOMERS)
        pick = rng.random()
        if pick < 0.30:
            await conn.fetchrow(
                "SELECT id, name, price, stock FROM products WHERE id = $1", product
            )
        elif pick < 0.48:
            await conn.fetchrow(
                "SELECT id, name, country FROM customers WHERE email = $1",
                f"customer{customer}@example.com",
            )
        elif pick < 0.62:
            await conn.fetchrow(
                "SELECT id, status, total FROM orders WHERE id = $1",
                rng.randint(1, schema.ORDERS),
            )
        elif pick < 0.76:
            await self._place_order(conn, customer, product)
        elif pick < 0.86:
            if self._recent_orders:
                await conn.execute(
                    "UPDATE orders SET status = 'shipped' WHERE id = $1 AND status = 'pending'",
                    self._recent_orders.pop(0),
                )
        elif pick < 0.96:
            await conn.fetch(
                "SELECT id, customer_id, total, created_at FROM orders "
                "ORDER BY created_at DESC LIMIT 10"
            )
        else:
            await conn.fetch(
                "SELECT category, count(*), avg(price) FROM products GROUP BY category"
            )
        await asyncio.sleep(rng.uniform(*SHOP_PAUSE_S))

    async def _place_order(self, conn: asyncpg.Connection, customer: int, product: int) -> None:
        quantity = self.rng.randint(1, 3)
        async with conn.transaction():
            price = await conn.fetchval(
                "UPDATE products SET stock = stock - $2 WHERE id = $1 RETURNING price",
                product,
                quantity,
            )
            order_id = await conn.fetchval(
                "INSERT INTO orders (customer_id, product_id, quantity, status, total) "
                "VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
                customer,
                product,
                quantity,
                Decimal(price or 0) * quantity,
            )
        self._recent_orders.append(int(order_id))
        del self._recent_orders[:-100]

    # ------------------------------------------------------------------ the slow family

    def _slow_actor(self) -> Actor:
        return lambda: self._loop(APP_SLOW, "slow", self._slow_round)

    async def _slow_round(self, conn: asyncpg.Connection) -> None:
        customer = self.rng.randint(1, schema.CUSTOMERS)
        query = SLOW_HISTORY if self.rng.random() < 0.6 else SLOW_SUMMARY
        await conn.fetch(query, customer)
        await asyncio.sleep(self.rng.uniform(*SLOW_PAUSE_S))

    # ------------------------------------------------------------------ the lock chain

    def _lock_chain_actor(self) -> Actor:
        return self._lock_chain

    async def _lock_chain(self) -> None:
        """Rounds of: root takes product 1 and sleeps in a statement; the waiter takes
        product 2 then queues for product 1; the second waiter queues for product 2."""
        names = {
            "root": APP_ROOT_BLOCKER,
            "waiter": APP_WAITER,
            "second": APP_SECOND_WAITER,
        }
        conns: dict[str, asyncpg.Connection] = {}
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                try:
                    for key, application in names.items():
                        if key not in conns or conns[key].is_closed():
                            # A waiter never waits forever, whatever happens to the root.
                            conns[key] = await self._connect(
                                application, f"lock-{key}", lock_timeout="60s"
                            )
                    await self._lock_round(conns["root"], conns["waiter"], conns["second"])
                except _ACTOR_ERRORS as exc:
                    _log.debug("lock chain: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(max(LOCK_PERIOD_S - (loop.time() - started), 1.0))
        finally:
            for conn in conns.values():
                conn.terminate()

    async def _lock_round(
        self, root: asyncpg.Connection, waiter: asyncpg.Connection, second: asyncpg.Connection
    ) -> None:
        first, middle = schema.LOCKED_PRODUCTS
        root_holds = asyncio.Event()
        waiter_holds = asyncio.Event()

        async def hold() -> None:
            try:
                async with root.transaction():
                    await root.execute(
                        "UPDATE products SET price = round(price * 1.01, 2) WHERE id = $1", first
                    )
                    root_holds.set()
                    await root.execute("SELECT pg_sleep($1)", LOCK_HOLD_S)
            finally:
                root_holds.set()

        async def wait_for_root() -> None:
            await root_holds.wait()
            try:
                async with waiter.transaction():
                    await waiter.execute(
                        "UPDATE products SET stock = stock - 1 WHERE id = $1", middle
                    )
                    waiter_holds.set()
                    await waiter.execute(
                        "UPDATE products SET stock = stock - 1 WHERE id = $1", first
                    )
            finally:
                waiter_holds.set()

        async def wait_for_waiter() -> None:
            await waiter_holds.wait()
            # Let the waiter reach its lock wait first, so the chain is three deep.
            await asyncio.sleep(0.2)
            async with second.transaction():
                await second.execute("UPDATE products SET stock = stock - 1 WHERE id = $1", middle)

        results = await asyncio.gather(
            hold(), wait_for_root(), wait_for_waiter(), return_exceptions=True
        )
        for result in results:
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException) and not isinstance(result, _ACTOR_ERRORS):
                raise result
            if isinstance(result, BaseException):
                _log.debug("lock chain round: %s: %s", type(result).__name__, result)

    # ------------------------------------------------------------------ idle in transaction

    def _idle_actor(self) -> Actor:
        return lambda: self._loop(APP_IDLE_IN_TRANSACTION, "idle", self._idle_round)

    async def _idle_round(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction(isolation="repeatable_read"):
            await conn.fetch(
                "SELECT category, count(*) FROM products WHERE price > $1 GROUP BY category",
                Decimal(100),
            )
            # The report tool's user went for coffee: the session sits idle in the transaction,
            # until the transaction ends or a DBA terminates the session (then it comes back
            # at once, as a connection pool would).
            deadline = asyncio.get_running_loop().time() + IDLE_TRANSACTION_S
            while asyncio.get_running_loop().time() < deadline and not conn.is_closed():
                await asyncio.sleep(IDLE_POLL_S)
            if conn.is_closed():
                raise asyncpg.ConnectionDoesNotExistError("terminated while idle in transaction")
