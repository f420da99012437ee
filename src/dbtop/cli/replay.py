"""``dbtop replay FILE``: a recording in the TUI; ``--info`` and ``--at TIME --json`` for
scripts (docs/recording.md, docs/json.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dbtop.cli import render
from dbtop.cli.snapshot import snapshot_document
from dbtop.errors import UsageError
from dbtop.humanize import human_bytes, human_seconds
from dbtop.recording import timespec
from dbtop.recording.reader import Recording, RecordingInfo
from dbtop.safetext import one_line

HELP = (
    "Replay a recording of `dbtop record`: the TUI on the recorded time line, or "
    "--info, or the snapshot at one moment (--at TIME [--json])."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="a recording of dbtop record")
    parser.add_argument(
        "--info",
        action="store_true",
        help="print the server, the time range, the sample count and the gaps",
    )
    parser.add_argument(
        "--at",
        default=None,
        metavar="TIME",
        help="the sample at TIME: ISO 8601 (2026-12-02T03:12:00Z; no offset: local time), "
        "HH:MM[:SS], +SECONDS from the start, -SECONDS from the end",
    )
    parser.add_argument(
        "--json", action="store_true", help="with --at: print it as `dbtop snapshot --json`"
    )
    # the TUI's own options (its --all also lists idle sessions of --at's report)
    from dbtop.cli.tui import add_ui_arguments

    add_ui_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.json and args.at is None:
        raise UsageError("--json needs --at TIME (the TUI shows the whole recording)")
    recording = Recording(args.file)
    if args.info or args.at is not None:
        with recording:
            if args.info:
                print_info(recording.info())
                return 0
            return print_at(recording, args)
    from dbtop.ui.timeline.run import run_replay

    return run_replay(recording, args)


def _when(moment: object) -> str:
    return "-" if moment is None else str(moment)


def print_info(info: RecordingInfo) -> None:
    span = (info.last - info.first).total_seconds() if info.first and info.last else 0.0
    lines = [
        f"recording  {info.path} (format {info.version}, {human_bytes(info.size_bytes)})",
        f"server     {one_line(info.source)}"
        + (f" · {one_line(info.server_version)}" if info.server_version else ""),
        f"from       {_when(info.first)}",
        f"to         {_when(info.last)}  ({human_seconds(span)})",
        f"samples    {info.samples}"
        + (f" every {info.interval_s:g}s" if info.interval_s else "")
        + f", {info.runs} run{'s' if info.runs != 1 else ''} of the recorder",
        f"gaps       {len(info.gaps)}",
    ]
    for gap in info.gaps:
        lines.append(
            f"  {gap.start} → {gap.end}  ({human_seconds(gap.seconds)})  {one_line(gap.reason)}"
        )
    print("\n".join(lines))


def print_at(recording: Recording, args: argparse.Namespace) -> int:
    if not len(recording):
        raise UsageError(f"{args.file}: the recording holds no sample yet")
    first, last = recording.time_of(0), recording.time_of(len(recording) - 1)
    moment = timespec.moment(args.at, first, last)
    index = recording.index_at(moment)
    if index is None:
        raise UsageError(f"{args.at} is before the recording starts ({first})")
    if moment > last and (moment - last).total_seconds() > 2 * (recording.interval_s() or 1):
        raise UsageError(f"{args.at} is after the recording ends ({last})")
    for gap in recording.gaps():
        if gap.start < moment < gap.end:
            print(
                f"dbtop: {args.at} falls in a gap ({gap.reason}); the sample before it, "
                f"at {gap.start}",
                file=sys.stderr,
            )
    snapshot = recording.snapshot(index)
    if args.json:
        print(json.dumps(snapshot_document(snapshot), indent=2, ensure_ascii=False))
        return 0
    out = render.console()
    out.print(f"sample at {snapshot.taken_at}")
    for part in render.snapshot_report(snapshot, include_idle=args.all):
        out.print(part)
        out.print()
    return 0
