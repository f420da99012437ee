"""Real Redis servers for the engine's tests.

- ``shared_url``: the shared Redis 7 on 127.0.0.1:6379, database 9 only, keys under
  ``dbtop-test:`` (never FLUSHALL, never CONFIG SET there).
- ``private``: our own redis-server on a free port in a tmp dir, with a password and a unix
  socket, for what changes the server (slow-log threshold, busy scripts, CLIENT PAUSE,
  100,000 keys), in databases 9-12.
- ``cluster``: three redis-server nodes with cluster-enabled, joined by
  ``redis-cli --cluster create``, torn down afterwards.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.waiting import wait_until_sync

SHARED_URL = os.environ.get("DBTOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
PREFIX = "dbtop-test:"
PASSWORD = "dbtop-secret"

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    """A free loopback port (and port + 10000 free too, for a cluster bus)."""
    for _ in range(200):
        port = random.randint(20000, 40000)
        if _port_free(port) and (not with_bus or _port_free(port + 10000)):
            return port
    raise RuntimeError("no free port found")


@dataclass
class Server:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]
    password: str | None = None
    socket_path: Path | None = None
    extra: list[str] = field(default_factory=list)

    def url(self, db: int = 9, *, password: bool = True) -> str:
        auth = f":{self.password}@" if self.password and password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 9) -> redis.Redis:
        return redis.Redis(port=self.port, db=db, password=self.password)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    directory: Path, *, password: str | None = None, unix: bool = False, args: tuple[str, ...] = ()
) -> Server:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port(with_bus="--cluster-enabled" in args)
    command = [
        REDIS_SERVER,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(directory),
        "--save", "",
        "--appendonly", "no",
        "--logfile", str(directory / "redis.log"),
        "--daemonize", "no",
        *args,
    ]  # fmt: skip
    socket_path = None
    if password:
        command += ["--requirepass", password]
    if unix:
        socket_path = directory / "redis.sock"
        command += ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(port, directory, process, password, socket_path)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError("redis-server exited")
        try:
            return bool(server.client(0).ping())
        except redis.exceptions.ConnectionError:
            return False

    try:
        wait_until_sync(answers, what=f"redis-server on port {port} answering")
    except (AssertionError, RuntimeError) as exc:
        server.stop()
        log = (directory / "redis.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"redis-server did not start ({exc}): {log}") from exc
    return server


@pytest.fixture(scope="session")
def shared_url() -> str:
    client = redis.Redis.from_url(SHARED_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"the shared Redis at {SHARED_URL} is not reachable: {exc}")
    finally:
        client.close()
    return SHARED_URL


@pytest.fixture
def shared(shared_url: str) -> Iterator[redis.Redis]:
    """A plain client on the shared db 9; deletes the test's keys afterwards."""
    client = redis.Redis.from_url(shared_url)
    yield client
    keys = list(client.scan_iter(match=f"{PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("redis-private"),
        password=PASSWORD,
        unix=True,
        args=("--busy-reply-threshold", "100", "--latency-monitor-threshold", "1"),
    )
    yield server
    server.stop()


@pytest.fixture
def private_db(private: Server) -> Iterator[redis.Redis]:
    """db 9 of the private server, emptied before and after the test."""
    client = private.client(9)
    client.flushdb()
    yield client
    with contextlib.suppress(redis.exceptions.RedisError):
        client.flushdb()
        client.config_set("slowlog-log-slower-than", "10000")
        client.slowlog_reset()
    client.close()


@dataclass
class Cluster:
    nodes: list[Server]

    @property
    def entry(self) -> Server:
        return self.nodes[0]

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.entry.port}/0"

    def names(self) -> list[str]:
        return [f"127.0.0.1:{n.port}" for n in self.nodes]

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.entry.port)


def cluster_args(directory: Path) -> tuple[str, ...]:
    return (
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(directory / "nodes.conf"),
        "--cluster-node-timeout",
        "2000",
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if REDIS_CLI is None:
        pytest.skip("redis-cli is not installed")
    base = tmp_path_factory.mktemp("redis-cluster")
    nodes: list[Server] = []
    try:
        for index in range(3):
            nodes.append(
                start_server(base / f"node{index}", args=cluster_args(base / f"node{index}"))
            )
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        create = subprocess.run(
            [
                REDIS_CLI,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if create.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout}{create.stderr}")

        def cluster_ok() -> bool:
            states = [n.client(0).cluster("info").get("cluster_state") for n in nodes]
            assert all(state == "ok" for state in states), f"cluster states: {states}"
            return True

        wait_until_sync(cluster_ok, timeout=20, what="the cluster's state ok on every node")
        yield Cluster(nodes)
    finally:
        for node in nodes:
            node.stop()


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        import json

        return json.loads(self.out)


def dbtop(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    """The real CLI in its own process, as a user runs it."""
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "dbtop.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A private redis-server speaking TLS only, with a self-signed certificate."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate for the TLS test")
    directory = tmp_path_factory.mktemp("redis-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port = free_port()
    log = directory / "redis.log"
    process = subprocess.Popen(
        [
            *(REDIS_SERVER, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
            *("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"),
            *("--save", "", "--dir", str(directory), "--logfile", str(log)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(port, directory, process)

    def answers() -> bool:
        try:
            client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(cert))
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return process.poll() is not None  # exited: no TLS in this build, said below

    try:
        wait_until_sync(answers, what=f"the TLS redis-server on port {port} answering")
    except AssertionError:
        server.stop()
        raise
    if process.poll() is not None:
        pytest.skip(f"this redis-server has no TLS: {log.read_text(errors='replace')[-300:]}")
    yield server, cert
    server.stop()
