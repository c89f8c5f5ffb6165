"""The environment variables sparsedoc reads: only here, only in the CLI.

The library takes every setting as an argument; the CLI turns these variables into those
arguments (``--url`` and friends also read ``SPARSEDOC_OPENSEARCH_*`` through click).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sparsedoc.encoder.assets import cache_home


@dataclass(frozen=True)
class Environment:
    """Settings from environment variables."""

    cache_dir: Path  # SPARSEDOC_HOME, default ~/.cache/sparsedoc
    java_home: str | None  # SPARSEDOC_JAVA_HOME: must be a suitable Java
    preferred_java: tuple[str, ...]  # JAVA_HOME: used when suitable
    anserini_jar: str | None  # SPARSEDOC_ANSERINI_JAR
    opensearch_home: Path  # SPARSEDOC_OPENSEARCH_HOME, default <cache>/opensearch


def environment() -> Environment:
    """Read sparsedoc's environment variables."""
    cache = cache_home(os.environ.get("SPARSEDOC_HOME"))
    return Environment(
        cache_dir=cache,
        java_home=os.environ.get("SPARSEDOC_JAVA_HOME") or None,
        preferred_java=tuple(filter(None, [os.environ.get("JAVA_HOME")])),
        anserini_jar=os.environ.get("SPARSEDOC_ANSERINI_JAR") or None,
        opensearch_home=Path(os.environ.get("SPARSEDOC_OPENSEARCH_HOME") or cache / "opensearch"),
    )


def start_lucene_jvm() -> None:
    """Start the JVM for the embedded Lucene backend with the environment's Java and jar."""
    from sparsedoc.plugin.lucene.jvm import start_jvm

    env = environment()
    start_jvm(java_home=env.java_home, preferred=env.preferred_java, jar=env.anserini_jar, cache_dir=env.cache_dir)
