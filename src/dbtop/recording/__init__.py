"""The flight recorder's file: snapshots kept in SQLite as zstd frames (docs/recording.md).

``writer`` appends (keyframes and deltas, the retention ring, gaps), ``reader`` finds the
snapshot at a moment, ``codec`` turns a Snapshot into the JSON document of ``to_jsonable``
and back, ``delta`` keeps only the rows that changed. Textual-free and engine-free: the
``record`` and ``replay`` commands, the replay TUI and the benchmarks share it.
"""
