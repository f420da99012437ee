"""Progress of Redis's own long work: loading the data set at start-up, a BGSAVE, an AOF
rewrite, from INFO persistence (already read by every poll). None of it runs on a client
connection, so it is reported as a Finding whose ``extra["progress"]`` is the Progress
(the Health pane and ``dbtop health`` show it), not on a session row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from dbtop.analysis.progress import build
from dbtop.model import Finding, Severity, frozen
from dbtop.progress import Progress

NodeInfo = tuple[str | None, Mapping[str, str], Mapping[str, str]]


def _num(info: Mapping[str, str], name: str) -> float | None:
    try:
        return float(info[name])
    except (KeyError, ValueError):
        return None


def _eta(progress: Progress, eta: float | None) -> Progress:
    """With the server's own estimate of the time left (Redis computes it for loading)."""
    return progress if eta is None or eta < 0 else replace(progress, eta_s=eta)


def _saving(info: Mapping[str, str], command: str, elapsed: str) -> Progress:
    """A fork child's work: keys written of the keys there were (Redis 7), else percent."""
    done, total = _num(info, "current_save_keys_processed"), _num(info, "current_save_keys_total")
    return build(
        command,
        f"running for {info.get(elapsed, '?')} s",
        done,
        total,
        "keys",
        server_percent=_num(info, "current_fork_perc"),
    )


def findings(nodes: Sequence[NodeInfo]) -> list[Finding]:
    out: list[Finding] = []
    for node, info, _config in nodes:
        obj = node or "server"
        if info.get("loading") == "1":
            progress = _eta(
                build(
                    "loading",
                    "reading the RDB / AOF file",
                    _num(info, "loading_loaded_bytes"),
                    _num(info, "loading_total_bytes"),
                    "bytes",
                    server_percent=_num(info, "loading_loaded_perc"),
                ),
                _num(info, "loading_eta_seconds"),
            )
            out.append(
                Finding(
                    "loading",
                    obj,
                    f"{obj} is loading its data set ({progress.short()}): it answers "
                    "LOADING to every command until done",
                    Severity.WARNING,
                    extra=frozen(progress=progress),
                )
            )
        for flag, command, elapsed in (
            ("rdb_bgsave_in_progress", "BGSAVE", "rdb_current_bgsave_time_sec"),
            ("aof_rewrite_in_progress", "BGREWRITEAOF", "aof_current_rewrite_time_sec"),
        ):
            if info.get(flag) == "1":
                progress = _saving(info, command, elapsed)
                out.append(
                    Finding(
                        "persistence_in_progress",
                        f"{obj} {command}",
                        f"{command} is running on {obj} ({progress.short()}): its fork "
                        "copies pages on write, so memory grows while it lasts",
                        Severity.INFO,
                        extra=frozen(progress=progress),
                    )
                )
    return out
