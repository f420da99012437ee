"""The main screen's actions on what is selected, one controller each: kill (``k``/``K``),
explain (``e``/``E``), suggest (``i``) and the profiler switch (``p``).

A controller says whether its key is offered (from ``snapshot.capabilities`` only, plus
read-only mode before the first snapshot), asks what must be asked, and runs the engine
call in a worker through ``Poller.call``. The screen keeps the keys and delegates.
"""
