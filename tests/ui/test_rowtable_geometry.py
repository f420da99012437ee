"""RowTable's row count and the screen's layout (issue 14): a new count updates the
scrollbar and the lines, and lays the screen out only when the scrollbar comes or goes."""

from __future__ import annotations

from dbtop.ui.widgets.rowtable import RowTable

from .test_panes import TableApp, rows


async def test_a_new_row_count_lays_out_only_when_the_scrollbar_comes_or_goes():
    app = TableApp(rows({f"k{i:02}": i for i in range(30)}))
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        t = app.query_one(RowTable)
        assert t.show_vertical_scrollbar
        t.set_rows(rows({f"k{i:02}": i for i in range(31)}))
        assert not t._layout_required, "one more row under a scrollbar: no layout"
        assert t.virtual_size.height == 32
        assert t.vertical_scrollbar.window_virtual_size == 32
        await pilot.pause()
        assert t.ordered_keys[0] == "k30" and t.cursor_key == "k29", "the cursor kept its row"
        t.set_rows(rows({"a": 1, "b": 2}))
        await pilot.pause()
        assert not t.show_vertical_scrollbar, "the scrollbar went: laid out"
        assert t.render_line(3).text.strip() == "", "the lines below the rows are blank"
        t.scroll_to(y=0, animate=False)
        t.set_rows(rows({f"k{i:02}": i for i in range(40)}))
        await pilot.pause()
        assert t.show_vertical_scrollbar, "and came back"
