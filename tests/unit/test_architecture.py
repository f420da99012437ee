"""The layer contracts of pyproject.toml ([tool.importlinter]) hold: the model, analysis and
engines never import Textual, the UI never imports a driver, imports point downward."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_engines_are_found_by_scheme_without_importing_the_others():
    code = (
        "import sys; from dbtop.engines.registry import engine_class, known_schemes;"
        "assert 'postgresql' in known_schemes();"
        "engine_class('postgresql');"
        "loaded = [m for m in ('redis', 'aiomysql', 'pymongo', 'textual') if m in sys.modules];"
        "print(loaded); assert not loaded, loaded"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
