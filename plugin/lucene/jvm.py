"""Start the JVM that runs Lucene and Anserini, once per process and only on demand.

Nothing happens at import time. ``start_jvm(settings)`` finds a Java 21+ runtime and the
Anserini fat jar, configures pyjnius and imports ``jnius`` (which boots the JVM).
Later calls return at once. The JVM cannot be restarted or reconfigured in the same
process, so the first caller's ``JvmSettings`` stand.

The runtime comes from :func:`sparsedoc.plugin.java.runtime.find_java_runtime` (Java 21+).
Jar lookup: ``JvmSettings.anserini_jar``, else ``resources/jars/anserini-*-fatjar.jar`` inside
the installed ``pyserini`` package, located with ``importlib.util.find_spec`` so no ``pyserini``
module is executed (they fetch resources at import). Environment variables are the CLI's
business (``sparsedoc.cli.environment.jvm_settings``); nothing here reads or keeps any.

With ``JvmSettings(reordering=True)`` the classpath also holds Lucene's ``lucene-misc``
module (``LUCENE_MISC``: document reordering, ``sparsedoc.plugin.lucene.reorder``), which the
fat jar lacks: the exact Lucene version inside Anserini 1.7.1, downloaded once from Maven
Central into ``<cache>/lucene`` and checked against a pinned SHA-1. Without it (offline,
first run) the JVM starts anyway and only reordering is unavailable.

JVM options follow the Lucene version (``jvm_options``): Lucene 9.9 was built for the
Vector API of Java 20-21 and the ``MemorySegment`` API of Java 19-21, so on later Java the
incubator module is not added and ``MMapDirectory`` is told to use its ``ByteBuffer``
implementation (what it falls back to there anyway) instead of warning at every start.

``JavaWorker`` is one Python thread for Java calls made beside the caller's (pyjnius releases
the GIL for the length of a Java call), detached from the JVM when it stops.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sparsedoc.encoder.assets import cache_home
from sparsedoc.encoder.errors import BackendError, MissingExtraError
from sparsedoc.encoder.extras import import_extra

from ..java.maven import MavenArtifact, download
from ..java.runtime import JavaRuntime, find_java_runtime

__all__ = [
    "LUCENE_MISC",
    "MIN_JAVA_VERSION",
    "JavaWorker",
    "JvmSettings",
    "find_anserini_jar",
    "find_lucene_misc_jar",
    "java_class",
    "jvm_options",
    "start_jvm",
]

logger = logging.getLogger(__name__)

MIN_JAVA_VERSION = 21
"""Anserini 1.x is compiled for Java 21."""

LUCENE_MISC = MavenArtifact("org.apache.lucene", "lucene-misc", "9.9.1",
                            sha1="db7c30217602dfcda394a4d0f0a9e68140d385a6")
"""Lucene's misc module at the Lucene version of Anserini 1.7.1's fat jar (BP reordering)."""

_VECTOR_MODULE = "jdk.incubator.vector"
_VECTOR_API_JAVA = range(20, 22)  # the Java versions whose Vector API Lucene 9.9 uses
_MEMORY_SEGMENT_JAVA = range(19, 22)  # ... and whose MemorySegment API its MMapDirectory uses
_MEMORY_SEGMENTS_PROPERTY = "org.apache.lucene.store.MMapDirectory.enableMemorySegments"
_lock = threading.Lock()
_started = False
_T = TypeVar("_T")


def find_anserini_jar(jar: str | Path | None = None) -> Path:
    """Return the Anserini fat jar: ``jar`` if given, else the one shipped in pyserini.

    Raises:
        BackendError: the jar was not found; the message says where it was looked for.
        MissingExtraError: none given and pyserini is not installed (extra ``lucene``).
    """
    if jar:
        if not Path(jar).is_file():
            raise BackendError(f"Anserini jar {jar} is not a file")
        return Path(jar)
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("the embedded Lucene engine (its Anserini jar)", "pyserini", "lucene")
    pattern = ""
    for location in spec.submodule_search_locations:
        pattern = str(Path(location) / "resources" / "jars" / "anserini-*-fatjar.jar")
        jars = sorted(glob.glob(pattern), key=_jar_version)
        if jars:
            return Path(jars[-1])
    raise BackendError(f"Anserini jar not found: none given and nothing matches {pattern}")


def find_lucene_misc_jar(cache_dir: Path | None = None) -> Path | None:
    """``LUCENE_MISC`` in ``<cache>/lucene``, downloaded once; ``None`` (with a warning) if it cannot be had."""
    try:
        return download(LUCENE_MISC, (cache_dir or cache_home()) / "lucene")
    except BackendError as exc:
        logger.warning("Lucene index reordering is unavailable: %s", exc)
        return None


def _jar_version(path: str) -> tuple[int, ...]:
    match = re.search(r"anserini-([\d.]+)", Path(path).name)
    return tuple(int(p) for p in match.group(1).strip(".").split(".")) if match else ()


@dataclass(frozen=True)
class JvmSettings:
    """How to start the JVM: the runtime, the classpath, the cache and the heap.

    Args:
        java_home: a Java home that must be used (an error if it is not Java 21+).
        preferred_java: Java homes tried first, when they are Java 21+.
        anserini_jar: the Anserini fat jar (default: the one inside pyserini).
        extra_jars: more classpath entries, after Anserini's.
        reordering: put ``lucene-misc`` on the classpath for BP document reordering
            (downloaded once from Maven Central into ``<cache_dir>/lucene``).
        cache_dir: where ``lucene-misc`` is cached (default ``cache_home()``).
        max_heap: the JVM's ``-Xmx`` value such as ``"8g"``; the JVM default if ``None``.

    Example:
        >>> JvmSettings(max_heap="4g", reordering=True).max_heap
        '4g'
    """

    java_home: str | Path | None = None
    preferred_java: tuple[str | Path, ...] = ()
    anserini_jar: str | Path | None = None
    extra_jars: tuple[str | Path, ...] = ()
    reordering: bool = False
    cache_dir: Path | None = None
    max_heap: str | None = None


def jvm_options(runtime: JavaRuntime, max_heap: str | None = None) -> list[str]:
    """The JVM options for Lucene 9.9 (Anserini 1.7.1) on ``runtime``: no warnings at start."""
    options = ["-Dlog4j2.level=WARN", "-Xrs"]  # -Xrs: Ctrl-C stays Python's KeyboardInterrupt
    if runtime.has_vector_module and runtime.version in _VECTOR_API_JAVA:
        options.append(f"--add-modules={_VECTOR_MODULE}")
    if runtime.version > max(_MEMORY_SEGMENT_JAVA):
        options.append(f"-D{_MEMORY_SEGMENTS_PROPERTY}=false")
    if runtime.version >= 23:  # JEP 471: Lucene 9 still uses sun.misc.Unsafe to unmap files
        options.append("--sun-misc-unsafe-memory-access=allow")
    if max_heap:
        options.append(f"-Xmx{max_heap}")
    return options


def start_jvm(settings: JvmSettings | None = None) -> None:
    """Boot the JVM with the Anserini jar (and ``lucene-misc`` if asked) on the classpath; a no-op once it runs.

    Raises:
        BackendError: no Java 21+ runtime or no Anserini jar was found, or the JVM was
            already started by someone else without Anserini on its classpath.
        MissingExtraError: pyjnius or pyserini is not installed (extra ``lucene``).
    """
    global _started
    settings = settings or JvmSettings()
    with _lock:
        if _started:
            return
        jnius_config = import_extra("jnius_config", "the embedded Lucene engine")
        if jnius_config.vm_running:
            _check_anserini_loaded()
            _started = True
            return
        runtime = find_java_runtime(MIN_JAVA_VERSION, java_home=settings.java_home, preferred=settings.preferred_java)
        jar = find_anserini_jar(settings.anserini_jar)
        jnius_config.add_options(*jvm_options(runtime, settings.max_heap))
        misc = find_lucene_misc_jar(settings.cache_dir) if settings.reordering else None
        jnius_config.set_classpath(str(jar), *(str(p) for p in settings.extra_jars), *([str(misc)] if misc else []))
        logger.info("starting JVM: Java %d at %s (%s), jar %s", runtime.version, runtime.home, runtime.source, jar)
        try:
            with _java_home(runtime.home):
                import jnius  # noqa: F401  (boots the JVM)
        except Exception as exc:  # pyjnius raises plain exceptions when libjvm cannot load
            raise BackendError(f"could not start the JVM from {runtime.home}: {exc}") from exc
        _check_anserini_loaded()
        _started = True


@contextmanager
def _java_home(home: Path) -> Iterator[None]:
    """``JAVA_HOME=home`` while pyjnius boots the JVM, then the caller's value again.

    pyjnius locates ``libjvm`` only through ``JAVA_HOME`` (``jnius_config.env.get_java_setup``,
    read when ``import jnius`` creates the JVM) and takes no path argument, so the variable
    is set for that import alone and restored afterwards.
    """
    previous = os.environ.get("JAVA_HOME")
    os.environ["JAVA_HOME"] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("JAVA_HOME", None)
        else:
            os.environ["JAVA_HOME"] = previous


def _check_anserini_loaded() -> None:
    try:
        java_class("io.anserini.search.similarity.ImpactSimilarity")
    except Exception as exc:
        raise BackendError(
            "the JVM is running but Anserini classes are missing from its classpath "
            f"(it was started before sparsedoc could configure it): {exc}"
        ) from exc


def java_class(name: str, *, public_only: bool = False) -> Any:
    """Return the pyjnius proxy of Java class ``name``; call ``start_jvm`` first.

    ``public_only`` gives a second proxy class of the same Java class, with its public members
    only. pyjnius keeps one method object per proxy class and binds it to an instance by
    storing the instance in it on each attribute access, so two threads calling one method on
    two instances of one proxy class can swap instances; instances of the two proxy classes
    have separate method objects and can be called from two threads at once.
    """
    from jnius import autoclass

    if public_only:
        return autoclass(name, include_protected=False, include_private=False)
    return autoclass(name)


class JavaWorker:
    """One Python thread for Java calls made while the calling thread makes others.

    pyjnius releases the GIL for the length of each Java call, so a call submitted here runs
    at the same time as one in the caller. The thread starts on the first ``submit``. ``close``
    detaches it from the JVM (pyjnius attaches a thread on its first Java call) and waits for
    it to end; it is idempotent, and a later ``submit`` starts a new thread. The worker itself
    is not thread-safe: its owner serialises ``submit`` and ``close`` (the backend's lock).

    Example:
        >>> worker = JavaWorker("lucene-search")
        >>> worker.submit(sum, [1, 2]).result()
        3
        >>> worker.close()
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, call: Callable[..., _T], *args: Any) -> Future[_T]:
        """Run ``call(*args)`` on the worker thread; its result or exception comes back through the future."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return self._pool.submit(call, *args)

    def close(self) -> None:
        """Detach the thread from the JVM and wait for it to end (no-op if it never started)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        with suppress(RuntimeError):  # the interpreter is exiting: it has already stopped the thread
            pool.submit(_detach)  # one worker: runs on its thread, after every call submitted before
        pool.shutdown(wait=True)


def _detach() -> None:
    """Detach the calling thread from the JVM (a no-op for a thread that never made a Java call)."""
    jnius = sys.modules.get("jnius")
    if jnius is not None:  # not imported: no JVM, so nothing to detach (and importing it would start one)
        jnius.detach()
