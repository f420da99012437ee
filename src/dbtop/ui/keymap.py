"""The user's key remapping: ``~/.config/dbtop/keymap.toml`` (or ``$DBTOP_KEYMAP``).

::

    [keymap]
    "session.cancel" = "x"          # x cancels instead of k
    "app.quit" = "q,ctrl+q"

Ids are the binding ids shown by ``?``; values are Textual key names, comma-separated.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from pathlib import Path

from platformdirs import user_config_dir
from textual.binding import Binding

from dbtop.errors import UsageError


def default_keymap_path() -> Path:
    configured = os.environ.get("DBTOP_KEYMAP")
    if configured:
        return Path(configured).expanduser()
    return Path(user_config_dir("dbtop")) / "keymap.toml"


def binding_ids(bindings: Iterable[object]) -> set[str]:
    return {b.id for b in bindings if isinstance(b, Binding) and b.id}


def load_keymap(path: Path | None, known_ids: set[str]) -> dict[str, str]:
    """The keymap in ``path`` ({} when the file does not exist); UsageError when it is wrong."""
    if path is None or not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read keymap {path}: {exc}") from None
    table = data.get("keymap", {})
    if not isinstance(table, dict):
        raise UsageError(f'keymap {path}: [keymap] must be a table of id = "keys"')
    unknown = sorted(set(table) - known_ids)
    if unknown:
        raise UsageError(
            f"keymap {path}: unknown binding id(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known_ids))})"
        )
    keymap: dict[str, str] = {}
    for binding_id, keys in table.items():
        if not isinstance(keys, str) or not keys.strip():
            raise UsageError(f"keymap {path}: {binding_id} must be a string of key names")
        keymap[binding_id] = keys
    return keymap
