"""One resolved target: a name the screen may show, the URL to connect to, its options."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Target:
    #: what the overview, the JSON document and the metrics call it (never a password)
    name: str
    #: the URL without any password (display, logs, JSON)
    url: str | None
    #: the password to put into the URL in memory at connect time (repr hides it)
    password: str | None = field(default=None, repr=False)
    #: per-target options; None: the command line's
    read_only: bool | None = None
    interval_s: float | None = None
    statement_timeout_s: float | None = None
    #: where it came from: "url", "config", "group NAME", "service"
    origin: str = "url"
