"""The plan view: the plan as a tree with cost, rows and (when analyzed) actual time, the
costliest node highlighted, and the raw JSON one key (``j``) away.

Plan lines are long (a node's filter, its sort key): the first view wraps them under
their node, so nothing is cut at the edge; ``w`` switches to the one-line-a-node tree
(folding branches, a horizontal scrollbar for what passes the edge) and back.

"Costliest" is the node's own share (its cost or time minus its children's, from
``dbtop.analysis.plans``), so the answer is the Seq Scan that hurts, not the root that
contains everything.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from rich.tree import Tree as RichTree
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, LoadingIndicator, Static, TextArea, Tree
from textual.widgets.tree import TreeNode

from dbtop.analysis.plans import costliest
from dbtop.errors import DbtopError
from dbtop.humanize import plan_figures
from dbtop.model import Plan, PlanNode, to_jsonable
from dbtop.safetext import literal, one_line
from dbtop.ui.literal import title as literal_title


def node_label(node: PlanNode, *, hot: bool) -> Text:
    label = Text(one_line(node.name), style="bold")
    figures = plan_figures(node)
    if figures:
        label.append("  " + "  ".join(figures), style="dim" if not hot else "")
    if hot:
        label.append("  ◀ costliest", style="bold")
        label.stylize("reverse")
    if node.detail:
        label.append("  ")
        label.append(one_line(node.detail, 200), style="italic")
    return label


def wrapped_tree(root: PlanNode, hot: PlanNode | None) -> RichTree:
    """The plan as a Rich tree: a long label wraps under its node instead of being cut."""

    def add(branch: RichTree, node: PlanNode) -> None:
        child = branch.add(node_label(node, hot=node is hot))
        for sub in node.children:
            add(child, sub)

    top = RichTree(node_label(root, hot=root is hot), guide_style="dim")
    for sub in root.children:
        add(top, sub)
    return top


class PlanScreen(Screen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="plan.close"),
        Binding("j", "toggle_json", "Raw JSON", id="plan.json"),
        Binding("w", "toggle_wrap", "Wrap / tree", id="plan.wrap"),
        Binding("c", "copy", "Copy", id="plan.copy"),
    ]

    def __init__(self, title: str, load: Callable[[], Awaitable[Plan]]) -> None:
        super().__init__()
        self._title = title
        self._load = load
        self.plan: Plan | None = None
        #: the plan view shown (wrapped lines, or the tree), the JSON aside
        self._view = "plan-wrapped"

    def compose(self) -> ComposeResult:
        with Vertical(id="plan-box") as box:
            box.border_title = literal_title(self._title)
            yield Static("", id="plan-query")
            with ContentSwitcher(initial="plan-loading", id="plan-switcher"):
                yield LoadingIndicator(id="plan-loading")
                yield Static("", id="plan-error")
                with VerticalScroll(id="plan-wrapped"):
                    yield Static("", id="plan-wrapped-text")
                tree: Tree[PlanNode] = Tree(Text("plan"), id="plan-tree")
                tree.show_root = False
                yield tree
                area = TextArea("", read_only=True, show_line_numbers=True, id="plan-json")
                area.cursor_blink = False
                yield area
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._fetch(), exclusive=True, group="plan")

    async def _fetch(self) -> None:
        try:
            plan = await self._load()
        except DbtopError as err:
            self._show_error(str(err))
            return
        self.show_plan(plan)

    def _show_error(self, message: str) -> None:
        self.query_one("#plan-error", Static).update(Text("! " + one_line(message)))
        self.query_one(ContentSwitcher).current = "plan-error"

    def show_plan(self, plan: Plan) -> None:
        self.plan = plan
        flags = [
            w
            for w, on in (("analyzed, rolled back", plan.analyzed), ("generic", plan.generic))
            if on
        ]
        head = Text(literal(plan.query).strip())
        if flags:
            head.append("\n(" + ", ".join(flags) + ")", style="italic")
        for note in plan.notes:
            head.append("\nnote: " + one_line(note), style="italic")
        self.query_one("#plan-query", Static).update(head)
        tree = self.query_one("#plan-tree", Tree)
        tree.clear()
        hot = costliest(plan.root)

        def add(parent: TreeNode[PlanNode], node: PlanNode) -> None:
            label = node_label(node, hot=node is hot)
            if node.children:
                branch = parent.add(label, data=node, expand=True)
                for child in node.children:
                    add(branch, child)
            else:
                parent.add_leaf(label, data=node)

        add(tree.root, plan.root)
        tree.root.expand()
        self.query_one("#plan-wrapped-text", Static).update(wrapped_tree(plan.root, hot))
        raw = json.dumps(to_jsonable(plan.raw), indent=2, ensure_ascii=False)
        self.query_one("#plan-json", TextArea).load_text(raw)
        self._show(self._view)

    def _show(self, view: str) -> None:
        self.query_one(ContentSwitcher).current = view
        self.query_one(f"#{view}").focus()

    def action_toggle_json(self) -> None:
        if self.plan is None:
            return
        on_json = self.query_one(ContentSwitcher).current == "plan-json"
        self._show(self._view if on_json else "plan-json")

    def action_toggle_wrap(self) -> None:
        if self.plan is None:
            return
        self._view = "plan-tree" if self._view == "plan-wrapped" else "plan-wrapped"
        self._show(self._view)

    def action_copy(self) -> None:
        if self.plan is None:
            return
        if self.query_one(ContentSwitcher).current == "plan-json":
            self.app.copy_to_clipboard(self.query_one("#plan-json", TextArea).text)
            self.notify("plan JSON copied to the clipboard")
        else:
            self.app.copy_to_clipboard(self.plan.query)
            self.notify("query copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)
