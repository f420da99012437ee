"""What a recording may say about where it came from: never a password."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# A message (a driver's error, a gap's reason) with any password in it hidden: the one
# function every layer uses (recording.writer imports it from here).
from dbtop.safetext import redact as redact

#: query parameters that carry a secret in one engine's URL or another's
_SECRET_PARAMS = re.compile(r"pass|secret|token|key|auth|sslpassword", re.IGNORECASE)


def masked_url(url: str | None) -> str:
    """``scheme://user@host:port/db?…``: the password and secret parameters dropped.

    The password is removed, not starred: a recording is a file that travels, and even its
    length is more than it needs to say. A string that is not a URL comes back as its
    scheme-less host part only when it has no ``@``; otherwise "(not shown)".
    """
    if not url:
        return "(from the environment)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(not shown)"
    if not parts.scheme:
        return "(not shown)" if "@" in url or "=" in url else url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _SECRET_PARAMS.search(k)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
