"""A virtual table that updates rows in place by key and renders only the visible lines.

Why not Textual's DataTable: at thousands of rows it re-lays out on each removal, its
cursor follows a row *index* (a re-sort moves it to another session), and its auto-sized
columns change width as values change. This table keeps items in a dict by key and builds
a row's cells only when drawn (or filtered); redraws only the lines whose row changed;
keeps the cursor on its *key* across re-sorts, on the same screen line unless the first
page holds it (the top rows then stay in view); lays columns out once per width and per
set of blank columns on screen, painting lines from a per-row strip cache (both in
``dbtop.ui.widgets.columns``). Small tables hand over finished rows (:meth:`set_rows`),
big ones items with a row builder and a sort-value function (:meth:`set_items`). Cells
are plain strings already made safe by ``dbtop.safetext`` (no markup is parsed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dbtop.ui.widgets.columns import (
    Column,
    Layout,
    Row,
    as_row,
    cursor_strip,
    empty_columns,
    fit_columns,
    header_strip,
    message_strip,
    row_sort_getter,
    row_strip,
)

__all__ = ["KINDS", "Column", "Row", "RowTable", "SortGetter"]

#: column index -> the function giving an item's sort value in that column
SortGetter = Callable[[int], Callable[[Any], Any]]

#: How a row (or a single cell) stands out; each kind is a component class in the .tcss.
KINDS = ("alarm", "warning", "idle-tx", "long", "muted", "ok", "accent")


class RowTable(ScrollView, can_focus=True):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowtable--header",
        "rowtable--header-sorted",
        "rowtable--cursor",
        "rowtable--cursor-blurred",
        "rowtable--empty",
        *(f"rowtable--{kind}" for kind in KINDS),
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
    ]

    class Activated(Message):
        """A row was double-clicked: the app opens its details."""

        def __init__(self, table: RowTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    class CursorMoved(Message):
        """The cursor is on another row (by key) than before."""

        def __init__(self, table: RowTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    class Filtered(Message):
        """The filter changed: the pane recounts its rows."""

    def __init__(
        self,
        columns: Iterable[Column],
        *,
        sort_column: str | None = None,
        sortable: bool = True,
        empty_message: str = "nothing to show",
        noun: str = "rows",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: tuple[Column, ...] = tuple(columns)
        self._index_of = {c.key: i for i, c in enumerate(self.columns)}
        self.sortable = sortable
        self._sort_index: int | None = self._index_of.get(sort_column) if sort_column else None
        self._descending = (
            self.columns[self._sort_index].descending if self._sort_index is not None else False
        )
        self._items: dict[str, Any] = {}
        self._build: Callable[[Any], Row] = as_row
        self._sort_getter: SortGetter = row_sort_getter
        self._sort_values: dict[str, Any] = {}
        self._rows: dict[str, Row] = {}
        self._drawn: dict[int, tuple[str, Any, bool]] = {}
        self._order: list[str] = []
        self._position: dict[str, int] = {}
        self._filter = ""
        self._cursor_key: str | None = None
        self._cursor = 0
        self._layout: Layout | None = None
        #: keys of the columns left out whatever the width (data this engine lacks)
        self._hidden: frozenset[str] = frozenset()
        #: optional columns blank in every row on screen: the first to go when narrow
        self._empty: frozenset[str] = frozenset()
        self._strips: dict[str, tuple[Row, Strip]] = {}
        self._styles: dict[str, Style] = {}
        self._frame_style: Style | None = None
        self.empty_message = empty_message
        #: what a row is, for counts ("3 of 10 indexes")
        self.noun = noun

    # -- what the panes call ------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self._order)

    @property
    def total_count(self) -> int:
        return len(self._items)

    @property
    def cursor_key(self) -> str | None:
        return self._order[self._cursor] if self._order else None

    @property
    def cursor_row(self) -> Row | None:
        key = self.cursor_key
        return self.row(key) if key is not None else None

    @property
    def cursor_item(self) -> Any:
        key = self.cursor_key
        return self._items.get(key) if key is not None else None

    @property
    def ordered_keys(self) -> list[str]:
        return list(self._order)

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def sort_column(self) -> Column | None:
        return self.columns[self._sort_index] if self._sort_index is not None else None

    @property
    def sort_descending(self) -> bool:
        return self._descending

    def item(self, key: str) -> Any:
        return self._items.get(key)

    def row(self, key: str) -> Row | None:
        """The row of ``key``, built now if it was not yet."""
        row = self._rows.get(key)
        if row is None:
            item = self._items.get(key)
            if item is None:
                return None
            row = self._rows[key] = self._build(item)
        return row

    def _row_of(self, key: str) -> Row:
        """The row of a key that is among the items."""
        row = self.row(key)
        assert row is not None, key
        return row

    def set_hidden_columns(self, keys: Iterable[str]) -> None:
        """Leave these columns out (a figure the engine does not have); cheap when unchanged."""
        hidden = frozenset(keys)
        if hidden == self._hidden:
            return
        self._hidden = hidden
        self._layout = None
        self._strips.clear()
        self.refresh()

    def set_rows(self, rows: Iterable[Row]) -> None:
        """Replace the rows with finished ones (small tables)."""
        self.set_items({row.key: row for row in rows}, as_row, row_sort_getter)

    def set_items(
        self,
        items: dict[str, Any],
        build: Callable[[Any], Row],
        sort_getter: SortGetter,
    ) -> None:
        """Replace the items (by key, in the engine's order); rows are built when drawn.

        ``build(item)`` makes the row; ``sort_getter(column_index)`` returns the function
        giving what that column sorts an item by (None sorts last). The order is
        recomputed only when the set of keys, a sort value or (while filtering) a row's
        text changed.
        """
        old = self._items
        self._items = items
        self._build = build
        self._sort_getter = sort_getter
        self._rows = {}
        reorder = len(items) != len(old) or bool(self._filter)
        index = self._sort_index if self.sortable else None
        if index is not None:
            value_of = sort_getter(index)
            values = {key: value_of(item) for key, item in items.items()}
            reorder = reorder or values != self._sort_values
            self._sort_values = values
        elif not reorder:
            reorder = list(items) != list(old)
        if not reorder and items.keys() != old.keys():
            reorder = True
        if reorder:
            self._reorder()
        else:
            self._refresh_changed_lines()

    def set_filter(self, text: str) -> None:
        text = text.strip().casefold()
        if text != self._filter:
            self._filter = text
            self._reorder()
            self.post_message(self.Filtered())

    def sort_by(self, column: str | None, *, descending: bool | None = None) -> None:
        index = self._index_of.get(column) if column else None
        if index is None and column is not None:
            raise KeyError(column)
        self._sort_index = index
        if descending is None:
            descending = self.columns[index].descending if index is not None else False
        self._descending = descending
        if index is not None:
            value_of = self._sort_getter(index)
            self._sort_values = {key: value_of(item) for key, item in self._items.items()}
        else:
            self._sort_values = {}
        self._reorder()
        self.refresh()  # the header's sort mark moved

    def cycle_sort(self) -> Column | None:
        """Sort by the next sortable column that is on screen."""
        if not self.sortable:
            return None
        on_screen = {i for i, _x, _w in self._layout.spans} if self._layout else None
        candidates = [
            i
            for i, c in enumerate(self.columns)
            if c.sortable and (on_screen is None or i in on_screen)
        ]
        if not candidates:
            return None
        current = self._sort_index
        later = [i for i in candidates if current is None or i > current]
        index = later[0] if later else candidates[0]
        self.sort_by(self.columns[index].key)
        return self.columns[index]

    def reverse_sort(self) -> None:
        if self.sortable and self._sort_index is not None:
            self._descending = not self._descending
            self._reorder()
            self.refresh()

    def move_cursor_to(self, key: str) -> bool:
        position = self._position.get(key)
        if position is None:
            return False
        self._set_cursor(position)
        return True

    # -- ordering -----------------------------------------------------------------------

    def _reorder(self) -> None:
        previous_key = self.cursor_key if self._cursor_key is None else self._cursor_key
        screen_line = self._cursor - int(self.scroll_y)
        keys = list(self._items)
        if self._filter:
            needle = self._filter
            keys = [k for k in keys if needle in self._row_of(k).search_text]
        index = self._sort_index
        if index is not None and self.sortable:
            values = self._sort_values
            known = [k for k in keys if values.get(k) is not None]
            unknown = [k for k in keys if values.get(k) is None]
            if known and isinstance(values[known[0]], str):
                known.sort(key=lambda k: values[k].casefold(), reverse=self._descending)
            else:
                known.sort(key=values.__getitem__, reverse=self._descending)
            keys = known + unknown
        self._order = keys
        self._position = {k: i for i, k in enumerate(keys)}
        if len(self._strips) > 2 * len(self._items) + 100:
            self._strips = {k: v for k, v in self._strips.items() if k in self._items}
        self._set_virtual_height(len(keys) + 1)
        # The cursor stays on its row; if the row is gone, on the same line.
        position = self._position.get(previous_key) if previous_key is not None else None
        if position is None:
            position = min(self._cursor, max(len(keys) - 1, 0))
        self._cursor = position
        self._set_cursor_key(keys[position] if keys else None)
        if keys and 0 <= screen_line < self._body_height():
            # On the same screen line, unless the first page holds it: then the top rows
            # stay in view (a re-sort must not leave the costliest rows scrolled away).
            top = 0 if position < self._body_height() else max(position - screen_line, 0)
            if top != int(self.scroll_y):
                self.scroll_to(y=top, animate=False, immediate=True)
        self._scroll_cursor_into_view()
        self._refresh_changed_lines()

    def _set_virtual_height(self, height: int) -> None:
        """A new row count: a layout only when the table's geometry can change with it.

        ``virtual_size`` is a layout reactive: setting it lays out and repaints the whole
        screen, though a table of fixed height (``1fr``) only needs its scrollbar updated
        and its lines redrawn. The scrollbar's appearing or going away is a layout again
        (its own reactive), as is any table whose height follows its content.
        """
        size = Size(0, height)
        if self.virtual_size == size:
            return
        height_rule = self.styles.height
        if not self.is_mounted or height_rule is None or height_rule.is_auto:
            self.virtual_size = size
            return
        self.set_reactive(RowTable.virtual_size, size)
        self._scroll_update(size)

    def _refresh_changed_lines(self) -> None:
        """Redraw only the lines whose row, key or cursor state is not what is drawn."""
        if not self.is_mounted or self._layout is None:
            self.refresh()
            return
        self._check_empty_columns()
        top = int(self.scroll_y)
        width = self.size.width
        for y in range(1, self.size.height):
            position = top + y - 1
            drawn = self._drawn.get(y)
            if position >= len(self._order):
                expected = ("", self._empty_text(), False) if (y == 1 and not self._order) else None
                if drawn != expected:
                    self.refresh(Region(0, y, width, 1))
                continue
            key = self._order[position]
            if drawn is None or drawn[0] != key or drawn[2] != (position == self._cursor):
                self.refresh(Region(0, y, width, 1))
                continue
            if drawn[1] != self.row(key):
                self.refresh(Region(0, y, width, 1))

    # -- cursor -------------------------------------------------------------------------

    def _body_height(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _set_cursor(self, position: int) -> None:
        if not self._order:
            self._cursor = 0
            self._set_cursor_key(None)
            self.refresh()
            return
        position = max(0, min(position, len(self._order) - 1))
        self._cursor = position
        self._set_cursor_key(self._order[position])
        self._scroll_cursor_into_view()
        self.refresh()

    def _set_cursor_key(self, key: str | None) -> None:
        if key != self._cursor_key:
            self._cursor_key = key
            self.post_message(self.CursorMoved(self, key))

    def _scroll_cursor_into_view(self) -> None:
        top = int(self.scroll_y)
        height = self._body_height()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self._set_cursor(self._cursor + step)

    def action_page(self, step: int) -> None:
        self._set_cursor(self._cursor + step * self._body_height())

    def action_edge(self, step: int) -> None:
        self._set_cursor(0 if step < 0 else len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._layout.column_at(offset.x) if self._layout else None
            if column is not None and self.sortable and self.columns[column].sortable:
                if self._sort_index == column:
                    self.reverse_sort()
                else:
                    self.sort_by(self.columns[column].key)
            return
        position = int(self.scroll_y) + offset.y - 1
        if 0 <= position < len(self._order):
            self._set_cursor(position)
            if event.chain >= 2:
                self.post_message(self.Activated(self, self._order[position]))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        # Shown again (a pane switch) or resized: the top rows are in view whenever the
        # cursor fits on the first page; a scroll made while hidden (no height) is undone.
        if self._cursor < self._body_height():
            self.scroll_to(y=0, animate=False, immediate=True)
        else:
            self._scroll_cursor_into_view()

    def _check_empty_columns(self, *, repaint: bool = True) -> None:
        """Lay the columns out again when the set of blank columns on screen changed."""
        top = int(self.scroll_y)
        keys = self._order[top : top + self._body_height()]
        empty = empty_columns(self.columns, [self._row_of(k) for k in keys])
        if empty != self._empty:
            self._empty, self._layout = empty, None
            if repaint:
                self.refresh()

    # -- rendering ----------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"rowtable--{name}", partial=True)
            self._styles[name] = style
        return style

    def _layout_for(self, width: int) -> Layout:
        layout = self._layout
        if layout is not None and layout.width == width:
            return layout
        layout = fit_columns(self.columns, self._hidden, width, self._empty)
        self._layout = layout
        self._strips.clear()
        return layout

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's own style walks every ancestor's styles: looked up once for all the
        # lines of this paint, not once per line.
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        if y == 0:  # a whole repaint (a scroll, a resize) starts here
            self._check_empty_columns(repaint=False)
        width = self.scrollable_content_region.width
        layout = self._layout_for(width)
        base = self.rich_style if self._frame_style is None else self._frame_style
        if y == 0:
            sort_index = self._sort_index if self.sortable else None
            header, marked = self._style("header"), self._style("header-sorted")
            return header_strip(
                self.columns, layout, base + header, base + marked, sort_index, self._descending
            )
        position = int(self.scroll_y) + y - 1
        if not self._order:
            self._drawn.pop(y, None)
            if y == 1:
                message = self._empty_text()
                self._drawn[1] = ("", message, False)
                return message_strip(message, width, base + self._style("empty"))
            return Strip.blank(width, base)
        if position >= len(self._order):
            self._drawn.pop(y, None)
            return Strip.blank(width, base)
        key = self._order[position]
        row = self._row_of(key)
        cached = self._strips.get(key)
        if cached is not None and (cached[0] is row or cached[0] == row):
            strip = cached[1]
        else:
            strip = row_strip(row, self.columns, layout, base, self._style)
            self._strips[key] = (row, strip)
        on_cursor = position == self._cursor
        self._drawn[y] = (key, row, on_cursor)
        if on_cursor:
            cursor = self._style("cursor" if self.has_focus else "cursor-blurred")
            strip = cursor_strip(strip, cursor)
        return strip

    def _empty_text(self) -> str:
        if self._items and self._filter:
            return f"no row matches {self._filter!r}"
        return self.empty_message
