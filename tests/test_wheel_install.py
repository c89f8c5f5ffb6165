"""The light install: the wheel with only the ``opensearch,onnx`` extras, in a fresh virtualenv.

The wheel is built from a copy of the package sources (the files the image copies), installed
with its dependencies into a virtualenv cached under ``~/.cache/sparsedoc/venvs/wheel-<key>``
(key: the wheel's ``Requires-Dist`` lines, the extras and the Python version), and reinstalled
there on every run. There, without torch, pyjnius or pyserini, ``sparsedoc --help`` runs, an ONNX
export encodes documents to the same vectors as in the full install, and a command that needs a
missing extra stops in one line naming it.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ("pyproject.toml", "README.md", "sparsedoc", "encoder", "ingest", "plugin")
LIGHT_EXTRAS = "opensearch,onnx"
DOCUMENTS = {
    "1": "experimental investigation of the aerodynamics of a wing in a slipstream",
    "2": "simple shear flow past a flat plate in an incompressible fluid of small viscosity",
    "3": "the flutter of a swept wing at transonic speeds",
    "4": "buckling of thin cylindrical shells under axial compression",
}


def _run(command: list[str | Path], *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run from / so that the clone's folders do not shadow what the virtualenv installed."""
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=timeout, cwd="/")


def _checked(command: list[str | Path], what: str, timeout: float = 600) -> None:
    done = _run(command, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout)[-3000:]}")


def _build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of the package sources (nothing is written into the clone)."""
    source = out / "source"
    for name in PACKAGE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    _checked([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
              "-w", out / "dist", source], "building the wheel")
    [wheel] = (out / "dist").glob("sparsedoc-*.whl")
    return wheel


def _requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode("utf-8").splitlines()
    return sorted(line for line in lines if line.startswith("Requires-Dist:"))


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtualenv with the current wheel and its ``opensearch,onnx`` dependencies; held (flock) by this module."""
    from sparsedoc.encoder.assets import cache_home

    wheel = _build_wheel(tmp_path_factory.mktemp("wheel"))
    spec = "\n".join([*_requires(wheel), LIGHT_EXTRAS, sys.version])
    venv = cache_home() / "venvs" / f"wheel-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other sessions wait: each reinstalls its own wheel
        if not (venv / ".complete").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            _checked([sys.executable, "-m", "venv", venv], "creating the virtualenv")
            _checked([venv / "bin" / "python", "-m", "pip", "install", "--quiet", f"{wheel}[{LIGHT_EXTRAS}]"],
                     f"pip install sparsedoc[{LIGHT_EXTRAS}]", timeout=1800)
            (venv / ".complete").write_text(spec + "\n")
        _checked([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                  wheel], "reinstalling the wheel")
        yield venv


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory, splade_tiny_dir: Path) -> Path:
    """SPLADE-tiny exported to ONNX by the full install (export needs torch)."""
    from sparsedoc.encoder.onnx_export import export_onnx

    directory = tmp_path_factory.mktemp("splade-tiny-onnx")
    export_onnx(splade_tiny_dir, directory, overwrite=True)
    return directory


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(f'{{"_id": "{i}", "text": "{text}"}}\n' for i, text in DOCUMENTS.items()))
    return path


def test_light_install_has_no_torch_nor_jvm_stack(light_venv: Path) -> None:
    probe = ("import importlib.util as u, sparsedoc\n"
             "print([m for m in ('torch', 'jnius', 'pyserini', 'onnxruntime', 'opensearchpy') if u.find_spec(m)])\n"
             "print(all(getattr(sparsedoc, name) for name in sparsedoc.__all__), sparsedoc.__file__)")
    done = _run([light_venv / "bin" / "python", "-c", probe])
    assert done.returncode == 0, done.stderr
    found, resolved = done.stdout.splitlines()
    assert found == "['onnxruntime', 'opensearchpy']"
    assert resolved.startswith("True " + str(light_venv)), resolved  # the installed wheel, not the clone


def test_help_runs(light_venv: Path) -> None:
    done = _run([light_venv / "bin" / "sparsedoc", "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: sparsedoc") and "encode" in done.stdout
    assert done.stderr == ""


@pytest.mark.model
def test_onnx_encode_gives_the_full_install_vectors(light_venv: Path, onnx_dir: Path, corpus: Path,
                                                    tmp_path: Path) -> None:
    from sparsedoc.encoder.onnx_doc_encoder import OnnxDocumentEncoder
    from sparsedoc.ingest.vectors_file import read_encoded

    out = tmp_path / "vectors.jsonl"
    done = _run([light_venv / "bin" / "sparsedoc", "encode", corpus, "--model", onnx_dir, "--out", out])
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}: 4 encoded" in done.stdout
    assert "PyTorch" not in done.stderr, done.stderr  # transformers' advisory is silenced
    light = {doc.doc_id: doc.vector for doc in read_encoded(out)}
    full = OnnxDocumentEncoder(onnx_dir).encode_document(list(DOCUMENTS.values()))
    assert list(light) == list(DOCUMENTS)
    for doc_id, expected in zip(DOCUMENTS, full, strict=True):
        assert set(light[doc_id]) == set(expected), doc_id
        assert max(abs(light[doc_id][t] - w) for t, w in expected.items()) < 1e-4, doc_id


@pytest.mark.model
def test_missing_extras_stop_in_one_line(light_venv: Path, onnx_dir: Path, splade_tiny_dir: Path, minilm_dir: Path,
                                         corpus: Path, tmp_path: Path) -> None:
    sparsedoc = light_venv / "bin" / "sparsedoc"
    refused: dict[tuple[str, str], list[str | Path]] = {
        ("torch", "TorchDocumentEncoder needs torch"):
            ["encode", corpus, "--model", splade_tiny_dir, "--out", tmp_path / "torch.jsonl"],
        ("lucene", "the embedded Lucene engine needs jnius_config"):  # checked before encoding
            ["index", corpus, "--model", onnx_dir, "--index", tmp_path / "index"],
        ("smoothing", "dense embeddings needs sentence_transformers"):  # after encoding (kept for a rerun)
            ["encode", corpus, "--model", onnx_dir, "--out", tmp_path / "smoothed.jsonl", "--neighbours", "2",
             "--neighbour-model", minilm_dir],
    }
    for (extra, purpose), arguments in refused.items():
        done = _run([sparsedoc, *arguments])
        assert done.returncode == 1, done.stderr
        assert done.stderr.splitlines()[-1:] == [
            f"error: {purpose} from the '{extra}' extra: pip install 'sparsedoc[{extra}]'"], done.stderr
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("torch", "index"))]  # nothing written
