"""Server text read as raw bytes, so that no byte a session can store breaks a poll.

Every way PostgreSQL sends text converts it from the database's encoding to the client's
(UTF-8 for asyncpg) or, from a SQL_ASCII database, validates it: one backend holding
``0xff`` in its query, or a role or database named with such bytes, fails the whole query
(``invalid byte sequence for encoding "UTF8"``). ``textsend`` does the same conversion, and
``convert_to`` validates its input against the database's encoding (which fails in a UTF-8
database for a query text read from a SQL_ASCII one: pg_stat_activity shows other
databases' texts as they are). ``decode(text, 'escape')`` only copies bytes (with the
backslashes doubled first, since it reads ``\\`` and ``\\nnn`` escapes), checking nothing:
the text arrives as ``bytea``, exact, and is decoded here with replacement characters.
"""

from __future__ import annotations

import codecs

#: PostgreSQL encodings that Python names differently (asyncpg's table, for the server side)
_CODECS = {
    "euc_cn": "euc_cn",
    "euc_jp": "euc_jp",
    "euc_kr": "euc_kr",
    "koi8r": "koi8_r",
    "koi8u": "koi8_u",
    "win866": "cp866",
    "win874": "cp874",
    **{f"win{n}": f"cp{n}" for n in range(1250, 1259)},
}


def raw(expr: str, alias: str | None = None) -> str:
    """The SQL that reads text expression ``expr`` as exact bytes (named ``alias``)."""
    sql = rf"decode(replace(({expr})::text, E'\\', E'\\\\'), 'escape')"
    return f"{sql} AS {alias}" if alias else sql


def server_codec(server_encoding: str | None) -> str | None:
    """The Python codec of a database encoding other than UTF-8 and SQL_ASCII, if known.

    SQL_ASCII stores whatever the clients sent, most often UTF-8: it gets UTF-8 with
    replacement, as UTF-8 does."""
    name = (server_encoding or "").lower().replace("-", "")
    if name in ("", "utf8", "unicode", "sql_ascii"):
        return None
    name = _CODECS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode(raw_bytes: bytes | None, codec: str | None = None) -> str | None:
    """Bytes from :func:`raw` as text: UTF-8 when they are (pg_stat_activity shows other
    databases' texts in their own encoding), else the database's own encoding, else
    UTF-8 with U+FFFD for each byte that is not."""
    if raw_bytes is None:
        return None
    try:
        return raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return raw_bytes.decode(codec or "utf-8", "replace")
