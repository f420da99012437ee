"""The ``$n`` parameters of a statement text (pg_stat_statements and extended-protocol
clients show ``$1`` where the values were), found before anything is sent: EXPLAIN
ANALYZE runs a statement, so it needs a value for each, and the UI asks for them first.

A lexical scan, not a parse: ``$n`` inside a quoted string, a quoted identifier, a
dollar-quoted body or a comment is not a parameter.
"""

from __future__ import annotations

import re

_TOKENS = re.compile(
    r"""
      '(?:[^']|'')*'              # a string
    | "(?:[^"]|"")*"              # a quoted identifier
    | --[^\n]*                    # a line comment
    | /\*.*?\*/                   # a block comment
    | (?P<tag>\$[A-Za-z_]\w*\$|\$\$).*?(?P=tag)   # a dollar-quoted body
    | \$(?P<n>\d+)                # a parameter
    """,
    re.VERBOSE | re.DOTALL,
)


def parameter_numbers(text: str | None) -> list[int]:
    """The distinct parameter numbers in ``text``, in order (``[1, 2]`` for ``$2 … $1``)."""
    if not text:
        return []
    found = {int(m.group("n")) for m in _TOKENS.finditer(text) if m.group("n")}
    return sorted(found)
