"""The flight recorder's cost and the replay's speed (issue 15's figures).

    .venv/bin/python benchmarks/recorder.py [--minutes 10] [--skip-24h]

1. Recorder CPU over a bare poll loop, at 2,000 sessions (200 active) and a 1 s interval:
   the poll is the same with or without the recorder (the same Poller), so what recording
   adds is ``RecordingWriter.append`` per sample: encode, delta, zstd, SQLite commit. It is
   timed on process CPU (``time.process_time``) over ``--minutes`` of simulated samples
   shaped like the real PostgreSQL snapshot in tests/ui/data (2,000 sessions, 200 active
   whose durations move every second, 10 a second starting a new statement, 300
   statements whose counters grow), and given as % of one core at one sample a second.
2. File growth per hour, busy (the load above) and idle (the same 2,000 sessions, idle, and
   a small idle server of 10 sessions): bytes written over the run, scaled to an hour.
3. Replay: a 1-hour recording of the busy load and a 24-hour one at 1 s (86,400 samples, a
   lighter 50-session snapshot so that it is written in a minute); time to the first frame
   (opening the file and decoding sample 0, and the TUI in a pty until it says REPLAY), and
   the time to jump to a random moment (a cold decode: keyframe, then up to 59 deltas).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.ui.recorded import load_snapshots  # noqa: E402

from dbtop.model import Snapshot, Statement  # noqa: E402
from dbtop.recording.reader import Recording  # noqa: E402
from dbtop.recording.writer import RecordingWriter  # noqa: E402


class Load:
    """Snapshots one second apart, shaped like a real PostgreSQL's."""

    def __init__(self, sessions: int, active: int, statements: int, *, busy: bool) -> None:
        self.base = load_snapshots()[0]
        template = self.base.sessions[0]
        self.rng = random.Random(15)
        self.busy = busy
        self.sessions = [
            dataclasses.replace(
                template,
                id=str(10_000 + n),
                application=f"app-{n % 40}",
                client=f"10.0.{n // 250}.{n % 250}:{40_000 + n}",
                state="active" if n < active else "idle",
                is_idle=n >= active,
                in_transaction=n < active,
                query=f"SELECT * FROM orders WHERE customer_id = {n} AND status = 'open'",
                duration_s=float(n % 60) if n < active else None,
                xact_age_s=float(n % 60) if n < active else None,
                wait=None if n % 3 else "IO:DataFileRead",
                waiting_on_lock=False,
                blocked_by=(),
            )
            for n in range(sessions)
        ]
        self.active = active
        self.statements = [
            Statement(
                id=str(n),
                query=f"SELECT * FROM t{n % 30} WHERE id = $1 AND kind = $2 /* {n} */",
                calls=1000 + n,
                total_ms=5000.0 + n,
                mean_ms=5.0,
                rows=1000 + n,
                user="app",
                database="shop",
            )
            for n in range(statements)
        ]
        self.n = 0

    def next(self) -> Snapshot:
        self.n += 1
        if self.busy:
            for i in range(self.active):
                s = self.sessions[i]
                self.sessions[i] = dataclasses.replace(
                    s, duration_s=(s.duration_s or 0) + 1.0, xact_age_s=(s.xact_age_s or 0) + 1
                )
            for i in self.rng.sample(range(self.active), min(10, self.active)):  # new ones
                self.sessions[i] = dataclasses.replace(
                    self.sessions[i],
                    query="UPDATE orders SET status = 'paid' WHERE id = "
                    + str(self.rng.randint(1, 10**7)),
                    duration_s=0.0,
                    wait=self.rng.choice(
                        (None, "Lock:tuple", "IO:DataFileRead", "LWLock:WALWrite")
                    ),
                )
            busy = min(60, len(self.statements))
            for i in self.rng.sample(range(len(self.statements)), busy):  # busy statements
                st = self.statements[i]
                calls = self.rng.randint(1, 50)
                self.statements[i] = dataclasses.replace(
                    st,
                    calls=st.calls + calls,
                    total_ms=st.total_ms + calls * 3.1,
                    rows=(st.rows or 0) + calls,
                )
        counters = {
            k: v + self.n * (100 if self.busy else 0) for k, v in self.base.server.counters.items()
        }
        return dataclasses.replace(
            self.base,
            taken_at=self.base.taken_at + timedelta(seconds=self.n),
            monotonic=self.base.monotonic + self.n,
            server=dataclasses.replace(
                self.base.server,
                counters=counters,
                uptime_s=(self.base.server.uptime_s or 0) + self.n,
            ),
            sessions=tuple(self.sessions),
            statements=tuple(self.statements),
            lock_waits=(),
            rates=None,
        )


