"""Passwords that never pass through the command line (where ``ps`` and /proc/PID/cmdline
show them to every local user until the title is rewritten).

``-W``/``--password`` prompts on the terminal (not echoed), like psql; ``DBTOP_PASSWORD``
gives one in the environment for every engine. Either goes into the URL dbtop holds in
memory, so each engine treats it exactly as a password written in the URL. The engines' own
sources keep working when neither is given: PGPASSWORD and ~/.pgpass (asyncpg follows
libpq), MYSQL_PWD and the option files' ``[client] password`` (engines/mysql/url.py),
REDISCLI_AUTH (like redis-cli).
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from dbtop.errors import UsageError

ENV_VAR = "DBTOP_PASSWORD"


def add_password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password",
        "-W",
        action="store_true",
        help=f"ask for the password on the terminal (never echoed); or set {ENV_VAR}: "
        "both keep it off the command line",
    )


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """Put the prompted or ``DBTOP_PASSWORD`` password into ``args.url`` (in memory only)."""
    env = os.environ if environ is None else environ
    if not hasattr(args, "url"):
        return
    if isinstance(args.url, list):  # several targets (cli/targets.py): each URL word
        _resolve_words(args, env)
        return
    if getattr(args, "password", False):
        password = prompt()
    elif env.get(ENV_VAR):
        if _has_password(args.url):
            return  # what the command line says wins, as with every client
        password = env[ENV_VAR]
    else:
        return
    if args.url is None:
        # No URL is PostgreSQL from libpq's environment: PGPASSWORD is where libpq looks.
        os.environ["PGPASSWORD"] = password
        return
    args.url = with_password(args.url, password)


def _resolve_words(args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """-W or DBTOP_PASSWORD for URL words that carry no password of their own; names
    (config targets, services) have their own sources. No word: as with no URL."""
    words: list[str] = args.url
    if not words:
        single = argparse.Namespace(url=None, password=getattr(args, "password", False))
        resolve(single, env)
        return
    bare = [i for i, w in enumerate(words) if "://" in w and not _has_password(w)]
    if getattr(args, "password", False):
        password = prompt()
    elif env.get(ENV_VAR):
        password = env[ENV_VAR]
    else:
        return
    for i in bare:
        words[i] = with_password(words[i], password)


def prompt() -> str:
    try:
        with open("/dev/tty"):
            pass
    except OSError:
        raise UsageError(
            f"-W needs a terminal to ask for the password: set {ENV_VAR} instead"
        ) from None
    try:
        return getpass.getpass("Password: ")
    except EOFError:
        raise UsageError("no password given") from None


def _has_password(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    return ":" in userinfo or any(k == "password" for k, _ in parse_qsl(parts.query))


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in place of any it had."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "unix":  # redis over a socket: the netloc is empty, the query takes it
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        query = [(k, v) for k, v in query if k != "password"] + [("password", password)]
        return urlunsplit(parts._replace(query=urlencode(query)))
    userinfo, _, hostspec = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    if not user and scheme.startswith("mongodb"):
        raise UsageError("a password needs a user name in a mongodb:// URL: mongodb://USER@host")
    netloc = f"{user}:{quote(password, safe='')}@{hostspec}"
    return urlunsplit(parts._replace(netloc=netloc))
