"""``dbtop kill``: cancel a session's query, or terminate the session, after a confirmation."""

from __future__ import annotations

import argparse
import sys

from dbtop.analysis.lockgraph import build_lock_forest, release_phrase
from dbtop.cli.common import add_url_argument, connected, redact, run_async
from dbtop.engines.base import Engine
from dbtop.errors import RefusedError, UsageError
from dbtop.model import KillMode, KillResult, Session
from dbtop.safetext import one_line

HELP = "Cancel the current query of a session (or terminate it with --terminate)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser)
    parser.add_argument("id", metavar="ID", help="the session id (pid, thread id, client id, opid)")
    parser.add_argument(
        "--terminate",
        action="store_true",
        help="end the whole session, not only its current query",
    )
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def describe(session: Session | None, session_id: str) -> str:
    if session is None:
        return f"session {session_id} (not in the current snapshot)"
    who = "@".join(p for p in (session.user, session.database) if p) or "?"
    what = one_line(session.query, 100) or "(no query)"
    state = one_line(session.state) or "?"
    return f"session {session_id} {who} [{state}]: {what}"


def confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("this needs a confirmation: run it in a terminal, or pass --yes")
    try:
        answer = input(f"{prompt} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


async def _kill(args: argparse.Namespace) -> KillResult:
    mode = KillMode.TERMINATE if args.terminate else KillMode.CANCEL
    engine: Engine
    async with connected(args) as engine:
        # Idle sessions too: what is confirmed is what the engine checks before sending.
        engine.include_idle = True
        snapshot = await engine.snapshot()
        session = snapshot.session(args.id)
        if session is not None and session.is_self:
            raise RefusedError(f"session {args.id} is dbtop's own connection")
        if not args.yes:
            verb = "Terminate" if args.terminate else "Cancel the query of"
            frees = release_phrase(build_lock_forest(snapshot.lock_waits), args.id)
            tail = f": {frees}" if frees else ""
            if not confirm(f"{verb} {describe(session, args.id)}{tail}?"):
                raise RefusedError("not confirmed: nothing was done")
        # The engine sends only if the id still names the session shown above: the answer
        # may come long after the lookup, and the id may have been reused since.
        return await engine.kill(args.id, mode, expected=session)


def run(args: argparse.Namespace) -> int:
    if args.read_only:
        raise RefusedError("kill is refused in --read-only mode")
    if args.url is None and "://" in args.id:
        # argparse gave the only word to ID: the URL came without an id, it is not one.
        raise UsageError(f"which session? the id is missing: dbtop kill {redact(args.id)} ID")
    if not args.id.strip():
        raise UsageError("the session id is empty")
    result = run_async(lambda: _kill(args))
    print(one_line(result.message))
    return 0 if result.ok else 1
