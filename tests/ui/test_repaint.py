"""What a poll repaints: only what changed (issue 14: dbtop's CPU at 2,000 connections)."""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import make_app, polled, until
from tests.ui.test_keys import main_screen, table


def _count_paints(widget: Any) -> list[int]:
    """Count the compositor's calls to ``widget.render_lines`` from now on."""
    calls = [0]
    render_lines = widget.render_lines

    def counted(crop: Any) -> Any:
        calls[0] += 1
        return render_lines(crop)

    widget.render_lines = counted
    return calls


async def test_new_counts_repaint_the_border_line_not_the_pane(engine):
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await polled(pilot, engine)
        pane = main_screen(app).pane("sessions")
        rows = table(app, "sessions-table")
        pane_paints, table_paints = _count_paints(pane), _count_paints(rows)
        pane.set_counts("probe-counts")
        await until(pilot, lambda: pane_paints[0] > 0, "the pane's border repainted")
        assert pane._border_subtitle.plain == "probe-counts"
        assert pane.border_subtitle == "probe-counts"
        # the tables inside were not repainted for a change of the border
        assert table_paints[0] == 0
        assert "probe-counts" in app.export_screenshot()
