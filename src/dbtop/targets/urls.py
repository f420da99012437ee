"""Passwords out of URLs and back in: a target keeps its URL without the password (for the
screen, the JSON and the metrics) and the password beside it, joined only to connect."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit


def split_password(url: str | None) -> tuple[str | None, str | None]:
    """``(url without its password, the password or None)``."""
    if not url or "://" not in url:
        return url, None
    parts = urlsplit(url)
    password: str | None = None
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "password" for k, _ in query):
        password = [v for k, v in query if k == "password"][-1]
        parts = parts._replace(query=urlencode([(k, v) for k, v in query if k != "password"]))
    userinfo, at, hostspec = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user, _, secret = userinfo.partition(":")
        password = unquote(secret)
        parts = parts._replace(netloc=f"{user}@{hostspec}")
    return urlunsplit(parts), password


def display_name(url: str | None) -> str:
    """A short name for a URL target: scheme://user@host:port/db, never a password (the
    URL given to this has none left: split_password)."""
    if not url:
        return "postgresql (environment)"
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    path = parts.path if parts.path not in ("", "/") else ""
    return f"{parts.scheme}://{user + '@' if at and user else ''}{host or 'localhost'}{path}"
