"""The OpenSearch releases sparsedoc can run, pinned artifact by artifact, and their install.

A release is the official minimal distribution (``integ-test-zip``) from Maven Central plus
the official plugin zips (job-scheduler, ml-commons, k-NN, neural-search and, where one
exists for that version, security), installed with the distribution's own
``bin/opensearch-plugin``. The plugin zips on Maven Central carry no ``.sha1``, so each is
pinned here. 2.19.1's integ-test-zip holds only the transport module, so the modules
sparsedoc needs (lang-painless, mapper-extras for ``rank_features``, analysis-common for the
``english`` analyzer) are assembled from their Maven Central jars.

Versions: 3.6.0 is the newest with all four plugins on Maven Central (Java 21+); 2.19.1 is the
one with both neural-search and security (Java 17-23: 2.x needs the SecurityManager that
Java 24 removed). What each lacks is in ``Release.features``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sparsedoc.encoder.errors import BackendError

from ...java.maven import MAVEN_CENTRAL, MavenArtifact, download
from ...java.runtime import JavaRuntime
from ..features import features_of

logger = logging.getLogger(__name__)

INSTALL_MARKER = ".sparsedoc-installed.json"

@dataclass(frozen=True)
class Plugin:
    """A plugin zip and the name it reports in ``_cat/plugins``."""

    artifact: MavenArtifact
    name: str


@dataclass(frozen=True)
class Module:
    """A core module assembled from Maven jars (for distributions that lack it)."""

    name: str
    classname: str
    jars: tuple[MavenArtifact, ...]
    extended: tuple[str, ...] = ()
    policy: str | None = None


@dataclass(frozen=True)
class Release:
    """One OpenSearch version with every artifact pinned."""

    version: str
    min_java: int
    max_java: int | None
    distribution: MavenArtifact
    plugins: tuple[Plugin, ...]
    security: Plugin | None = None
    modules: tuple[Module, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Short hash of every pinned artifact and module: installs and images are keyed by it."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:12]

    @property
    def features(self) -> frozenset[str]:
        """Capabilities (``sparsedoc.plugin.opensearch.features``) that this version has."""
        return features_of(self.version)


def _plugin(artifact: str, version: str, sha1: str, name: str) -> Plugin:
    return Plugin(MavenArtifact("org.opensearch.plugin", artifact, version, sha1, extension="zip"), name)


def _jar(group: str, artifact: str, version: str) -> MavenArtifact:
    return MavenArtifact(group, artifact, version)  # verified against Maven Central's .sha1


_PAINLESS_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""


_REINDEX_POLICY = """grant {
  permission java.net.SocketPermission "*", "connect";
  permission java.net.NetPermission "getProxySelector";
};
"""


def _modules_2x(version: str) -> tuple[Module, ...]:
    asm_jars = ("asm", "asm-util", "asm-tree", "asm-commons", "asm-analysis")
    asm = tuple(_jar("org.ow2.asm", name, "9.7") for name in asm_jars)
    return (
        Module("lang-painless", "org.opensearch.painless.PainlessPlugin",
               (_jar("org.opensearch.plugin", "lang-painless", version),
                _jar("org.opensearch.plugin", "opensearch-scripting-painless-spi", version),
                _jar("org.antlr", "antlr4-runtime", "4.13.1"), *asm),
               policy=_PAINLESS_POLICY),
        Module("mapper-extras", "org.opensearch.index.mapper.MapperExtrasPlugin",
               (_jar("org.opensearch.plugin", "mapper-extras-client", version),)),
        Module("analysis-common", "org.opensearch.analysis.common.CommonAnalysisPlugin",
               (_jar("org.opensearch.plugin", "analysis-common", version),), extended=("lang-painless",)),
        Module("reindex", "org.opensearch.index.reindex.ReindexPlugin",  # delete-by-query (ML Commons deletes)
               (_jar("org.opensearch.plugin", "reindex-client", version),
                _jar("org.opensearch.client", "opensearch-rest-client", version),
                _jar("org.opensearch", "opensearch-ssl-config", version),
                _jar("org.apache.httpcomponents", "httpclient", "4.5.14"),
                _jar("org.apache.httpcomponents", "httpcore", "4.4.16"),
                _jar("org.apache.httpcomponents", "httpasyncclient", "4.1.5"),
                _jar("org.apache.httpcomponents", "httpcore-nio", "4.4.16"),
                _jar("commons-codec", "commons-codec", "1.16.1"),
                _jar("commons-logging", "commons-logging", "1.2")),
               policy=_REINDEX_POLICY),
    )


RELEASES: dict[str, Release] = {
    "3.6.0": Release(
        "3.6.0", 21, None,
        MavenArtifact("org.opensearch.distribution.integ-test-zip", "opensearch", "3.6.0",
                      "8549f483e338699fbfc1e9bfca831900d578bdf4", extension="zip"),
        (  # install order matters: job-scheduler before ml-commons, k-NN before neural-search
            _plugin("opensearch-job-scheduler", "3.6.0.0", "32b2bf420ffbd66efa06d82bbe4e387dd71c1bae",
                    "opensearch-job-scheduler"),
            _plugin("opensearch-ml-plugin", "3.6.0.0", "5209040092476760abd056c2aa3f79cc335a7649", "opensearch-ml"),
            _plugin("opensearch-knn", "3.6.0.0", "a5341366a870baf34bc405602bbb6b6530157697", "opensearch-knn"),
            _plugin("neural-search", "3.6.0.0", "8bc15fe12b8cf7bd6bc8138e0ab0666b05940c36", "opensearch-neural-search"),
        ),
    ),
    "2.19.1": Release(
        "2.19.1", 17, 23,
        MavenArtifact("org.opensearch.distribution.integ-test-zip", "opensearch", "2.19.1",
                      "af4fbc753ec975e4f335e3cf514527c7fb216864", extension="zip"),
        (
            _plugin("opensearch-job-scheduler", "2.19.1.0", "70086187558b6c62bb5419cce9ad997de7e8f951",
                    "opensearch-job-scheduler"),
            _plugin("opensearch-ml-plugin", "2.19.1.0", "264bb901831f3ffc22af9f95161fe40fd50fab57", "opensearch-ml"),
            _plugin("opensearch-knn", "2.19.1.0", "7ded4cf706be052f7bfcccea7102770a9298b96e", "opensearch-knn"),
            _plugin("neural-search", "2.19.1.0", "af25af4caf1d2a7563e187df1b97dc4559c6176e",
                    "opensearch-neural-search"),
        ),
        security=_plugin("opensearch-security", "2.19.1.0", "bbea3f51ff7e94da093589f2c30ad9868e92959b",
                         "opensearch-security"),
        modules=_modules_2x("2.19.1"),
    ),
}
DEFAULT_VERSION = "3.6.0"


def release(version: str) -> Release:
    """The pinned release for ``version``.

    Raises:
        BackendError: ``version`` is not pinned here.
    """
    try:
        return RELEASES[version]
    except KeyError:
        raise BackendError(f"OpenSearch {version} is not available; choose one of {sorted(RELEASES)}") from None


def extract_zip(archive: Path, dest: Path) -> None:
    """Unzip keeping Unix permission bits (zipfile drops them); refuses paths leaving ``dest``."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            if not target.resolve().is_relative_to(dest.resolve()):
                raise BackendError(f"unsafe path in {archive}: {info.filename}")
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)


