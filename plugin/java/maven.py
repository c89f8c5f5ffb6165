"""Download Maven artifacts once into a cache, verified by SHA-1 (pinned or Maven Central's).

The one download path for everything sparsedoc fetches from a Maven repository: the
OpenSearch distribution and plugin zips, the module jars a 2.x node is assembled from, and
DJL's native libraries. An artifact with a pinned SHA-1 must match it (and Maven Central's
``.sha1``, where one is published); an artifact without a pin must match the published
``.sha1``, so nothing unverified is ever used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sparsedoc.encoder.errors import BackendError

logger = logging.getLogger(__name__)

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


@dataclass(frozen=True)
class MavenArtifact:
    """One file in a Maven repository: coordinates and, optionally, its pinned SHA-1."""

    group: str
    artifact: str
    version: str
    sha1: str | None = None
    extension: str = "jar"
    classifier: str | None = None

    @property
    def filename(self) -> str:
        """File name in the repository (and in the cache)."""
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.{self.extension}"

    def url(self, repo: str = MAVEN_CENTRAL) -> str:
        """Download URL below a repository root."""
        group = self.group.replace(".", "/")
        return f"{repo.rstrip('/')}/{group}/{self.artifact}/{self.version}/{self.filename}"


def sha1_of(path: Path) -> str:
    """Hex SHA-1 of a file."""
    digest = hashlib.sha1()  # noqa: S324 - Maven repositories publish SHA-1 checksums
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _published_sha1(url: str) -> str | None:
    """The repository's ``.sha1`` for ``url``; ``None`` when none is published (404)."""
    try:
        with urllib.request.urlopen(url + ".sha1", timeout=30) as answer:
            return answer.read().decode().split()[0].strip().lower()
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise BackendError(f"cannot fetch {url}.sha1: HTTP {err.code}") from err
    except OSError as err:
        raise BackendError(f"cannot fetch {url}.sha1: {err}") from err


def download(artifact: MavenArtifact, cache_dir: Path, *, repo: str = MAVEN_CENTRAL, attempts: int = 3) -> Path:
    """Return ``artifact`` in ``cache_dir``, downloading and verifying it first if needed.

    Raises:
        BackendError: the download failed ``attempts`` times, the checksums disagree, or
            an unpinned artifact has no published checksum.
    """
    target = cache_dir / artifact.filename
    if target.is_file() and (artifact.sha1 is None or sha1_of(target) == artifact.sha1):
        return target
    url = artifact.url(repo)
    published = _published_sha1(url)
    if artifact.sha1 and published and published != artifact.sha1:
        raise BackendError(f"{url}.sha1 says {published}, pinned {artifact.sha1}: refusing")
    expected = artifact.sha1 or published
    if expected is None:
        raise BackendError(f"{url} has no published .sha1 and none is pinned: refusing to use it unverified")
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    error: Exception | None = None
    for attempt in range(attempts):
        started = time.monotonic()
        try:
            digest = hashlib.sha1()  # noqa: S324
            with urllib.request.urlopen(url, timeout=120) as answer, partial.open("wb") as out:
                while block := answer.read(1 << 20):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != expected:
                raise BackendError(f"SHA-1 of {url} is {digest.hexdigest()}, expected {expected}")
            partial.replace(target)
            logger.info("downloaded %s (%.1f MB) in %.1fs", artifact.filename, target.stat().st_size / 1e6,
                        time.monotonic() - started)
            return target
        except (OSError, BackendError) as err:
            error = err
            partial.unlink(missing_ok=True)
            logger.warning("download of %s failed (attempt %d of %d): %s", url, attempt + 1, attempts, err)
            time.sleep(1 + attempt)
    raise BackendError(f"cannot download {url}: {error}")
