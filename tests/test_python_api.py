"""The Python API (``sparsedoc/__init__.py``): ``import sparsedoc`` does no work, every exported name
resolves without torch or the JVM, and the README's "Python API" block runs as written on embedded Lucene."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sparsedoc

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- readme-test: python-api -->"
HEAVY = ("torch", "jnius", "jnius_config", "pyserini", "transformers", "opensearchpy", "onnxruntime")


def _loaded_after(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh interpreter; return which heavy and which sparsedoc modules it left loaded."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps({{'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules), "
             "'sparsedoc': sorted(m for m in sys.modules if m.startswith('sparsedoc.'))}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/", check=True)
    return json.loads(done.stdout)


def test_import_sparsedoc_does_no_work() -> None:
    assert _loaded_after("import sparsedoc") == {"heavy": [], "sparsedoc": []}


def test_every_exported_name_resolves_without_torch_or_the_jvm() -> None:
    loaded = _loaded_after("import sparsedoc\nfor name in sparsedoc.__all__: getattr(sparsedoc, name)")
    assert not {"torch", "jnius", "jnius_config", "pyserini"} & set(loaded["heavy"]), loaded["heavy"]


def test_exports_are_the_library_objects() -> None:
    from sparsedoc.encoder.onnx_doc_encoder import load_document_encoder
    from sparsedoc.ingest.index_build import SmoothingPlan
    from sparsedoc.plugin.lucene.backend import LuceneBackend

    assert sparsedoc.LuceneBackend is LuceneBackend
    assert sparsedoc.SmoothingPlan is SmoothingPlan
    assert sparsedoc.load_document_encoder is load_document_encoder
    assert set(sparsedoc.__all__) <= set(dir(sparsedoc))
    assert not [name for name in sparsedoc.__all__ if name.startswith("_") and name != "__version__"]
    with pytest.raises(AttributeError, match="no attribute 'LuceneBackendd'"):
        sparsedoc.LuceneBackendd  # noqa: B018


def readme_block() -> str:
    """The fenced python block right after the marker in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```\n", text, re.DOTALL)
    assert found, f"README.md: no ```python block right after {MARKER}"
    return found.group(1) + "\n"


@pytest.mark.engine
@pytest.mark.model
def test_readme_python_api_block_runs(lucene_backend_cls: type, splade_tiny_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(compile(readme_block(), "README.md:python-api", "exec"), namespace)  # noqa: S102
    sparse, hybrid = namespace["sparse"], namespace["hybrid"]
    assert [hit.doc_id for hit in sparse.hits][:1] == ["1"], sparse
    assert sparse.hits[0].score > 0 and len(sparse.hits) == 2
    assert hybrid.doc_ids[0] == "1", hybrid
    assert capsys.readouterr().out.startswith("Hit(doc_id='1', score=")
