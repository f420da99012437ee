"""Garbage-collector settings for the long-lived UI process.

The UI allocates many short-lived objects per frame (segments, strips, styles) and keeps a
large, stable heap after start-up (Textual's widgets, CSS, the imported modules, thousands
of sessions). With CPython's default thresholds (700, 10, 10) the young generation is
collected dozens of times a second and every full collection walks the whole heap again,
which measured 12-22 % of the process's CPU at 2,000 sessions. So:

- a higher first threshold: young collections run an order of magnitude less often; what
  they collect is garbage from cycles, which waits a little longer (memory, not behaviour);
- ``gc.freeze()`` once the first snapshot is on screen: what exists then lives for the
  whole session, and full collections no longer walk it.
"""

from __future__ import annotations

import gc

#: allocations (minus deallocations) between young-generation collections
YOUNG_THRESHOLD = 20_000
#: young collections per middle one, middle per full one (CPython's defaults)
OLDER_THRESHOLDS = (10, 10)


def tune_for_ui() -> None:
    """Thresholds for a long-running UI; called once before the app starts."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


def freeze_start_up() -> None:
    """Move everything alive now out of the collector's reach (a one-off, after start-up)."""
    gc.collect()
    gc.freeze()
