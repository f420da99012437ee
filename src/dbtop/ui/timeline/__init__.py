"""Moving through time: the live TUI's history and the replay of a recording share one
``Timeline`` (what can be shown, where we are), the same keys (``keys.py``) and the time
bar (ui/widgets/timebar.py)."""
