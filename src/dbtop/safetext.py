"""Server text shown literally: no escape sequence from a query or a name reaches the terminal.

Rich markup is never parsed from server text (the UI builds ``rich.text.Text`` objects, not
markup strings); this module removes what a terminal would interpret.
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