def write(path: Path, load: Load, samples: int) -> tuple[float, int]:
    """CPU seconds spent in append() per sample, and the file's size."""
    writer = RecordingWriter(
        path, source="postgresql://bench@db/shop", engine="postgresql", interval_s=1.0
    )
    spent = 0.0
    for _ in range(samples):
        snapshot = load.next()  # building the sample is the poll's, not the recorder's
        started = time.process_time()
        writer.append(snapshot)
        spent += time.process_time() - started
    writer.close()
    return spent / samples, path.stat().st_size


def first_frame(path: Path) -> float:
    started = time.perf_counter()
    with Recording(path) as rec:
        rec.snapshot(0)
    return time.perf_counter() - started


def jumps(path: Path, count: int = 20) -> list[float]:
    rng = random.Random(7)
    times = []
    with Recording(path) as rec:
        n = len(rec)
        for _ in range(count):
            index = rng.randrange(1, n)
            rec._cache.clear()  # cold: as after a jump far away
            started = time.perf_counter()
            rec.snapshot(index)
            times.append(time.perf_counter() - started)
    return times


def tui_first_frame(path: Path) -> float | None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from _terminal import Terminal
    except ImportError:
        return None
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{ROOT / 'src'}:{env_path}"
    started = time.perf_counter()
    term = Terminal([sys.executable, "-m", "dbtop.cli", "replay", str(path)])
    try:
        term.read_until(b"REPLAY")
        return time.perf_counter() - started
    finally:
        term.close()


def mb(size: float) -> str:
    return f"{size / 1e6:.2f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="simulated minutes per load")
    parser.add_argument("--skip-24h", action="store_true")
    args = parser.parse_args()
    samples = int(args.minutes * 60)
    out = Path(tempfile.mkdtemp(prefix="dbtop-bench-rec-"))

    busy_cpu, busy_size = write(out / "busy.rec", Load(2000, 200, 300, busy=True), samples)
    idle_cpu, idle_size = write(out / "idle2000.rec", Load(2000, 0, 300, busy=False), samples)
    small_cpu, small_size = write(out / "idle10.rec", Load(10, 0, 20, busy=False), samples)
    scale = 3600 / samples
    print(f"recorder, {samples} samples at 1 s (CPU of append() = what recording adds to a poll)")
    print(
        f"  busy 2,000 sessions (200 active): {busy_cpu * 1000:.2f} ms/sample = "
        f"{busy_cpu * 100:.2f}% of a core; file {mb(busy_size * scale)}/hour"
    )
    print(
        f"  idle 2,000 sessions:              {idle_cpu * 1000:.2f} ms/sample = "
        f"{idle_cpu * 100:.2f}% of a core; file {mb(idle_size * scale)}/hour"
    )
    print(
        f"  idle server, 10 sessions:         {small_cpu * 1000:.2f} ms/sample = "
        f"{small_cpu * 100:.2f}% of a core; file {mb(small_size * scale)}/hour"
    )

    hour = out / "hour.rec"
    write(hour, Load(2000, 200, 300, busy=True), 3600)
    recordings = [("1 h, 2,000 sessions", hour)]
    if not args.skip_24h:
        day = out / "day.rec"
        write(day, Load(50, 10, 50, busy=True), 86_400)
        recordings.append(("24 h, 50 sessions", day))
    for label, path in recordings:
        opened = statistics.median(first_frame(path) for _ in range(5))
        tui = tui_first_frame(path)
        jumped = jumps(path)
        print(
            f"replay {label} ({mb(path.stat().st_size)}): first frame {opened * 1000:.0f} ms"
            + (f", TUI shows REPLAY after {tui * 1000:.0f} ms" if tui is not None else "")
            + f"; jump to a random moment median {statistics.median(jumped) * 1000:.0f} ms, "
            f"max {max(jumped) * 1000:.0f} ms"
        )
    print(f"(files in {out})")


if __name__ == "__main__":
    main()
