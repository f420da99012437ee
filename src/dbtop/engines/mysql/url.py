"""Where to connect and as whom: the URL, then option files, then the environment.

The precedence is the mysql client's (libmysqlclient reads ``MYSQL_PWD`` and ``MYSQL_HOST``
only when neither the command line nor an option file gave a value): what the URL says wins,
then ``[client]``, ``[client-server]``, ``[client-mariadb]`` and ``[dbtop]`` of
``/etc/my.cnf``, ``/etc/mysql/my.cnf`` and ``~/.my.cnf`` (later files override earlier
ones, ``!include`` and ``!includedir`` followed), then ``MYSQL_PWD``, ``MYSQL_HOST``,
``MYSQL_TCP_PORT`` and ``MYSQL_UNIX_PORT``.

As with the client, ``localhost`` without a port means the Unix socket when one exists.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from dbtop.errors import UsageError

DEFAULT_PORT = 3306
SCHEMES = ("mysql", "mariadb")
#: option-file groups read, in the client's order (later groups override earlier ones)
GROUPS = ("client", "client-server", "client-mariadb", "dbtop")
#: where servers put their socket by default (Debian/Ubuntu, RHEL, upstream tarballs)
DEFAULT_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")
_SSL_MODES = ("disabled", "preferred", "required", "verify_ca", "verify_identity")
_QUERY_KEYS = {
    "socket": "socket",
    "unix_socket": "socket",
    "ssl": "ssl",
    "ssl-mode": "ssl-mode",
    "ssl_mode": "ssl-mode",
    "ssl-ca": "ssl-ca",
    "ssl_ca": "ssl-ca",
    "ssl-cert": "ssl-cert",
    "ssl_cert": "ssl-cert",
    "ssl-key": "ssl-key",
    "ssl_key": "ssl-key",
}


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved connection target; ``password`` never appears in ``repr`` or ``address``."""

    user: str
    host: str | None
    port: int
    socket: str | None
    database: str | None
    password: str | None = field(default=None, repr=False)
    #: where the password came from ("URL", "MYSQL_PWD", an option file's path), for messages
    password_source: str | None = None
    ssl_mode: str = "preferred"
    ssl_ca: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None

    @property
    def address(self) -> str:
        where = f"{self.socket}" if self.socket else f"{self.host}:{self.port}"
        text = f"{self.user}@{where}"
        return f"{text}/{self.database}" if self.database else text


def parse_url(
    url: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    option_files: Sequence[Path] | None = None,
) -> Target:
    """The target for ``url`` (``mysql://user:pw@host:port/db?socket=…``) plus defaults."""
    env = os.environ if environ is None else environ
    given = _from_url(url or "mysql://")
    files = default_option_files(env) if option_files is None else option_files
    options, sources = read_option_files(files)

    def pick(key: str) -> str | None:
        value = given.get(key)
        return value if value not in (None, "") else options.get(key)

    user = pick("user") or env.get("USER") or env.get("LOGNAME") or "root"
    password = given.get("password")
    password_source: str | None = "URL" if password is not None else None
    if password is None and options.get("password") is not None:
        password, password_source = options["password"], sources.get("password")
    if password is None and env.get("MYSQL_PWD") is not None:
        password, password_source = env["MYSQL_PWD"], "MYSQL_PWD"

    host = pick("host") or env.get("MYSQL_HOST") or None
    port_text = pick("port") or env.get("MYSQL_TCP_PORT")
    port = _port(port_text) if port_text else DEFAULT_PORT
    known_socket = pick("socket") or env.get("MYSQL_UNIX_PORT") or None
    if host and host.startswith("/"):
        known_socket, host = host, None
    socket: str | None = None
    if given.get("socket") or (given.get("host") or "").startswith("/"):
        socket = known_socket
    elif host in (None, "localhost") and not given.get("port"):
        # The client's rule: localhost is the socket; TCP when there is none.
        tried = [known_socket] if known_socket else list(DEFAULT_SOCKETS)
        socket = next((s for s in tried if Path(s).exists()), None)
    if socket is None and host in (None, "localhost"):
        host = "127.0.0.1"
    ssl_mode = _ssl_mode(pick("ssl-mode"), pick("ssl"))
    return Target(
        user=user,
        host=None if socket else host,
        port=port,
        socket=socket,
        database=pick("database") or None,
        password=password,
        password_source=password_source,
        ssl_mode=ssl_mode,
        ssl_ca=pick("ssl-ca"),
        ssl_cert=pick("ssl-cert"),
        ssl_key=pick("ssl-key"),
    )


