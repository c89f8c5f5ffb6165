"""The wheel's package list (pyproject ``[tool.setuptools] packages``) matches the source folders."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _source_packages(package_dir: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for name, folder in package_dir.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            found.add(".".join((name, *parts)))
    return found


def test_every_package_folder_is_in_the_wheel() -> None:
    config = _setuptools()
    listed = set(config["packages"])
    missing = _source_packages(config["package-dir"]) - listed
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {sorted(missing)}"


def test_every_listed_package_has_a_folder() -> None:
    config = _setuptools()
    package_dir: dict[str, str] = config["package-dir"]
    for name in config["packages"]:
        root = max((k for k in package_dir if name == k or name.startswith(k + ".")), key=len)
        folder = ROOT / package_dir[root] / Path(*name.split(".")[root.count(".") + 1:])
        assert folder.is_dir(), f"pyproject.toml lists {name} but {folder} does not exist"
