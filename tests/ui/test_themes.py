"""Themes: the shipped files load and match the repository's themes/ copies, --theme takes
short names, Textual names and files, NO_COLOR starts with the ANSI theme, and the 16-colour
theme is built on Textual's ansi-dark (native ANSI colours)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbtop.errors import UsageError
from dbtop.ui import theming
from dbtop.ui.bindings import all_binding_ids
from dbtop.ui.keymap import load_keymap
from tests.ui.conftest import make_app, polled

REPO_THEMES = Path(__file__).resolve().parents[2] / "themes"


def test_the_repository_copies_match_the_shipped_themes():
    shipped = sorted(p.name for p in theming.SHIPPED_DIR.glob("*.toml"))
    assert shipped == ["ansi.toml", "dark.toml", "light.toml"]
    for name in shipped:
        assert (REPO_THEMES / name).read_text() == (theming.SHIPPED_DIR / name).read_text(), (
            f"themes/{name} and src/dbtop/ui/themes/{name} differ: copy one onto the other"
        )


def test_shipped_themes_load_with_their_row_colours():
    themes = theming.load_themes(Path("/nonexistent"))
    assert set(themes) == {"dark", "light", "ansi"}
    assert themes["dark"].dark and not themes["light"].dark
    ansi = themes["ansi"]
    assert ansi.ansi and ansi.primary == "ansi_blue", "built on Textual's ansi-dark"
    for theme in themes.values():
        assert set(theming.ROW_VARIABLES) <= set(theme.variables), theme.name


def test_choice_of_theme(monkeypatch):
    assert theming.choose_theme_name(None, environ={}) == "dark"
    assert theming.choose_theme_name(None, environ={"NO_COLOR": "1"}) == "ansi"
    assert theming.choose_theme_name(None, environ={"DBTOP_THEME": "light"}) == "light"
    assert theming.choose_theme_name("light", environ={"NO_COLOR": ""}) == "light"
    themes = theming.load_themes(Path("/nonexistent"))
    assert theming.resolve("dbtop-light", themes).name == "dbtop-light"
    assert theming.resolve("nord", themes).name == "nord"
    with pytest.raises(UsageError, match="unknown theme 'nope'"):
        theming.resolve("nope", themes)


def test_user_theme_files(tmp_path: Path):
    (tmp_path / "mine.toml").write_text('base = "ansi-light"\n[variables]\ndbtop-alarm = "red"\n')
    (tmp_path / "broken.toml").write_text("primary = \n")
    with pytest.raises(UsageError, match="cannot read theme"):
        theming.load_themes(tmp_path)
    (tmp_path / "broken.toml").unlink()
    mine = theming.load_themes(tmp_path)["mine"]
    assert mine.name == "mine" and mine.ansi and mine.variables["dbtop-alarm"] == "red"
    (tmp_path / "odd.toml").write_text('primary = "#123456"\ncolour = "x"\n')
    with pytest.raises(UsageError, match="unknown key"):
        theming.theme_from_file(tmp_path / "odd.toml")


async def test_no_color_starts_in_the_ansi_theme(engine, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        assert app.theme == "dbtop-ansi" and app.no_color


async def test_theme_switch_keeps_row_colours_defined(engine):
    app = make_app(engine, theme="nord")
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        assert app.theme_variables["dbtop-alarm"] == app.theme_variables["error"]
        app.use_theme("light")
        await pilot.pause()
        assert app.theme == "dbtop-light"


def test_keymap_file(tmp_path: Path):
    known = all_binding_ids()
    path = tmp_path / "keymap.toml"
    assert load_keymap(path, known) == {}
    path.write_text('[keymap]\n"session.cancel" = "x"\n')
    assert load_keymap(path, known) == {"session.cancel": "x"}
    path.write_text('[keymap]\n"no.such" = "x"\n')
    with pytest.raises(UsageError, match="unknown binding id"):
        load_keymap(path, known)
