"""The servers of the fault suite, each reachable through a ``Proxy`` the test controls.

``faulty`` gives, for each engine, a started proxy in front of a real server and the URL
that points dbtop at the proxy: the private PostgreSQL 15, the machine's MariaDB
(127.0.0.1:3306, database ``test``) and Redis (127.0.0.1:6379, database 9), used as they
are. A server that is not there skips its case with the reason.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.servers.proxy import Proxy

MARIADB = ("127.0.0.1", 3306)
REDIS = ("127.0.0.1", 6379)


#: bytes the first query of a snapshot sends (and the connect does not): ``stall_on`` them
#: to stall after the connection is made, in the CLI whose connect the test cannot wait for
SNAPSHOT_MARKERS = {
    "postgresql": b"pg_postmaster_start_time",
    "mysql": b"SHOW GLOBAL STATUS",
    "redis": b"SLOWLOG",
}


@dataclass
class Faulty:
    engine: str
    proxy: Proxy
    url: str

    @property
    def snapshot_marker(self) -> bytes:
        return SNAPSHOT_MARKERS[self.engine]


def _reachable(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        return False
    return True


def _through(url: str, proxy: Proxy) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}{proxy.host}:{proxy.port}"))


@pytest.fixture(params=["postgresql", "mysql", "redis"])
def faulty(request: pytest.FixtureRequest) -> Iterator[Faulty]:
    engine = request.param
    if engine == "postgresql":
        url = request.getfixturevalue("pg15_admin_url")
        parts = urlsplit(url)
        address = (parts.hostname or "127.0.0.1", parts.port or 5432)
        request.applymarker(pytest.mark.postgresql)
    elif engine == "mysql":
        address, url = MARIADB, "mysql://root@127.0.0.1:3306/test"
        request.applymarker(pytest.mark.mysql)
    else:
        address, url = REDIS, "redis://127.0.0.1:6379/9"
        request.applymarker(pytest.mark.redis)
    if not _reachable(address):
        pytest.skip(f"no {engine} server at {address[0]}:{address[1]}")
    with Proxy(*address) as proxy:
        yield Faulty(engine, proxy, _through(url, proxy))
