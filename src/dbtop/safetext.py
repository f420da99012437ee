"""Text shown literally and without secrets: no escape sequence from a query or a name
reaches the terminal, no password from a URL quoted in a message reaches a screen or a file.

Rich markup is never parsed from server text (the UI builds ``rich.text.Text`` objects, not
markup strings); this module removes what a terminal would interpret. It imports nothing of
dbtop's, so every layer (engines, recording, CLI, UI) may use it.
"""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and the bidi/zero-width overrides that can make text
# display differently from what it is. Tabs and newlines are folded into spaces for one-line
# cells; ``literal`` keeps newlines for multi-line views.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")


def literal(text: object, *, keep_newlines: bool = True) -> str:
    """The text with every control character shown as a visible escape (``\\x1b``)."""
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        value = bytes(text).decode("utf-8", "backslashreplace")
    else:
        value = str(text)
    value = value.replace("\t", "    ") if keep_newlines else value
    if not keep_newlines:
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), value)


def one_line(text: object, limit: int | None = None) -> str:
    """One line for a table cell: controls escaped, whitespace runs folded."""
    value = _WHITESPACE.sub(" ", literal(text, keep_newlines=False)).strip()
    if limit is not None and len(value) > limit:
        return value[: max(limit - 1, 0)] + "…"
    return value


# ``scheme://user:password@``. The password runs to the last "@" of the run of non-blank
# characters the URL is in: passwords hold unescaped "@", ":" and "/" (drivers quote the URL
# as it was typed), and hiding the rest of one word is better than showing part of a
# password. The user stops at ":" or "/", so ``user@host:port/db`` (no password) is kept.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s]*):\S*@")
# ``password=…``, ``sslpassword=…``, ``pwd=…``, ``auth_token=…`` in a query string or a
# libpq/ODBC ``key=value`` string: the value runs to the next "&" or blank.
_PARAM_PASSWORD = re.compile(r"(?P<head>\b\w*(?:pass|pwd|secret|token)\w*=)[^&\s]*", re.IGNORECASE)
REDACTED = "***"


def redact(text: str) -> str:
    """The text (a driver's error, a command line, a gap's reason) with every password of a
    URL or a secret parameter in it replaced by ``***``: ``scheme://user:***@host``,
    ``password=***``. Other text, a URL without a password included, is unchanged."""
    if "=" not in text and "://" not in text:
        return text
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{REDACTED}@", text)
    return _PARAM_PASSWORD.sub(lambda m: f"{m.group('head')}{REDACTED}", text)
