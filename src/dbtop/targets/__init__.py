"""Named targets: the config file's servers and groups, PostgreSQL's service file, and the
passwords they name (from the environment, a 0600 file or a command), resolved into what
the engines connect to. Textual-free and driver-free: the CLI resolves, the UI never sees
a password."""

from dbtop.targets.model import Target
from dbtop.targets.resolve import resolve_targets

__all__ = ["Target", "resolve_targets"]
