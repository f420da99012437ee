"""Command line: ``dbtop [URL]`` opens the live UI; subcommands serve runbooks and scripts.

Each subcommand lives in its own module here (``snapshot.py``, ``kill.py`` …) exposing
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; this module only dispatches,
turns every DbtopError into one line on stderr with exit status 2, and masks passwords in
the process title.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from dbtop import __version__
from dbtop.cli import password
from dbtop.cli.common import add_global_arguments, mask_process_title
from dbtop.errors import DbtopError, UsageError

#: subcommand name -> module under dbtop.cli; ``tui`` is what a bare ``dbtop [URL]`` runs.
COMMANDS = (
    "snapshot",
    "kill",
    "explain",
    "suggest",
    "profile",
    "demo",
    "health",
    "record",
    "replay",
    "exporter",
)
DEFAULT_COMMAND = "tui"


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"dbtop.cli.{name}")


class _Parser(argparse.ArgumentParser):
    """Bad usage is one line and exit status 2, like every other refusal (argparse's own
    error prints the whole usage first, which buries the reason)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _parser(command: str) -> argparse.ArgumentParser:
    module = _module(command)
    prog = "dbtop" if command == DEFAULT_COMMAND else f"dbtop {command}"
    parser = _Parser(
        prog=prog,
        description=module.HELP,
        epilog=(
            None
            if command != DEFAULT_COMMAND
            else "subcommands: " + ", ".join(COMMANDS) + " (dbtop COMMAND --help for each)"
        ),
    )
    parser.add_argument("--version", action="version", version=f"dbtop {__version__}")
    add_global_arguments(parser)
    module.add_arguments(parser)
    return parser


def _global_flags_with_value() -> frozenset[str]:
    """The global flags that take a value (``--connect-timeout 3``)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_global_arguments(parser)
    return frozenset(
        flag
        for action in parser._actions  # argparse lists its actions nowhere public
        if action.nargs != 0
        for flag in action.option_strings
    )


def _split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The subcommand named first (global flags, with their values, may precede it), else
    the UI."""
    with_value = _global_flags_with_value()
    skip = False
    for index, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            skip = arg in with_value
            continue
        if arg in COMMANDS:
            return arg, [*argv[:index], *argv[index + 1 :]]
        break
    return DEFAULT_COMMAND, list(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if argv is None:
        mask_process_title(args_in)
    if args_in[:1] in (["--version"], ["-V"]):
        print(f"dbtop {__version__}")
        return 0
    command, rest = _split_command(args_in)
    try:
        parser = _parser(command)
        args = parser.parse_args(rest)
        password.resolve(args)
        return int(_module(command).run(args) or 0)
    except DbtopError as err:
        print(f"dbtop: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `dbtop snapshot … | head`: the reader left; nothing more to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
