"""Errors that reach the user as one clear line (and exit status 2 in the CLI).

Engines translate their driver's exceptions into these; anything else is a bug.
"""

from __future__ import annotations


class DbtopError(Exception):
    """A problem the user can act on; ``str(err)`` is the whole message, one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Messages may quote server text: keep them on one line.
        super().__init__(" ".join(str(message).split()))


class UsageError(DbtopError):
    """Bad arguments: a malformed URL, an unknown scheme, a missing option."""


class ConnectError(DbtopError):
    """The server could not be reached (refused, unreachable, timed out, not that protocol)."""


class AuthError(DbtopError):
    """The server refused the credentials."""


class PrivilegeError(DbtopError):
    """The role lacks a privilege; the message names the grant to add."""


class NotFoundError(DbtopError):
    """A session, statement or object that does not exist (any more)."""


class RefusedError(DbtopError):
    """dbtop refuses on purpose: read-only mode, its own connection, a write in explain."""


class QueryError(DbtopError):
    """The server rejected a statement the user gave (explain of invalid SQL …)."""
