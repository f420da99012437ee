"""``dbtop snapshot|kill|explain|suggest redis://…`` as a user runs them, and bad input."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest
import redis

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from dbtop.errors import AuthError, ConnectError
from tests.waiting import wait_until_sync

from .conftest import PREFIX, Server, dbtop

PG_LIKE_KEYS = ("sessions", "statements", "slow_events", "indexes", "keyspace", "lock_waits")


def test_json_snapshot_has_the_same_keys_as_every_engine(shared_url, shared):
    shared.set(f"{PREFIX}k", "v")
    run = dbtop("snapshot", shared_url, "--json", "--interval", "0.3")
    assert run.code == 0, run.err
    document = run.json()
    assert document["engine"] == "redis"
    for key in (*PG_LIKE_KEYS, "tables", "findings", "notices", "server", "rates", "extra"):
        assert key in document
    assert document["capabilities"]["labels"]["sessions"] == "Clients"
    assert document["capabilities"]["labels"]["locks"] == "Blocked"
    assert document["rates"]["interval_s"] > 0
    assert "total_commands_processed" in document["rates"]["server"]
    assert "info" in document["rates"]["statements"]
    assert any(s["is_self"] for s in document["sessions"])
    assert any(t["table"] == "db9" for t in document["tables"])


def test_human_snapshot_names_the_panes(shared_url, shared):
    run = dbtop("snapshot", shared_url, "--interval", "0", "--all")
    assert run.code == 0, run.err
    assert "Clients:" in run.out and "Blocked" in run.out and "Slow log" in run.out


def test_kill_unblocks_then_terminates_a_blpop_client(shared_url, shared):
    waiter = redis.Redis.from_url(shared_url, socket_timeout=30)
    waiter_id = waiter.client_id()
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(waiter.blpop([f"{PREFIX}q"], 0)))
    thread.start()
    try:
        wait_until_sync(
            lambda: any(
                c["id"] == str(waiter_id) and "b" in c["flags"] for c in shared.client_list()
            ),
            what="the BLPOP client blocked",
        )
        run = dbtop("kill", shared_url, str(waiter_id), "--yes")
        assert run.code == 0, run.err
        assert "unblocked" in run.out
        thread.join(10)
        assert results == [None]
        again = dbtop("kill", shared_url, str(waiter_id), "--yes")
        assert again.code == 1 and "not blocked" in again.out
        killed = dbtop("kill", shared_url, str(waiter_id), "--terminate", "--yes")
        assert killed.code == 0 and "disconnected" in killed.out
        gone = dbtop("kill", shared_url, str(waiter_id), "--terminate", "--yes")
        assert gone.code == 2 and gone.err.count("\n") == 1 and "no client" in gone.err
    finally:
        thread.join(10)
        waiter.close()


def test_kill_refused_read_only(shared_url):
    run = dbtop("kill", shared_url, "1", "--yes", "--read-only")
    assert run.code == 2 and "read-only" in run.err


def test_explain_and_suggest_json(shared_url, shared):
    shared.hset(f"{PREFIX}h", mapping={f"f{i}": i for i in range(50)})
    run = dbtop("explain", shared_url, "--query", f"HGETALL {PREFIX}h", "--json")
    assert run.code == 0, run.err
    plan = run.json()
    assert plan["engine"] == "redis" and plan["tree"]["name"] == "HGETALL"
    assert plan["tree"]["children"][0]["extra"]["length"] == 50
    assert plan["raw"]["command"]["complexity"].startswith("O(N)")
    text = dbtop("explain", shared_url, "--query", f"{PREFIX}h")
    assert text.code == 0 and "hash" in text.out

    suggest = dbtop("suggest", shared_url, "--json")
    assert suggest.code == 0, suggest.err
    assert suggest.json()["engine"] == "redis"


def one_line_error(run, *words: str) -> None:
    assert run.code == 2, (run.out, run.err)
    assert run.err.startswith("dbtop: ") and run.err.count("\n") == 1, run.err
    for word in words:
        assert word in run.err, run.err


def test_bad_input_gives_one_clear_line(private: Server):
    one_line_error(
        dbtop("snapshot", f"redis://:wrong@127.0.0.1:{private.port}/9", "--interval", "0"),
        "refused the user name or password",
    )
    run = dbtop("snapshot", f"redis://:wrong@127.0.0.1:{private.port}/9", "--interval", "0")
    assert "wrong" not in run.err  # the password never shows
    one_line_error(
        dbtop("snapshot", private.url(9, password=False), "--interval", "0"),
        "requires a password",
    )
    one_line_error(dbtop("snapshot", "redis://127.0.0.1:1/0", "--interval", "0"), "cannot reach")
    one_line_error(dbtop("snapshot", "redis://h:x/0", "--interval", "0"), "malformed")


@pytest.fixture
def not_redis_port():
    """A TCP server that answers like a web server, then hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_a_port_that_is_not_redis(not_redis_port):
    run = dbtop("snapshot", f"redis://127.0.0.1:{not_redis_port}/0", "--interval", "0")
    one_line_error(run, f"127.0.0.1:{not_redis_port}")
    assert "Redis" in run.err


async def test_engine_errors_are_typed(private: Server):
    for url, error in (
        (f"redis://:wrong@127.0.0.1:{private.port}/9", AuthError),
        (private.url(9, password=False), AuthError),
        ("redis://127.0.0.1:1/0", ConnectError),
    ):
        engine = RedisEngine(url, ConnectOptions(connect_timeout_s=2))
        with pytest.raises(error):
            await engine.connect()
        await engine.close()


def test_tls_with_and_without_the_ca(tls_server):
    server, cert = tls_server
    run = dbtop("snapshot", f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={cert}", "--json")
    assert run.code == 0, run.err
    assert run.json()["server"]["address"] == f"127.0.0.1:{server.port}/0 (TLS)"
    untrusted = dbtop("snapshot", f"rediss://127.0.0.1:{server.port}/0", "--interval", "0")
    one_line_error(untrusted, "not trusted", "ssl_ca_certs")


def test_a_sentinel_is_refused_with_a_hint(private: Server, tmp_path):
    from .conftest import REDIS_SERVER, free_port

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor dbtoptest 127.0.0.1 {private.port} 1\n"
        f"sentinel auth-pass dbtoptest {private.password}\n"
    )
    process = subprocess.Popen(
        [REDIS_SERVER, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def answers() -> bool:
            try:
                return bool(redis.Redis(port=port).ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_until_sync(answers, what="the sentinel answering")
        run = dbtop("snapshot", f"redis://127.0.0.1:{port}", "--interval", "0")
        one_line_error(run, "Sentinel", "get-master-addr-by-name")
    finally:
        process.terminate()
        process.wait(10)
