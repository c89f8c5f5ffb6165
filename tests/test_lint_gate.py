"""The lint and type gate runs with the suite: ruff, mypy, import-linter and the 400-line cap find nothing.

``scripts/lint.py`` runs them. Unit tier (no marker), so `make test` always runs it; together they take a
few seconds (mypy about 10 s on a cold cache, 1-2 s warm; its cache is ``.mypy_cache``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "lint.py"


@pytest.mark.parametrize("tool", ["ruff", "mypy", "imports", "size"])
def test_no_findings(tool: str) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), tool], capture_output=True, text=True, timeout=300,
                            check=False)
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"{tool} found problems (python scripts/lint.py {tool}):\n{report}"