def _descriptor(module: Module, version: str) -> str:
    fields = {"description": f"{module.name} module assembled by sparsedoc", "version": version,
              "name": module.name, "classname": module.classname, "java.version": "11",
              "opensearch.version": version, "custom.foldername": "",
              "extended.plugins": ",".join(module.extended), "has.native.controller": "false"}
    return "".join(f"{key}={value}\n" for key, value in fields.items())


def assemble_modules(rel: Release, dist: Path, artifacts: Path, repo: str = MAVEN_CENTRAL) -> None:
    """Write ``rel.modules`` into ``dist/modules`` from verified Maven jars."""
    for module in rel.modules:
        folder = dist / "modules" / module.name
        folder.mkdir(parents=True, exist_ok=True)
        for jar in module.jars:
            shutil.copy2(download(jar, artifacts / "jars", repo=repo), folder / jar.filename)
        (folder / "plugin-descriptor.properties").write_text(_descriptor(module, rel.version))
        if module.policy:
            (folder / "plugin-security.policy").write_text(module.policy)


def node_env(java: JavaRuntime, conf_dir: Path, java_opts: str = "") -> dict[str, str]:
    """Environment for the distribution's scripts: the chosen Java, a config dir, JVM options."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSEARCH_", "ES_"))}
    env.pop("JAVA_TOOL_OPTIONS", None)
    env["JAVA_HOME"] = env["OPENSEARCH_JAVA_HOME"] = str(java.home)
    env["OPENSEARCH_PATH_CONF"] = str(conf_dir)
    if java_opts:
        env["OPENSEARCH_JAVA_OPTS"] = java_opts
    return env


def install_release(rel: Release, dist_dir: Path, artifacts: Path, java: JavaRuntime, *,
                    plugins: bool = True, repo: str = MAVEN_CENTRAL) -> Path:
    """Download, verify, unpack and install plugins into ``dist_dir`` once; returns it.

    Raises:
        BackendError: a download, checksum or plugin installation failed.
    """
    if (dist_dir / INSTALL_MARKER).is_file():
        return dist_dir
    started = time.monotonic()
    dist_zip = download(rel.distribution, artifacts, repo=repo)
    chosen = [*rel.plugins, *([rel.security] if rel.security else [])] if plugins else []
    zips = [download(p.artifact, artifacts, repo=repo) for p in chosen]
    staging = dist_dir.with_name(f".{dist_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        extract_zip(dist_zip, staging)
        inner = staging / f"opensearch-{rel.version}"
        if not (inner / "bin" / "opensearch").is_file():
            raise BackendError(f"{dist_zip} has no opensearch-{rel.version}/bin/opensearch")
        assemble_modules(rel, inner, artifacts, repo)
        if zips:
            command = [str(inner / "bin" / "opensearch-plugin"), "install", "--batch",
                       *[z.resolve().as_uri() for z in zips]]
            done = subprocess.run(command, env=node_env(java, inner / "config"), capture_output=True, text=True,
                                  timeout=900)
            if done.returncode != 0:
                raise BackendError(f"opensearch-plugin install failed ({done.returncode}): "
                                   f"{(done.stdout + done.stderr).strip()[-2000:]}")
        (inner / INSTALL_MARKER).write_text(json.dumps({
            "opensearch": rel.version, "plugins": [p.name for p in chosen],
            "sha1": {a.filename: a.sha1 for a in (rel.distribution, *(p.artifact for p in chosen))},
            "modules": [m.name for m in rel.modules],
        }, indent=2))
        try:
            inner.rename(dist_dir)
        except OSError:
            if not (dist_dir / INSTALL_MARKER).is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("installed OpenSearch %s in %s (%.1fs)", rel.version, dist_dir, time.monotonic() - started)
    return dist_dir
