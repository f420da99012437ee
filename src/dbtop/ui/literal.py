"""Server text for Textual's own strings (border titles, notifications).

Textual reads a plain ``str`` border title as markup, so a query such as
``WHERE p ~ '[/a-z]'`` in a dialog title would be interpreted (or crash the app). These
helpers hand it over as ``Content``, which Textual takes literally, after the escapes of
dbtop.safetext.
"""

from __future__ import annotations

from textual.content import Content

from dbtop.safetext import one_line


def title(text: object, limit: int | None = None) -> Content:
    """A border title or subtitle shown exactly as the server sent it (on one line)."""
    return Content(one_line(text, limit))
