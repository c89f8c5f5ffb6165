"""Print the image's pip requirements: pyproject's dependencies plus the extras named on the
command line, less the distributions named in $EXCLUDE (space-separated, e.g. "torch pyserini").

    python docker/requirements.py opensearch export > requirements.txt
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str], exclude: set[str]) -> list[str]:
    """Requirement strings of the core dependencies and ``extras``, without ``exclude``."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    name = re.compile(r"^[A-Za-z0-9._-]+")
    return [req for req in wanted if name.match(req).group(0).lower() not in exclude]


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    excluded = {word.lower() for word in os.environ.get("EXCLUDE", "").split()}
    print("\n".join(requirements(root / "pyproject.toml", sys.argv[1:], excluded)))
