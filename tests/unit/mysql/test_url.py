"""Connection targets: the URL, option files and the environment, in the client's order."""

from __future__ import annotations

import pytest

from dbtop.engines.mysql.url import parse_url, read_option_files
from dbtop.errors import UsageError


def target(url, env=None, files=()):
    return parse_url(url, environ=env or {}, option_files=list(files))


def test_url_parts_and_address_without_password():
    t = target("mysql://app:s%40cret@db.example:3307/shop")
    assert (t.user, t.password, t.host, t.port, t.database) == (
        "app",
        "s@cret",
        "db.example",
        3307,
        "shop",
    )
    assert t.password_source == "URL" and t.socket is None
    assert t.address == "app@db.example:3307/shop" and "s@cret" not in repr(t)


def test_mariadb_scheme_and_defaults():
    t = target("mariadb://10.0.0.9", env={"USER": "ops"})
    assert (t.user, t.host, t.port, t.database, t.password) == ("ops", "10.0.0.9", 3306, None, None)


def test_socket_from_query_or_encoded_host(tmp_path):
    sock = tmp_path / "my.sock"
    sock.touch()
    assert target(f"mysql://root@localhost/db?socket={sock}").socket == str(sock)
    encoded = str(sock).replace("/", "%2F")
    t = target(f"mysql://root@{encoded}/db")
    assert t.socket == str(sock) and t.host is None
    assert t.address == f"root@{sock}/db"


def test_localhost_means_the_socket_like_the_client(tmp_path):
    sock = tmp_path / "mysqld.sock"
    sock.touch()
    t = target("mysql://root@localhost/db", env={"MYSQL_UNIX_PORT": str(sock)})
    assert t.socket == str(sock)
    # An explicit port means TCP; a socket that does not exist falls back to TCP.
    assert (
        target("mysql://root@localhost:3306/db", env={"MYSQL_UNIX_PORT": str(sock)}).socket is None
    )
    t = target("mysql://root@localhost/db", env={"MYSQL_UNIX_PORT": str(tmp_path / "none")})
    assert t.socket is None and t.host == "127.0.0.1"


def test_option_file_then_environment(tmp_path):
    cnf = tmp_path / ".my.cnf"
    cnf.write_text(
        "[mysqld]\npassword = server-side\n"
        '[client]\nuser = fromfile\npassword = "p#ss word"  # comment\nport=3310\n'
        "[dbtop]\nhost = dbhost\n"
    )
    t = target("mysql://", env={"MYSQL_PWD": "env-pw"}, files=[cnf])
    assert (t.user, t.password, t.host, t.port) == ("fromfile", "p#ss word", "dbhost", 3310)
    assert t.password_source == str(cnf)
    # The URL wins over the file, the file over MYSQL_PWD.
    t = target("mysql://other:url-pw@h/", env={"MYSQL_PWD": "env-pw"}, files=[cnf])
    assert (t.user, t.password, t.password_source) == ("other", "url-pw", "URL")
    t = target("mysql://other@h/", env={"MYSQL_PWD": "env-pw"})
    assert (t.password, t.password_source) == ("env-pw", "MYSQL_PWD")


def test_option_file_includes_and_loose_prefix(tmp_path):
    extra = tmp_path / "conf.d"
    extra.mkdir()
    (extra / "a.cnf").write_text("[client]\nloose-ssl-ca = /etc/ca.pem\n")
    (extra / "ignored.txt").write_text("[client]\nuser = nobody\n")
    main = tmp_path / "my.cnf"
    main.write_text(f"!includedir {extra}\n[client-server]\nsocket = /x.sock\n")
    values, sources = read_option_files([main])
    assert values["ssl-ca"] == "/etc/ca.pem" and values["socket"] == "/x.sock"
    assert "user" not in values and sources["ssl-ca"].endswith("a.cnf")


def test_ssl_modes():
    assert target("mysql://h/?ssl=true").ssl_mode == "required"
    assert target("mysql://h/?ssl-mode=VERIFY_IDENTITY").ssl_mode == "verify_identity"
    assert target("mysql://h/").ssl_mode == "preferred"
    with pytest.raises(UsageError, match="ssl-mode"):
        target("mysql://h/?ssl-mode=sometimes")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://h/db", "not a MySQL URL"),
        ("mysql://h:99999/db", "malformed"),
        ("mysql://h/db?colour=red", "unknown MySQL URL parameter"),
        ("mysql://h/a/b", "one database"),
    ],
)
def test_bad_urls(url, message):
    with pytest.raises(UsageError, match=message):
        target(url)
