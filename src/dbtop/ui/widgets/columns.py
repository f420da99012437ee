"""How a row table's columns fit a width and its lines are painted: the column and row
declarations, the layout of one width (fixed widths, one flexible column taking the rest,
optional columns dropped most optional first when the terminal is narrow), how a cell's
text is cut or padded to its column, and the strips of the header, a row and the cursor.

No widget: :class:`~dbtop.ui.widgets.rowtable.RowTable` lays its columns out with
:func:`fit_columns` once per width and paints its lines with these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    align: Literal["left", "right"] = "left"
    #: takes the width left over by the others (its ``width`` is then the minimum)
    flex: bool = False
    #: 0: always shown; otherwise dropped when narrow, highest first
    optional: int = 0
    sortable: bool = True
    #: the direction of the first sort on this column (numbers: largest first)
    descending: bool = True


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    cells: tuple[str, ...]
    #: one value per column to sort by (None sorts last in either direction)
    sort: tuple[Any, ...]
    kind: str = ""
    #: per-cell kinds overriding the row's, e.g. a badge; () for none
    cell_kinds: tuple[str, ...] = ()

    @property
    def search_text(self) -> str:
        return "\x00".join(self.cells).casefold()


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    #: (column index, x, width)
    spans: tuple[tuple[int, int, int], ...]

    def column_at(self, x: int) -> int | None:
        """The index of the column under ``x`` (its separator counts as its own)."""
        for index, start, width in self.spans:
            if start <= x < start + width + 1:
                return index
        return None


def fit_columns(
    columns: Sequence[Column],
    hidden: Collection[str],
    width: int,
    empty: Collection[str] = (),
) -> Layout:
    """Lay ``columns`` out in ``width`` cells, leaving out the ``hidden`` keys.

    When they do not all fit, optional columns go: first those in ``empty`` (every row on
    screen has nothing in them: a blank column tells a DBA nothing, whatever its rank),
    then the others by rank, the least useful (highest ``optional``) first.
    """
    shown = [i for i, c in enumerate(columns) if c.key not in hidden]

    def needed(indexes: list[int]) -> int:
        return sum(columns[i].width for i in indexes) + max(len(indexes) - 1, 0)

    while needed(shown) > width:
        droppable = [i for i in shown if columns[i].optional]
        if not droppable:
            break
        shown.remove(
            max(droppable, key=lambda i: (columns[i].key in empty, columns[i].optional, i))
        )
    spare = max(width - needed(shown), 0)
    flex = [i for i in shown if columns[i].flex] or shown[-1:]
    spans: list[tuple[int, int, int]] = []
    x = 0
    for i in shown:
        column_width = columns[i].width + (spare if i == flex[0] else 0)
        spans.append((i, x, column_width))
        x += column_width + 1
    return Layout(width, tuple(spans))


def empty_columns(columns: Sequence[Column], rows: Sequence[Row]) -> frozenset[str]:
    """The optional columns with nothing in any of ``rows`` (blank, or "-" for "no value");
    none when there is no row (nothing is known then)."""
    if not rows:
        return frozenset()
    empty = set()
    for index, column in enumerate(columns):
        if not column.optional:
            continue
        if all(index >= len(row.cells) or row.cells[index].strip() in ("", "-") for row in rows):
            empty.add(column.key)
    return frozenset(empty)


def fit(text: str, width: int, align: str) -> str:
    """``text`` in exactly ``width`` cells: cut with an ellipsis, or padded on its side."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…"
    if align == "right":
        return " " * (width - length) + text
    return text + " " * (width - length)


def header_strip(
    columns: Sequence[Column],
    layout: Layout,
    style: Style,
    sorted_style: Style,
    sort_index: int | None,
    descending: bool,
) -> Strip:
    """The header line: the labels, the sorted one marked with its direction."""
    segments: list[Segment] = []
    for n, (index, _x, width) in enumerate(layout.spans):
        column = columns[index]
        label = column.label
        is_sorted = index == sort_index
        if is_sorted:
            label += "▼" if descending else "▲"
        segments.append(
            Segment(fit(label, width, column.align), sorted_style if is_sorted else style)
        )
        if n < len(layout.spans) - 1:
            segments.append(Segment(" ", style))
    return Strip(segments).adjust_cell_length(layout.width, style)


def row_strip(
    row: Row,
    columns: Sequence[Column],
    layout: Layout,
    base: Style,
    style_of: Callable[[str], Style],
) -> Strip:
    """One row's line: the row's kind on the whole line, a cell's own kind on that cell."""
    row_style = base + style_of(row.kind) if row.kind else base
    segments: list[Segment] = []
    kinds = row.cell_kinds
    for n, (index, _x, width) in enumerate(layout.spans):
        column = columns[index]
        text = row.cells[index] if index < len(row.cells) else ""
        kind = kinds[index] if index < len(kinds) else ""
        style = row_style + style_of(kind) if kind else row_style
        segments.append(Segment(fit(text, width, column.align), style))
        if n < len(layout.spans) - 1:
            segments.append(Segment(" ", row_style))
    return Strip(segments).adjust_cell_length(layout.width, row_style)


def cursor_strip(strip: Strip, cursor: Style) -> Strip:
    """The row under the cursor: the cursor's background and text style on top, the
    row's own colours kept (a root blocker stays red under the cursor)."""
    over = Style(
        bgcolor=cursor.bgcolor,
        bold=cursor.bold,
        reverse=cursor.reverse,
        underline=cursor.underline,
        italic=cursor.italic,
    )
    segments = Segment.apply_style(list(strip), post_style=over)
    return Strip(segments, strip.cell_length)


def message_strip(message: str, width: int, style: Style) -> Strip:
    """A line saying why the table is empty."""
    return Strip([Segment(set_cell_size(" " + message, width), style)], width)


def as_row(item: Any) -> Row:
    """The row builder of a table handed finished rows."""
    return cast(Row, item)


def row_sort_getter(index: int) -> Callable[[Any], Any]:
    """The sort values of a table handed finished rows: their own."""
    return lambda row: row.sort[index]
