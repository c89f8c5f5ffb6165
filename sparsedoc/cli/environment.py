"""The environment variables sparsedoc reads: only here, only in the CLI.

The library takes every setting as an argument; the CLI turns these variables into those
arguments (``--url`` and friends also read ``SPARSEDOC_OPENSEARCH_*`` through click).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sparsedoc.encoder.assets import cache_home

if TYPE_CHECKING:
    from sparsedoc.plugin.lucene.jvm import JvmSettings


@dataclass(frozen=True)
class Environment:
    """Settings from environment variables."""

    cache_dir: Path  # SPARSEDOC_HOME, default ~/.cache/sparsedoc
    java_home: str | None  # SPARSEDOC_JAVA_HOME: must be a suitable Java
    preferred_java: tuple[str, ...]  # JAVA_HOME: used when suitable
    anserini_jar: str | None  # SPARSEDOC_ANSERINI_JAR
    jvm_heap: str | None  # SPARSEDOC_JVM_HEAP: -Xmx of the embedded Lucene JVM, e.g. 8g
    opensearch_home: Path  # SPARSEDOC_OPENSEARCH_HOME, default <cache>/opensearch


def environment() -> Environment:
    """Read sparsedoc's environment variables."""
    cache = cache_home(os.environ.get("SPARSEDOC_HOME"))
    return Environment(
        cache_dir=cache,
        java_home=os.environ.get("SPARSEDOC_JAVA_HOME") or None,
        preferred_java=tuple(filter(None, [os.environ.get("JAVA_HOME")])),
        anserini_jar=os.environ.get("SPARSEDOC_ANSERINI_JAR") or None,
        jvm_heap=os.environ.get("SPARSEDOC_JVM_HEAP") or None,
        opensearch_home=Path(os.environ.get("SPARSEDOC_OPENSEARCH_HOME") or cache / "opensearch"),
    )


def jvm_settings(*, reordering: bool = False) -> JvmSettings:
    """The embedded Lucene JVM's settings from the environment's Java, jar, cache and heap."""
    from sparsedoc.plugin.lucene.jvm import JvmSettings

    env = environment()
    return JvmSettings(java_home=env.java_home, preferred_java=env.preferred_java, anserini_jar=env.anserini_jar,
                       reordering=reordering, cache_dir=env.cache_dir, max_heap=env.jvm_heap)
