"""Themes from TOML files: the ones shipped in the package, then the user's own.

A theme file holds the fields of Textual's ``Theme`` (``primary``, ``background``, ``dark``
…), a ``[variables]`` table (Textual's and dbtop's own ``dbtop-*`` row colours) and
optionally ``base = "ansi-dark"`` to start from a built-in Textual theme (the 16-colour
theme does). ``--theme`` takes a file's short name (``dark``), the theme's own name
(``dbtop-dark``), any built-in Textual theme (``nord``) or the path of a .toml file.

The shipped files live in the package (``dbtop/ui/themes``) so an installed dbtop finds
them; the repository's ``themes/`` holds the same files for people to read and copy (a
test keeps the two identical). User themes go in ``~/.config/dbtop/themes/``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir
from textual.theme import BUILTIN_THEMES, Theme

from dbtop.errors import UsageError

SHIPPED_DIR = Path(__file__).with_name("themes")
DEFAULT_THEME = "dark"
#: the theme used when NO_COLOR is set: native ANSI colours that Textual can drop cleanly
NO_COLOR_THEME = "ansi"

_THEME_FIELDS = {f.name for f in dataclasses.fields(Theme)} - {"name", "variables"}

#: dbtop's own CSS variables, and which colour of the current theme stands in for each
#: when a theme (e.g. a built-in Textual one) does not set it
ROW_VARIABLES = {
    "dbtop-alarm": "error",
    "dbtop-waiting": "warning",
    "dbtop-idle-tx": "accent",
    "dbtop-long": "warning",
    "dbtop-muted": "foreground-muted",
    "dbtop-ok": "success",
}


def user_themes_dir() -> Path:
    return Path(user_config_dir("dbtop")) / "themes"


def theme_from_file(path: Path) -> Theme:
    """Read one theme file; raises UsageError with the file and the reason."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read theme {path}: {exc}") from None
    return theme_from_mapping(data, default_name=path.stem, source=str(path))


def theme_from_mapping(data: dict[str, Any], *, default_name: str, source: str) -> Theme:
    fields: dict[str, Any] = {}
    variables: dict[str, str] = {}
    base_name = data.get("base")
    if base_name is not None:
        base = BUILTIN_THEMES.get(str(base_name))
        if base is None:
            known = ", ".join(sorted(BUILTIN_THEMES))
            raise UsageError(f"theme {source}: unknown base {base_name!r} (known: {known})")
        fields = {f: getattr(base, f) for f in _THEME_FIELDS}
        variables = dict(base.variables)
    unknown = set(data) - _THEME_FIELDS - {"name", "variables", "base"}
    if unknown:
        raise UsageError(f"theme {source}: unknown key(s) {', '.join(sorted(unknown))}")
    fields.update({k: v for k, v in data.items() if k in _THEME_FIELDS})
    extra = data.get("variables", {})
    if not isinstance(extra, dict):
        raise UsageError(f"theme {source}: [variables] must be a table")
    variables.update({str(k): str(v) for k, v in extra.items()})
    if "primary" not in fields:
        raise UsageError(f"theme {source}: 'primary' is required (or a 'base' theme)")
    return Theme(name=str(data.get("name", default_name)), variables=variables, **fields)


def theme_files(user_dir: Path | None = None) -> dict[str, Path]:
    """Short name -> file, shipped first, the user's overriding them."""
    found: dict[str, Path] = {}
    for directory in (SHIPPED_DIR, user_dir if user_dir is not None else user_themes_dir()):
        if directory.is_dir():
            for path in sorted(directory.glob("*.toml")):
                found[path.stem] = path
    return found


def load_themes(user_dir: Path | None = None) -> dict[str, Theme]:
    """Short name -> Theme for every theme file found."""
    return {short: theme_from_file(path) for short, path in theme_files(user_dir).items()}


def choose_theme_name(requested: str | None, *, environ: dict[str, str] | None = None) -> str:
    """The short name or path to use: the request, else NO_COLOR's choice, else the default."""
    env = os.environ if environ is None else environ
    if requested:
        return requested
    if "NO_COLOR" in env:
        return NO_COLOR_THEME
    return env.get("DBTOP_THEME") or DEFAULT_THEME


def resolve(requested: str, themes: dict[str, Theme]) -> Theme:
    """The Theme for a short name, a theme name, a built-in Textual name or a file path."""
    if requested in themes:
        return themes[requested]
    for theme in themes.values():
        if theme.name == requested:
            return theme
    if requested in BUILTIN_THEMES:
        return BUILTIN_THEMES[requested]
    path = Path(requested).expanduser()
    if path.suffix == ".toml" and path.is_file():
        return theme_from_file(path)
    names = sorted({*themes, *BUILTIN_THEMES})
    raise UsageError(
        f"unknown theme {requested!r}: choose from {', '.join(names)}, or a .toml file"
    )


def with_row_defaults(variables: dict[str, str]) -> dict[str, str]:
    """``variables`` with dbtop's row colours filled in from the theme's own colours."""
    filled = dict(variables)
    for name, source in ROW_VARIABLES.items():
        if name not in filled and source in filled:
            filled[name] = filled[source]
    return filled