def _from_url(url: str) -> dict[str, str | None]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"malformed MySQL URL: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise UsageError(f"not a MySQL URL: scheme {parts.scheme!r} (use mysql:// or mariadb://)")
    netloc_host = parts.netloc.rpartition("@")[2]
    if netloc_host.startswith("["):
        host = parts.hostname
    else:
        host = unquote(netloc_host.rsplit(":", 1)[0]) if netloc_host else None
    given: dict[str, str | None] = {
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password is not None else None,
        "host": host or None,
        "port": str(port) if port is not None else None,
        "database": unquote(parts.path.lstrip("/")) or None,
    }
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        name = _QUERY_KEYS.get(key.lower())
        if name is None:
            raise UsageError(
                f"unknown MySQL URL parameter {key!r}: dbtop knows "
                + ", ".join(sorted({k for k in _QUERY_KEYS if "_" not in k}))
            )
        given[name] = value
    if given["database"] and "/" in given["database"]:
        raise UsageError(
            "a MySQL URL names one database after the host: a socket path goes in "
            "?socket=/path/to/mysqld.sock or percent-encoded as the host"
        )
    return given


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise UsageError(f"not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise UsageError(f"not a port number: {text!r}")
    return port


def _ssl_mode(mode: str | None, ssl: str | None) -> str:
    if mode:
        value = mode.strip().lower()
        if value not in _SSL_MODES:
            raise UsageError(f"unknown ssl-mode {mode!r}: use one of {', '.join(_SSL_MODES)}")
        return value
    if ssl is None:
        return "preferred"
    flag = ssl.strip().lower()
    if flag in ("", "1", "true", "on", "yes", "required"):
        return "required"
    if flag in ("0", "false", "off", "no", "disabled"):
        return "disabled"
    raise UsageError(f"ssl={ssl!r}: use true or false")


# -- option files -----------------------------------------------------------------------------


def default_option_files(environ: Mapping[str, str]) -> list[Path]:
    files = [Path("/etc/my.cnf"), Path("/etc/mysql/my.cnf")]
    home = environ.get("HOME")
    if home:
        files.append(Path(home) / ".my.cnf")
    return files


def read_option_files(
    files: Iterable[Path], groups: Sequence[str] = GROUPS
) -> tuple[dict[str, str | None], dict[str, str]]:
    """The options of ``groups`` over ``files`` (later wins), and which file set each."""
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    for path in files:
        for group, key, value, origin in _read(path, depth=0):
            if group in groups:
                values[key] = value
                sources[key] = origin
    return values, sources


def _read(path: Path, depth: int) -> list[tuple[str, str, str | None, str]]:
    """(group, key, value, file) in file order; unreadable or missing files give nothing."""
    if depth > 10:
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    entries: list[tuple[str, str, str | None, str]] = []
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("!include "):
            entries.extend(_read(Path(line.split(None, 1)[1].strip()), depth + 1))
            continue
        if line.startswith("!includedir "):
            folder = Path(line.split(None, 1)[1].strip())
            try:
                names = sorted(p for p in folder.iterdir() if p.suffix == ".cnf")
            except OSError:
                names = []
            for sub in names:
                entries.extend(_read(sub, depth + 1))
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip().lower()
            continue
        key, sep, value = line.partition("=")
        name = key.strip().lower().replace("_", "-")
        if name.startswith("loose-"):
            name = name[len("loose-") :]
        entries.append((group, name, _value(value) if sep else None, str(path)))
    return entries


def _value(text: str) -> str:
    value = text.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        out: list[str] = []
        escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "s": " ", "\\": "\\"}
        i = 1
        while i < len(value):
            char = value[i]
            if char == "\\" and i + 1 < len(value):
                nxt = value[i + 1]
                out.append(escapes.get(nxt, nxt))
                i += 2
                continue
            if char == quote:
                break
            out.append(char)
            i += 1
        return "".join(out)
    # An unquoted value ends at a comment.
    for marker in (" #", "\t#"):
        cut = value.find(marker)
        if cut >= 0:
            value = value[:cut]
    return value.strip()
