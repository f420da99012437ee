"""The command palette (Ctrl+P): every action of the main screen by name, and the themes."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from dbtop.ui.app import DbtopApp


class DbtopCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("DbtopApp", self.app)
        screen = app.main_screen
        commands: list[tuple[str, str, Callable[[], object]]] = []
        if screen is None:
            return commands
        for binding in type(screen).BINDINGS:
            if not isinstance(binding, Binding) or not binding.description:
                continue
            name, params = _split(binding.action)
            if screen.check_action(name, params) is False:
                continue
            key = app.get_key_display(binding)
            commands.append(
                (binding.description, f"key {key}", partial(app.run_action, binding.action, screen))
            )
        for short, theme in app.dbtop_themes.items():
            commands.append(
                (
                    f"Theme: {short}",
                    f"switch to the {theme.name} theme",
                    partial(app.use_theme, short),
                )
            )
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def _split(action: str) -> tuple[str, tuple[object, ...]]:
    """``kill('cancel')`` -> ("kill", ("cancel",)) for check_action."""
    if "(" not in action:
        return action, ()
    name, _, rest = action.partition("(")
    inner = rest.rstrip(")").strip()
    if not inner:
        return name, ()
    values = tuple(v.strip().strip("'\"") for v in inner.split(","))
    converted: list[object] = []
    for v in values:
        try:
            converted.append(int(v))
        except ValueError:
            converted.append(v)
    return name, tuple(converted)
