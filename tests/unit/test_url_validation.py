"""Every URL part is honoured as the engine's own client would, or refused with one line."""

from __future__ import annotations

import argparse
from urllib.parse import parse_qs, urlsplit

import pytest

from dbtop.cli.password import resolve, with_password
from dbtop.engines.postgresql.connection import prepare_url
from dbtop.engines.redis.connection import parse_target
from dbtop.errors import UsageError

# -- PostgreSQL: libpq's parameters ------------------------------------------------------


def _query(url: str | None) -> dict[str, list[str]]:
    assert url is not None
    return parse_qs(urlsplit(url).query)


def test_pg_host_in_the_query_is_the_socket_directory() -> None:
    url, timeout = prepare_url("postgresql:///test?host=/some/dir&port=5433")
    assert _query(url) == {"host": ["/some/dir"], "port": ["5433"]}
    assert timeout is None


def test_pg_query_host_overrides_the_one_before_the_path_as_in_libpq() -> None:
    url, _ = prepare_url("postgresql://u:pw@localhost:6000/test?host=/some/dir")
    parts = urlsplit(url)
    assert parts.hostname is None
    assert parts.username == "u" and parts.password == "pw"
    assert _query(url) == {"host": ["/some/dir"], "port": ["6000"]}


def test_pg_query_port_keeps_an_ipv6_host_bracketed() -> None:
    url, _ = prepare_url("postgresql://u@[::1]:6000/test?port=7000")
    assert _query(url) == {"port": ["7000"], "host": ["[::1]"]}


@pytest.mark.parametrize(("given", "seconds"), [("10", 10.0), ("1", 2.0), (" 3", 3.0)])
def test_pg_connect_timeout_is_taken_as_libpq_does(given: str, seconds: float) -> None:
    url, timeout = prepare_url(f"postgresql://h/db?connect_timeout={given}&sslmode=prefer")
    assert timeout == seconds
    assert _query(url) == {"sslmode": ["prefer"]}  # never sent to the server as a setting


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://h/db?connect_timeout=0", "connect_timeout"),
        ("postgresql://h/db?connect_timeout=ten", "connect_timeout"),
        ("postgresql://h/db?bogus=1", "bogus"),
        ("postgresql://h/db?keepalives=1", "keepalives"),
        ("postgresql://h/db?application_name=x", "application_name"),
        ("postgresql://h:0/db", "port"),
        ("postgresql://h:70000/db", "port"),
        ("postgresql://h:abc/db", "port"),
        ("postgresql://h/db?port=0", "port"),
        ("postgresql://h/db?port=5432,99999", "port"),
        ("mysql://h/db", "PostgreSQL"),
    ],
)
def test_pg_refusals_name_the_part(url: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as caught:
        prepare_url(url)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://h/db?sslmode=require&target_session_attrs=read-write",
        "postgresql://h/db?options=-c%20work_mem%3D4MB&service=x&passfile=/p",
        "postgresql://[::1]:5433,h2/db",
        "postgresql:///db",
    ],
)
def test_pg_libpq_parameters_asyncpg_honours_pass(url: str) -> None:
    prepare_url(url)


# -- Redis ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://h/notanumber", "number"),
        ("redis://h/0/extra", "one database"),
        ("redis://h/-1", "number"),
        ("redis://h:0", "port 0"),
        ("redis://h:70000", "malformed"),
        ("redis://h:abc", "malformed"),
        ("redis://h?db=abc", "malformed"),
        ("redis://h?foo=1", "foo"),
        ("redis://h?socket_timeout=9", "--statement-timeout"),
        ("redis://h?ssl_cert_reqs=none", "rediss://"),
    ],
)
def test_redis_refusals_name_the_part(url: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as caught:
        parse_target(url, {})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "db"),
    [("redis://h", 0), ("redis://h/", 0), ("redis://h/3", 3), ("redis://h?db=5", 5)],
)
def test_redis_database_numbers(url: str, db: int) -> None:
    assert parse_target(url, {}).db == db


def test_rediss_takes_tls_parameters() -> None:
    target = parse_target("rediss://h?ssl_cert_reqs=none&ssl_check_hostname=false", {})
    assert target.scheme == "rediss"


# -- passwords off the command line -----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql://u:p%40ss%2Fw@h/db"),
        ("postgresql://u:old@h/db", "postgresql://u:p%40ss%2Fw@h/db"),
        ("postgresql:///db?host=/s", "postgresql://:p%40ss%2Fw@/db?host=/s"),
        ("mysql://root@127.0.0.1:3306/test", "mysql://root:p%40ss%2Fw@127.0.0.1:3306/test"),
        ("redis://h:1/2", "redis://:p%40ss%2Fw@h:1/2"),
        ("mongodb://u@a,b/db", "mongodb://u:p%40ss%2Fw@a,b/db"),
    ],
)
def test_with_password(url: str, expected: str) -> None:
    assert with_password(url, "p@ss/w") == expected


def test_with_password_on_a_redis_socket_uses_the_query() -> None:
    target = parse_target(with_password("unix:///run/r.sock?db=1", "s3&cret"), {})
    assert target.kwargs["password"] == "s3&cret"
    assert target.db == 1


def test_mongodb_password_needs_a_user() -> None:
    with pytest.raises(UsageError, match="user name"):
        with_password("mongodb://h/db", "x")


def test_dbtop_password_from_the_environment() -> None:
    args = argparse.Namespace(url="redis://h", password=False)
    resolve(args, {"DBTOP_PASSWORD": "sekrit"})
    assert parse_target(args.url, {}).kwargs["password"] == "sekrit"


def test_a_password_in_the_url_wins_over_dbtop_password() -> None:
    args = argparse.Namespace(url="redis://:given@h", password=False)
    resolve(args, {"DBTOP_PASSWORD": "sekrit"})
    assert args.url == "redis://:given@h"


# -- MongoDB: pymongo validates; its refusals are one line, naming the option -----------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mongodb://127.0.0.1:1/?foo=1&appName=x", "option foo"),
        ("mongodb://127.0.0.1:70000", "Port"),
        ("mongodb://127.0.0.1:1/?tls=ture", "tls"),
        ("mongodb://127.0.0.1:1/a/b", "database"),
    ],
)
def test_mongodb_refusals_are_one_line(url: str, says: str) -> None:
    from dbtop.engines.base import ConnectOptions
    from dbtop.engines.mongodb.connection import HeartbeatLog, make_client

    with pytest.raises(UsageError, match=says) as caught:
        make_client(url, ConnectOptions(), "dbtop", 1000, HeartbeatLog())
    assert "\n" not in str(caught.value)


# -- MySQL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://h:0/db", "port"),
        ("mysql://h:70000/db", "malformed"),
        ("mysql://h/db/extra", "one database"),
        ("mysql://h/db?charset=latin1", "charset"),
        ("mysql://h/db?ssl-mode=sometimes", "ssl-mode"),
    ],
)
def test_mysql_refusals_name_the_part(url: str, says: str) -> None:
    from dbtop.engines.mysql.url import parse_url

    with pytest.raises(UsageError, match=says) as caught:
        parse_url(url, environ={}, option_files=[])
    assert "\n" not in str(caught.value)


def test_a_mongodb_client_needs_no_heartbeat_log():
    # pymongo refuses event_listeners=None: a client made without a heartbeat log was
    # reported as a bad URL
    from dbtop.engines.base import ConnectOptions
    from dbtop.engines.mongodb.connection import make_client

    client = make_client("mongodb://127.0.0.1:1/?connect=false", ConnectOptions(), "dbtop", 1000)
    assert client is not None
