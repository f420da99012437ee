"""Bad input ends in one clear line: wrong credentials, a port that is not MongoDB, nothing
listening, no answer, a bad URL, a server that goes away mid-poll."""

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from dbtop.engines.mongodb import MongoEngine
from dbtop.errors import AuthError, ConnectError, DbtopError, UsageError
from tests.integration.mongodb.conftest import options


class FakePort:
    """A TCP port that is not MongoDB: it answers with ``reply`` or says nothing."""

    def __init__(self, reply: bytes | None, *, hang_up: bool = True) -> None:
        self.reply = reply
        self.hang_up = hang_up
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.clients.append(client)
            if self.reply is not None:
                try:
                    client.recv(4096)
                    client.sendall(self.reply)
                    if self.hang_up:
                        client.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        for client in self.clients:
            client.close()


@pytest.fixture
def http_port() -> Iterator[int]:
    fake = FakePort(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", hang_up=False)
    yield fake.port
    fake.close()


@pytest.fixture
def closing_port() -> Iterator[int]:
    fake = FakePort(b"")
    yield fake.port
    fake.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    fake = FakePort(None)
    yield fake.port
    fake.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def connect_error(url: str, timeout: float = 1.0) -> DbtopError:
    engine = MongoEngine(url, options(connect_timeout_s=timeout))
    with pytest.raises(DbtopError) as err:
        await engine.connect()
    await engine.close()
    message = str(err.value)
    assert "\n" not in message
    return err.value


async def test_wrong_credentials(mongo):
    url = f"mongodb://app:s3cret@localhost:{mongo.port}/shop?serverMonitoringMode=poll"
    err = await connect_error(url)
    assert isinstance(err, AuthError)
    assert str(err) == (
        f"authentication failed for user 'app' at app@localhost:{mongo.port}/shop: check the "
        "user name, the password and authSource (the database the user was created in)"
    )
    assert "s3cret" not in str(err)
    assert mongo.commands("saslStart")


async def test_a_port_that_speaks_http(http_port):
    err = await connect_error(f"mongodb://127.0.0.1:{http_port}/")
    assert isinstance(err, ConnectError)
    assert str(err).startswith(f"cannot reach MongoDB at 127.0.0.1:{http_port}: ")
    # pymongo's async reader reports the bad reply either as a protocol error or as a closed
    # connection (a race inside the driver): both messages say what is wrong
    assert "not a MongoDB" in str(err)


async def test_a_port_that_hangs_up(closing_port):
    err = await connect_error(f"mongodb://127.0.0.1:{closing_port}/")
    assert isinstance(err, ConnectError)
    assert "closed the connection during the MongoDB handshake" in str(err)


async def test_nothing_listening():
    port = free_port()
    err = await connect_error(f"mongodb://127.0.0.1:{port}/")
    assert isinstance(err, ConnectError)
    assert str(err) == (
        f"cannot reach MongoDB at 127.0.0.1:{port}: 127.0.0.1:{port}: connection refused: "
        "is mongod or mongos running on this port?"
    )


async def test_server_selection_timeout(silent_port):
    # bounded by the connect timeout, not a hang: a hang fails here, long before pytest's
    # own timeout (a guard, not a measurement)
    err = await asyncio.wait_for(
        connect_error(f"mongodb://127.0.0.1:{silent_port}/", timeout=0.5), 30
    )
    assert isinstance(err, ConnectError)
    assert "no answer to the MongoDB handshake within 0.5s" in str(err)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mongodb://", "names no host"),
        ("mongodb://h:notaport/", "bad MongoDB URL"),
        ("mongodb://h/?readPreference=sometimes", "bad MongoDB URL option: Not a valid read"),
        ("mongodb://u:pw@h/?authMechanism=NOPE", "bad MongoDB URL option: authmechanism"),
        ("mongodb://h/?tls=ture", "bad MongoDB URL option: The value of tls"),
        ("mongodb://h,i/?directConnection=true", "Cannot specify multiple hosts"),
        ("mongodb://h/?tls=true&tlsCAFile=/nonexistent/ca.pem", "not readable"),
    ],
)
async def test_bad_urls(url, message):
    with pytest.raises(UsageError) as err:
        engine = MongoEngine(url, options())
        await engine.connect()
    assert message in str(err.value)
    assert "pw@" not in str(err.value)


async def test_no_url():
    with pytest.raises(UsageError, match="MongoDB URL is needed"):
        MongoEngine(None, options())


async def test_server_goes_away_mid_poll(engine, world):
    await engine.snapshot()
    world.hangup.add("serverstatus")
    with pytest.raises(ConnectError) as err:
        await engine.snapshot()
    assert "lost the connection to MongoDB" in str(err.value)
    assert "\n" not in str(err.value)
    world.hangup.clear()
    snap = await engine.snapshot()  # the client reconnects by itself
    assert snap.server.version == "7.0.12"


async def test_close_twice_and_before_connect(mongo):
    engine = MongoEngine(mongo.url, options())
    await engine.close()
    await engine.connect()
    await engine.close()
    await engine.close()
    with pytest.raises(ConnectError, match="not connected"):
        await engine.snapshot()


async def test_a_server_that_requires_authentication(engine, world):
    world.require_auth = True
    with pytest.raises(AuthError) as err:
        await engine.snapshot()
    assert str(err.value) == (
        f"MongoDB at {engine.address} requires authentication: put the user in the URL "
        "(mongodb://USER:PASSWORD@host/?authSource=admin)"
    )
