"""Print the pip requirements of sparsedoc with the extras named on the command line (core included).

The image installs them in a layer of their own, keyed on pyproject.toml alone, so that a change
to the sources reinstalls only the wheel. Extras that name other extras (``sparsedoc[torch]``,
``all``) are expanded.

    python docker/requirements.py opensearch onnx > requirements.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """Requirement strings of the core dependencies and of ``extras``, in order, without repeats.

    Raises:
        KeyError: an extra that pyproject.toml does not declare.
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    itself = re.compile(rf"^{re.escape(project['name'])}\[(?P<extras>[^\]]*)\]$")
    wanted, seen = list(project["dependencies"]), set()
    pending = list(extras)
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in project["optional-dependencies"][extra]:
            if match := itself.match(requirement):
                pending += [name.strip() for name in match.group("extras").split(",")]
            else:
                wanted.append(requirement)
    return list(dict.fromkeys(wanted))


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    print("\n".join(requirements(root / "pyproject.toml", [e for arg in sys.argv[1:] for e in arg.split(",") if e])))
