"""PostgreSQL's connection service file, read as libpq reads it.

``service=NAME`` (in a URL's query, or ``dbtop NAME``) is looked up in ``$PGSERVICEFILE`` or
``~/.pg_service.conf`` first and, only when not there, in ``$PGSYSCONFDIR/pg_service.conf``
(``/etc/postgresql-common`` on Debian when PGSYSCONFDIR is unset). The service's keys fill
what the URL leaves out; the URL wins. dbtop expands the service itself (asyncpg reads the
user's file but not the system one), so the screen and the JSON show where it connects.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from dbtop.errors import UsageError

#: libpq's compiled-in sysconfdir on Debian and Ubuntu (pg_config --sysconfdir)
DEFAULT_SYSCONFDIR = "/etc/postgresql-common"
#: keys that become the URL's parts; any other key is passed as a query parameter
_URL_KEYS = ("host", "hostaddr", "port", "dbname", "user", "password")


def service_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    files: list[Path] = []
    if env.get("PGSERVICEFILE"):
        files.append(Path(env["PGSERVICEFILE"]).expanduser())
    else:
        files.append(Path(env.get("HOME") or Path.home()) / ".pg_service.conf")
    files.append(Path(env.get("PGSYSCONFDIR") or DEFAULT_SYSCONFDIR) / "pg_service.conf")
    return files


def _read(path: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the service file {path}: {exc}") from None
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise UsageError(f"the service file {path} is malformed: {exc.message}") from None
    return parser


def lookup(name: str, environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The service's keys, from the first file that defines it; None when none does."""
    for path in service_files(environ):
        parser = _read(path)
        if parser is not None and parser.has_section(name):
            return dict(parser.items(name))
    return None


def is_service(name: str, environ: Mapping[str, str] | None = None) -> bool:
    return lookup(name, environ) is not None


def service_url(name: str, environ: Mapping[str, str] | None = None) -> str:
    """``postgresql://…`` for the service ``name``; UsageError when no file defines it."""
    keys = lookup(name, environ)
    if keys is None:
        files = " or ".join(str(p) for p in service_files(environ))
        raise UsageError(f"no service {name!r} in {files}")
    return _to_url(keys, {})


def expand(url: str, environ: Mapping[str, str] | None = None) -> str:
    """``url`` with its ``service=NAME`` query replaced by the service's keys (the URL's
    own parts win); any other URL unchanged."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == "service"]
    if not names:
        return url
    keys = lookup(names[-1], environ)
    if keys is None:
        files = " or ".join(str(p) for p in service_files(environ))
        raise UsageError(f"no service {names[-1]!r} in {files}")
    given: dict[str, str] = {k: v for k, v in query if k != "service"}
    if parts.hostname:
        given["host"] = parts.hostname
    if parts.port:
        given["port"] = str(parts.port)
    if parts.username:
        given["user"] = parts.username
    if parts.password:
        given["password"] = parts.password
    if parts.path.strip("/"):
        given["dbname"] = parts.path.strip("/")
    return _to_url(keys, given)


def _to_url(service: Mapping[str, str], given: Mapping[str, str]) -> str:
    keys = {**service, **given}
    keys.pop("service", None)
    host = keys.get("host", "")
    query = {k: v for k, v in keys.items() if k not in _URL_KEYS}
    if host.startswith("/"):  # a socket directory: libpq's host= query form
        query["host"] = host
        host = ""
    if keys.get("hostaddr") and not host:
        host = keys["hostaddr"]
    netloc = host if ":" not in host else f"[{host}]"
    if keys.get("port"):
        netloc += f":{keys['port']}"
    if keys.get("user"):
        auth = quote(keys["user"], safe="")
        if keys.get("password"):
            auth += ":" + quote(keys["password"], safe="")
        netloc = f"{auth}@{netloc}"
    path = "/" + quote(keys["dbname"], safe="") if keys.get("dbname") else ""
    return urlunsplit(("postgresql", netloc, path, urlencode(query), ""))
