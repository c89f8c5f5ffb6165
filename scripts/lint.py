"""The lint and type gate: ruff, mypy and import-linter on the library packages, with zero findings.

Usage: ``python scripts/lint.py [ruff|mypy|imports|size ...]`` (all by default). Prints each tool's findings
and exits 1 if any tool found something. ``size`` lists Python modules over ``MAX_LINES`` lines (the style
guide's upper bound) in the packages, tests, benchmarks and scripts. Settings live in pyproject.toml (``[tool.ruff]``, ``[tool.mypy]``,
``[tool.importlinter]``); ``tests/test_lint_gate.py`` runs this with the test suite.

pyproject maps the folders ``encoder/``, ``ingest/`` and ``plugin/`` to ``sparsedoc.encoder`` and so on
(setuptools ``package-dir``). Only the editable install's import hook knows that mapping, and mypy and
import-linter find modules by walking folders, so both run on a temporary tree of links laid out like the wheel.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("ruff", "mypy", "imports", "size")
MAX_LINES = 400


def _package_dir() -> dict[str, str]:
    """``[tool.setuptools] package-dir``: import name -> folder relative to the repository."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(config["tool"]["setuptools"]["package-dir"])


def _link_tree(target: Path, package_dir: dict[str, str]) -> None:
    """Lay out the packages under ``target`` as installed: one link per mapped folder (or per root-package entry)."""
    for name, folder in sorted(package_dir.items(), key=lambda item: item[0].count(".")):
        place = target.joinpath(*name.split("."))
        if "." in name:
            place.symlink_to(ROOT / folder, target_is_directory=True)
            continue
        place.mkdir(parents=True)
        mapped = {other.split(".")[1] for other in package_dir if other.startswith(name + ".")}
        for entry in (ROOT / folder).iterdir():
            if entry.name != "__pycache__" and entry.name not in mapped:
                entry_link = place / entry.name
                entry_link.symlink_to(entry, target_is_directory=entry.is_dir())


def _repo_paths(output: str, package_dir: dict[str, str]) -> str:
    """Rewrite tree paths in a tool's output (``sparsedoc/encoder/x.py``) to repository paths (``encoder/x.py``)."""
    prefixes = sorted(((name.replace(".", "/") + "/", folder.rstrip("/") + "/") for name, folder in package_dir.items()),
                      key=lambda pair: -len(pair[0]))
    lines = []
    for line in output.splitlines():
        for tree_prefix, folder in prefixes:
            if line.startswith(tree_prefix):
                line = folder + line[len(tree_prefix):]
                break
        lines.append(line)
    return "\n".join(lines)


def _run(command: list[str], cwd: Path) -> tuple[int, str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return result.returncode, (result.stdout + result.stderr).strip()


def _oversized(folders: list[str]) -> tuple[int, str]:
    """Modules over ``MAX_LINES`` lines under ``folders``, as findings."""
    found = []
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES}; split it along a seam)")
    return (1 if found else 0), "\n".join(found) or f"no module over {MAX_LINES} lines"


def run_tool(tool: str) -> tuple[int, str]:
    """Run one tool of the gate; return its exit status and its output (paths as in the repository)."""
    package_dir = _package_dir()
    config = str(ROOT / "pyproject.toml")
    if tool == "size":
        return _oversized([*sorted(set(package_dir.values())), "tests", "benchmarks", "scripts"])
    if tool == "ruff":
        folders = sorted(set(package_dir.values()))
        return _run([sys.executable, "-m", "ruff", "check", "--config", config, *folders], ROOT)
    with tempfile.TemporaryDirectory(prefix="sparsedoc-lint-") as tree:
        _link_tree(Path(tree), package_dir)
        roots = sorted({name.split(".")[0] for name in package_dir})
        if tool == "mypy":
            packages = [arg for root in roots for arg in ("-p", root)]
            command = [sys.executable, "-m", "mypy", "--config-file", config,
                       "--cache-dir", str(ROOT / ".mypy_cache"), *packages]
        elif tool == "imports":
            command = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
                       config, "--no-cache"]
        else:
            raise ValueError(f"unknown tool {tool!r}: choose from {', '.join(TOOLS)}")
        status, output = _run(command, Path(tree))
        return status, _repo_paths(output, package_dir)


def main(argv: list[str]) -> int:
    failed = False
    for tool in argv or TOOLS:
        status, output = run_tool(tool)
        if tool == "imports":  # drop import-linter's banner
            output = output[output.find("Contracts\n"):].lstrip("-\n")
        print(f"== {tool}: {'ok' if status == 0 else f'exit {status}'}\n{output}")
        failed = failed or status != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
