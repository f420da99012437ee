"""What a wait-event sampler inside the server saw between two polls (pg_wait_sampling).

dbtop's own look at pg_stat_activity happens once per poll; pg_wait_sampling's collector
looks at every backend every ``profile_period`` (10 ms by default) and counts what each
one waits on. The PostgreSQL engine reads those counts each poll and keeps the increase
since the previous poll: a :class:`WaitProfile` in ``Snapshot.wait_profile``, which the load
view (analysis.load) turns into average active sessions.

Compact on purpose, since a recording stores it every sample: one row per backend, wait
event and statement that gained samples, as a plain tuple.
"""

from __future__ import annotations

from dataclasses import dataclass

#: one row: (pid, the wait as ``Type:Event`` or None when on CPU, queryid or None, samples)
WaitCount = tuple[int, str | None, int | None, int]


@dataclass(frozen=True, slots=True)
class WaitProfile:
    """The samples taken between the previous poll and this one, idle ones left out."""

    #: the sampler's period, milliseconds (pg_wait_sampling.profile_period)
    period_ms: float
    #: seconds between the two reads (dbtop's clock)
    seconds: float
    #: how many times the sampler looked in that time: the most samples any one backend
    #: gained (an idle backend waits, so it is seen at every look); 0 when unknown
    #: (pids not profiled: then seconds / period)
    looks: int = 0
    #: the samples of sessions doing something (not idle, not dbtop's own)
    #: (the row type spelled out: the recording's decoder resolves hints in dbtop.model)
    counts: tuple[tuple[int, str | None, int | None, int], ...] = ()
    #: pg_wait_sampling.profile_pid: False means every pid is 0 (no user or database slices)
    per_pid: bool = True
    #: whether a backend on CPU (no wait event) is sampled (pg_wait_sampling.sample_cpu;
    #: versions before 1.1.5 sample waits only)
    cpu_sampled: bool = True

    @property
    def sampler_looks(self) -> float:
        """How many samples of each backend the counts stand on."""
        if self.looks > 0:
            return float(self.looks)
        return self.seconds * 1000.0 / self.period_ms if self.period_ms > 0 else 0.0
