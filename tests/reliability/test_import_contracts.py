"""The import contracts of pyproject.toml (``[tool.importlinter]``) hold: layers point one way, no subpackage
cycles, the library never imports gghl.testing or a dev-only dependency. The same check as ``make lint``,
here so that ``make test`` guards it too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# lint-imports has no ``python -m`` entry; call its console function with this interpreter.
_RUN = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def test_import_contracts_are_kept() -> None:
    pytest.importorskip(
        "importlinter", reason="import-linter is not installed (dev extra: pip install -e '.[dev]')"
    )
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout: the contracts live in pyproject.toml")
    # PYTHONPATH: analyse this checkout, not whatever an editable install points at.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"lint-imports failed:\n{proc.stdout}\n{proc.stderr}"
    assert "0 broken" in proc.stdout
