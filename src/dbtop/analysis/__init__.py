"""Pure functions over Snapshots: no I/O, no Textual; unit-tested."""
