"""Provide DJL's PyTorch native libraries to an offline OpenSearch node, from Maven Central.

ML Commons runs local models through DJL. Both of its engines need libtorch:
TORCH_SCRIPT models run on it, and DJL's onnxruntime engine loads PyTorch as its
"alternative engine" when it creates its first NDManager (the sparse-encoding translator's
``nonzero()`` runs there). At first use DJL downloads libtorch and its JNI bridge from
``publish.djl.ai``; without that host, every SPARSE_ENCODING deploy fails with
``UnknownHostException: publish.djl.ai``, and the failed class initialisation of
``OrtNDManager`` keeps ONNX deploys failing until the node restarts.

DJL skips the download when the files are already in its cache, which ML Commons sets
to ``<path.data>/ml_cache``. ML Commons 3.x pins ``PYTORCH_VERSION=2.5.1`` and
``PYTORCH_PRECXX11=true`` with DJL 0.31.1, so the cache directory is
``ml_cache/pytorch/2.5.1-cpu-precxx11-linux-x86_64/`` holding ``libtorch*.so``, ``libc10.so``,
``libgomp*.so*`` and ``0.31.1-libdjl_torch.so``. Maven Central has:

* ``ai.djl.pytorch:pytorch-native-cpu:2.5.1:linux-x86_64`` (libtorch 2.5.1, C++11 ABI);
  there is no pre-C++11 (``-precxx11``) 2.5.1 build there (it stops at 2.4.0);
* ``ai.djl.pytorch:pytorch-jni:2.5.1-0.32.0`` (JNI bridge for DJL 0.32.0); there is no
  ``2.5.1-0.31.1`` build there.

So :func:`seed_djl_pytorch` puts the C++11-ABI libtorch and the matching C++11-ABI JNI
bridge of DJL 0.32.0 under the directory name DJL 0.31.1 looks for. The ABIs agree with
each other (DJL only uses the flavour to name the directory); the JNI bridge being one DJL
minor version newer is the one deviation, checked by the integration tests (deploy and
predict), not guaranteed by DJL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
import zipfile
from pathlib import Path

from sparsedoc.encoder.errors import BackendError

logger = logging.getLogger(__name__)

MAVEN_REPO = "https://repo1.maven.org/maven2"
PYTORCH_VERSION = "2.5.1"
DJL_VERSION = "0.31.1"
FLAVOR_DIR = f"{PYTORCH_VERSION}-cpu-precxx11-linux-x86_64"
NATIVE_JAR = ("ai/djl/pytorch/pytorch-native-cpu/2.5.1/pytorch-native-cpu-2.5.1-linux-x86_64.jar",
              "pytorch/cpu/linux-x86_64/")
JNI_JAR = ("ai/djl/pytorch/pytorch-jni/2.5.1-0.32.0/pytorch-jni-2.5.1-0.32.0.jar",
           "jnilib/linux-x86_64/cpu/libdjl_torch.so")


def _cache_dir() -> Path:
    return Path(os.environ.get("SPARSEDOC_HOME") or Path.home() / ".cache" / "sparsedoc") / "djl"


def _fetch(path: str, repo: str, cache: Path) -> Path:
    """Download one Maven artifact (verified against its .sha1) into ``cache``, once."""
    target = cache / Path(path).name
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    url = f"{repo.rstrip('/')}/{path}"
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=30) as answer:
            expected = answer.read().decode().split()[0].strip()
        digest = hashlib.sha1()  # noqa: S324 - Maven Central publishes SHA-1 checksums
        partial = target.with_suffix(target.suffix + ".part")
        with urllib.request.urlopen(url, timeout=120) as answer, partial.open("wb") as out:
            while block := answer.read(1 << 20):
                digest.update(block)
                out.write(block)
    except OSError as err:
        raise BackendError(f"cannot download {url}: {err}") from err
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise BackendError(f"{url}: SHA-1 {digest.hexdigest()} differs from Maven Central's {expected}")
    partial.replace(target)
    return target


def seed_djl_pytorch(ml_cache: str | Path, *, repo: str = MAVEN_REPO, cache: Path | None = None) -> Path:
    """Put libtorch and DJL's JNI bridge where ML Commons' DJL looks before downloading.

    Args:
        ml_cache: the node's ``<path.data>/ml_cache`` directory (created if missing).
        repo: Maven repository URL.
        cache: where the jars are kept between calls (default ``~/.cache/sparsedoc/djl``).

    Returns:
        The seeded directory (``ml_cache/pytorch/2.5.1-cpu-precxx11-linux-x86_64``).

    Raises:
        BackendError: a jar cannot be downloaded or fails its checksum.

    Example:
        >>> seed_djl_pytorch("/var/lib/opensearch/ml_cache")  # doctest: +SKIP
    """
    target = Path(ml_cache) / "pytorch" / FLAVOR_DIR
    jni_name = f"{DJL_VERSION}-libdjl_torch.so"
    if (target / "libtorch.so").is_file() and (target / jni_name).is_file():
        return target
    cache = cache or _cache_dir()
    native_jar = _fetch(NATIVE_JAR[0], repo, cache)
    jni_jar = _fetch(JNI_JAR[0], repo, cache)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(native_jar) as jar:
        for member in jar.namelist():
            if member.startswith(NATIVE_JAR[1]) and not member.endswith("/"):
                (target / Path(member).name).write_bytes(jar.read(member))
    with zipfile.ZipFile(jni_jar) as jar:
        (target / jni_name).write_bytes(jar.read(JNI_JAR[1]))
    logger.info("seeded DJL PyTorch %s natives into %s", PYTORCH_VERSION, target)
    return target
