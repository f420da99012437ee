"""How many keys, and how many bytes, each key pattern holds, from the rolling sample. Pure.

The sample of one database is a set of *distinct* keys (SCAN's repeats are merged by name)
gathered across refreshes, each measured (TYPE, PTTL, MEMORY USAGE). SCAN visits keys in
hash-table order, which is unrelated to their names, so the sample is close to a simple
random sample without replacement from the database's ``N`` keys (``DBSIZE``).

The keys split into two strata:

- **known exactly**: every key whose pattern has no wildcard: such a pattern *is* one key
  name (``nc:biglist``), so it counts 1 and its measured size, never scaled up by how
  small the sample is;
- **the rest** (``N_R = N - literal keys``, ``n_R`` of them sampled): a pattern's count is
  ``N_R × p`` with ``p = m / n_R`` (``m`` sampled keys of the pattern) and its memory the
  total estimator ``N_R × mean(y)``, where ``y`` is each sampled key's bytes if it belongs to
  the pattern and 0 if not; so memory / keys is the mean size of the pattern's sampled
  keys, never a figure for a few of them (the issue's "184 keys, 704 B").

The tracked biggest keys are not a stratum of their own: they are picked by size from what
was seen, so leaving them out of the rest would bias it (a first refresh would have put
every bigger pattern there and the rest at 100 % one pattern). They only keep a pattern's
count and bytes from falling below what is known to exist.

Both figures carry a 95 % margin. For the count, the Wilson score interval of ``p`` with
the finite population correction ``f = n_R / N_R`` (effective sample ``n_R / (1 - f)``),
whose larger side is stated as ±: unlike the plain normal one it does not claim 0 error
when every sampled key has the same pattern. For memory, the total estimator's margin
``1.96 · N_R · sqrt((1 - f) · s² / n_R)`` (``s²`` the sample variance of ``y``), and at least
the count's margin times the pattern's mean size. A sample that holds every key
(``n_R = N_R``, reached after one SCAN pass on a database no larger than the reservoir) has a
margin of 0 and the exact figures; on a key set that does not change the estimates converge
there, and until then the margin covers the truth about 19 times in 20.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dbtop.engines.redis.patterns import WILDCARD

#: 95 % two-sided normal quantile.
Z95 = 1.96


@dataclass(frozen=True, slots=True)
class Measured:
    """One sampled key as the estimator sees it."""

    key: bytes
    pattern: str
    bytes: int | None


@dataclass(frozen=True, slots=True)
class PatternEstimate:
    keys: int
    #: 95 % margin of ``keys`` (0: counted exactly)
    keys_margin: int
    memory_bytes: int | None
    memory_margin: int | None
    #: sampled keys of the estimated stratum, and the stratum's size and sample size
    sampled: int
    stratum_keys: int
    stratum_sampled: int

    @property
    def exact(self) -> bool:
        return self.keys_margin == 0 and not self.memory_margin


def is_literal(pattern: str) -> bool:
    """A pattern with no wildcard names exactly one key."""
    return WILDCARD not in pattern


def estimate_patterns(
    db_size: int,
    sample: Iterable[Measured],
    extra_known: Iterable[Measured] = (),
) -> dict[str, PatternEstimate]:
    """Per pattern: keys and bytes with their 95 % margins (see the module doc).

    ``sample`` is the reservoir (distinct keys); ``extra_known`` the tracked biggest keys
    that are no longer in it (known to exist, sampled in an earlier pass).
    """
    literal: dict[bytes, Measured] = {}
    rest: list[Measured] = []
    seen: set[bytes] = set()
    for item in sample:
        seen.add(item.key)
        if is_literal(item.pattern):
            literal[item.key] = item
        else:
            rest.append(item)
    floor_keys: dict[str, int] = {}
    floor_bytes: dict[str, int] = {}
    for item in extra_known:
        if item.key in seen:
            continue
        if is_literal(item.pattern):
            literal.setdefault(item.key, item)
        else:
            floor_keys[item.pattern] = floor_keys.get(item.pattern, 0) + 1
            floor_bytes[item.pattern] = floor_bytes.get(item.pattern, 0) + (item.bytes or 0)
    n = len(rest)
    big_n = max(db_size - len(literal), n)
    fpc = max(1.0 - n / big_n, 0.0) if big_n else 0.0

    out: dict[str, PatternEstimate] = {}
    for item in literal.values():
        known = out.get(item.pattern)
        out[item.pattern] = PatternEstimate(
            keys=1 + (known.keys if known else 0),
            keys_margin=0,
            memory_bytes=item.bytes,
            memory_margin=None if item.bytes is None else 0,
            sampled=1,
            stratum_keys=1,
            stratum_sampled=1,
        )
    by_pattern: dict[str, list[Measured]] = {}
    for item in rest:
        by_pattern.setdefault(item.pattern, []).append(item)
    sized = sum(1 for r in rest if r.bytes is not None)
    for pattern in {*by_pattern, *floor_keys}:
        members = by_pattern.get(pattern, [])
        m = len(members)
        keys, keys_margin = _count(m, n, big_n, fpc)
        member_bytes = [r.bytes for r in members if r.bytes is not None]
        memory: int | None = None
        memory_margin: int | None = None
        if member_bytes or pattern in floor_bytes:
            total, margin = _total(member_bytes, sized, big_n, fpc)
            mean = sum(member_bytes) / len(member_bytes) if member_bytes else 0.0
            memory = max(round(total), floor_bytes.get(pattern, 0))
            memory_margin = round(max(margin, mean * keys_margin))
        out[pattern] = PatternEstimate(
            keys=max(round(keys), m + floor_keys.get(pattern, 0)),
            keys_margin=round(keys_margin),
            memory_bytes=memory,
            memory_margin=memory_margin,
            sampled=m,
            stratum_keys=big_n,
            stratum_sampled=n,
        )
    return out


def _count(m: int, n: int, big_n: int, fpc: float) -> tuple[float, float]:
    """N_R × p, and the larger side of p's 95 % Wilson interval, in keys."""
    if not n:
        return float(m), 0.0
    p = m / n
    if fpc <= 0:
        return big_n * p, 0.0
    n_eff = n / fpc
    z2 = Z95 * Z95
    denominator = 1 + z2 / n_eff
    centre = (p + z2 / (2 * n_eff)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n_eff + z2 / (4 * n_eff * n_eff)) / denominator
    side = max(centre + half - p, p - (centre - half))
    return big_n * p, big_n * side


def _total(member_bytes: list[int], n_sized: int, big_n: int, fpc: float) -> tuple[float, float]:
    """Estimated bytes of the pattern's keys, and the 95 % margin of that total."""
    if not n_sized or not member_bytes:
        return 0.0, 0.0
    total = sum(member_bytes)
    mean = total / n_sized
    squares = sum(b * b for b in member_bytes)
    # sample variance of y over all sized keys, where y is 0 outside the pattern
    variance = (squares - n_sized * mean * mean) / (n_sized - 1) if n_sized > 1 else 0.0
    return big_n * mean, Z95 * big_n * math.sqrt(fpc * max(variance, 0.0) / n_sized)


def margins_extra(estimate: PatternEstimate) -> Mapping[str, object]:
    """The error statement kept on a KeyPattern's ``extra`` (and so in the JSON)."""
    return {
        "keys_margin": estimate.keys_margin,
        "memory_margin_bytes": estimate.memory_margin,
        "confidence": 0.95,
        "sample_keys": estimate.stratum_sampled,
        "sampled_population": estimate.stratum_keys,
        "exact": estimate.exact,
    }
