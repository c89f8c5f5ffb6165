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

import logging
import zipfile
from pathlib import Path

from sparsedoc.encoder.assets import cache_home

from ...java.maven import MAVEN_CENTRAL, MavenArtifact, download

logger = logging.getLogger(__name__)

PYTORCH_VERSION = "2.5.1"
DJL_VERSION = "0.31.1"
FLAVOR_DIR = f"{PYTORCH_VERSION}-cpu-precxx11-linux-x86_64"
NATIVE_JAR = MavenArtifact("ai.djl.pytorch", "pytorch-native-cpu", "2.5.1", classifier="linux-x86_64")
NATIVE_PREFIX = "pytorch/cpu/linux-x86_64/"
JNI_JAR = MavenArtifact("ai.djl.pytorch", "pytorch-jni", "2.5.1-0.32.0")
JNI_MEMBER = "jnilib/linux-x86_64/cpu/libdjl_torch.so"


def seed_djl_pytorch(ml_cache: str | Path, *, repo: str = MAVEN_CENTRAL, cache: Path | None = None) -> Path:
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
    cache = cache or cache_home() / "djl"
    native_jar = download(NATIVE_JAR, cache, repo=repo)
    jni_jar = download(JNI_JAR, cache, repo=repo)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(native_jar) as jar:
        for member in jar.namelist():
            if member.startswith(NATIVE_PREFIX) and not member.endswith("/"):
                (target / Path(member).name).write_bytes(jar.read(member))
    with zipfile.ZipFile(jni_jar) as jar:
        (target / jni_name).write_bytes(jar.read(JNI_MEMBER))
    logger.info("seeded DJL PyTorch %s natives into %s", PYTORCH_VERSION, target)
    return target
