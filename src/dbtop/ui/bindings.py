"""Every binding id a keymap may remap: the main screen's and its dialogs' (``?`` shows
them; ``~/.config/dbtop/keymap.toml`` names them)."""

from __future__ import annotations

from dbtop.ui.keymap import binding_ids
from dbtop.ui.screens.confirm import ConfirmScreen
from dbtop.ui.screens.details import DetailsScreen
from dbtop.ui.screens.explain_values import ExplainValuesScreen
from dbtop.ui.screens.help import HelpScreen
from dbtop.ui.screens.main import MainScreen
from dbtop.ui.screens.plan import PlanScreen
from dbtop.ui.screens.profiler import ProfilerScreen
from dbtop.ui.screens.suggest import SuggestScreen
from dbtop.ui.timeline.goto import GoToScreen
from dbtop.ui.widgets.filterbar import FilterInput


def all_binding_ids() -> set[str]:
    """Every id a keymap may remap (the main screen's and the dialogs')."""
    screens = (
        MainScreen,
        FilterInput,
        ConfirmScreen,
        DetailsScreen,
        PlanScreen,
        SuggestScreen,
        ProfilerScreen,
        ExplainValuesScreen,
        GoToScreen,
        HelpScreen,
    )
    ids: set[str] = set()
    for node in screens:
        ids |= binding_ids(node.BINDINGS)
    return ids
