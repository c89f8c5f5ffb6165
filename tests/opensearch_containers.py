"""OpenSearch in containers for the tests (testcontainers-python), built offline from local artifacts.

Used when a Docker engine answers and ``SPARSEDOC_BASE_IMAGE`` names a local Java 21 base
(scripts/with-docker.sh builds one with mmdebstrap in CI). The OpenSearch image is built from
the distribution the local-node code installs and verifies, tagged by a hash of the Dockerfile,
the base image and the release fingerprint, so it is built once per content. Containers use
the host's network, bind 127.0.0.1 only, and keep their data in a host folder mounted at the
same path (tests seed DJL natives there), and see the session's temporary folder read-only at
its own path (tests register models by ``file://`` URL). ``ComposeStack`` runs the compose files
of docker/ on such an image.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sparsedoc.encoder.errors import LocalNodeError
from sparsedoc.plugin.opensearch.node.local import LocalOpenSearchNode

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "opensearch" / "Dockerfile"
SPARSEDOC_DOCKERFILE = DOCKER / "Dockerfile"
LOCAL_CAS = Path("/usr/local/share/ca-certificates")
PROJECT_LABEL = "com.docker.compose.project"
SPARSEDOC_IMAGE_FILES = ("pyproject.toml", "README.md", "docker/requirements.py", "sparsedoc", "encoder", "ingest", "plugin")


def base_image() -> str | None:
    """The local base image CI built, if any."""
    return os.environ.get("SPARSEDOC_BASE_IMAGE") or None


def compose_command() -> list[str]:
    """How to run Docker Compose v2: $SPARSEDOC_COMPOSE (scripts/docker-images.sh), else the docker plugin."""
    return shlex.split(os.environ.get("SPARSEDOC_COMPOSE") or "docker compose")


def _docker(*args: str, timeout: float = 1800) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if done.returncode != 0:
        raise LocalNodeError(f"docker {args[0]} failed: {done.stderr.strip()[-1500:]}")
    return done.stdout.strip()


def opensearch_image(version: str, base: str) -> str:
    """Build (once per content hash) the OpenSearch image of ``version`` on ``base``; return its tag."""
    node = LocalOpenSearchNode(version=version)
    dist = node.install()
    key = hashlib.sha256(DOCKERFILE.read_bytes() + base.encode() + node.release.fingerprint.encode()).hexdigest()[:12]
    tag = f"local/sparsedoc-opensearch:{version}-{key}"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:
        started = time.monotonic()
        _docker("build", "-q", "--network", "host", "-t", tag, "-f", str(DOCKERFILE), "--build-arg", f"BASE={base}",
                str(dist))
        from opensearch_nodes import NODES_STARTED

        NODES_STARTED.append(f"built image {tag} in {time.monotonic() - started:.0f}s")
    return tag


def sparsedoc_image(base: str) -> str:
    """Build (once per content hash) the sparsedoc image (docker/Dockerfile) on ``base``; return its tag.

    The hash covers the Dockerfile, the base and every file the image copies. pip needs the
    network, so the build uses the host's (the engine has no bridge), and trusts the host's
    local CAs (/usr/local/share/ca-certificates), as the host's pip does.
    """
    digest = hashlib.sha256(SPARSEDOC_DOCKERFILE.read_bytes() + base.encode())
    for name in SPARSEDOC_IMAGE_FILES:
        path = ROOT / name
        for file in sorted(path.rglob("*") if path.is_dir() else [path]):
            if file.is_dir() or "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes())
    tag = f"local/sparsedoc:{digest.hexdigest()[:12]}"
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:
        started = time.monotonic()
        local_cas = "".join(path.read_text(encoding="utf-8") for path in LOCAL_CAS.rglob("*.crt"))
        ca_args = ["--build-arg", f"CA_CERTS={local_cas}"] if local_cas else []
        _docker("build", "-q", "--network", "host", "-t", tag, "-f", str(SPARSEDOC_DOCKERFILE),
                "--build-arg", f"BASE={base}", *ca_args, str(ROOT))
        from opensearch_nodes import NODES_STARTED

        NODES_STARTED.append(f"built image {tag} in {time.monotonic() - started:.0f}s")
    return tag


class ContainerNode:
    """One OpenSearch node in a container on the host network (same settings as a local node)."""

    def __init__(self, image: str, node: LocalOpenSearchNode, shared: Path, heap: str = "1g",
                 java_opts: str = "") -> None:
        self.image, self.node, self.shared = image, node, shared
        self.heap, self.java_opts = heap, java_opts
        self.container: Any = None

    @property
    def url(self) -> str:
        return self.node.url

    def start(self, timeout: float = 300) -> str:
        from testcontainers.core.container import DockerContainer

        data = self.node.data_dir
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o777)  # the container's user (uid 1000) writes here; the tests seed DJL natives
        settings = {**self.node.settings(), "path.logs": "/usr/share/opensearch/logs"}
        args = [f"-E{key}={','.join(map(str, value)) if isinstance(value, list) else _flat(value)}"
                for key, value in settings.items()]
        mounts = DockerContainer(self.image).with_kwargs(network_mode="host")
        self.container = (mounts.with_env("OPENSEARCH_JAVA_OPTS", f"-Xms{self.heap} -Xmx{self.heap} {self.java_opts}")
                          .with_volume_mapping(str(data), str(data), "rw")
                          .with_volume_mapping(str(self.shared), str(self.shared), "ro")
                          .with_command(args))
        self.container.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                        f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=2s", timeout=5) as answer:
                    if json.loads(answer.read())["status"] in ("yellow", "green"):
                        self.node.configure_ml_commons()
                        return self.url
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                pass
            wrapped = self.container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status == "exited":
                break
            time.sleep(1)
        logs = self.container.get_wrapped_container().logs(tail=30).decode(errors="replace")
        self.stop()
        raise LocalNodeError(f"OpenSearch container {self.image} did not become healthy:\n{logs}")

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()
            self.container = None


class ComposeStack:
    """One compose project of docker/ ``files`` on a local OpenSearch ``image``, serving ``url``.

    Settings and secrets reach compose through its environment (``env``), never its arguments.
    """

    def __init__(self, files: tuple[str, ...], image: str, port: int, env: dict[str, str] | None = None,
                 scheme: str = "http") -> None:
        self.project = f"sparsedoc-test-{port}"
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.env = {**os.environ, **(env or {}), "SPARSEDOC_OPENSEARCH_IMAGE": image,
                    "OPENSEARCH_HTTP_PORT": str(port), "OPENSEARCH_TRANSPORT_PORT": str(port + 100)}
        self.command = [*compose_command(), "-p", self.project, *(arg for name in files
                                                                  for arg in ("-f", str(DOCKER / name)))]

    def compose(self, *args: str, timeout: float = 420) -> str:
        """Run ``docker compose ARGS`` on the project; raise with its logs' tail if it fails."""
        done = subprocess.run([*self.command, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if done.returncode != 0:
            logs = subprocess.run([*self.command, "logs", "--tail", "30"], capture_output=True, text=True, env=self.env)
            raise LocalNodeError(f"compose {args[0]} failed: {done.stderr[-1500:]}\n{logs.stdout[-3000:]}")
        return done.stdout

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes that still carry this project's label."""
        found = {}
        for kind in ("container", "network", "volume"):
            found[kind] = _docker(kind, "ls", "-q", *(["-a"] if kind == "container" else []),
                                  "--filter", f"label={PROJECT_LABEL}={self.project}").split()
        return found

    def inspect(self) -> dict[str, Any]:
        """``docker inspect`` of the project's one container."""
        (container,) = self.leftovers()["container"]
        return json.loads(_docker("inspect", container))[0]


def _flat(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
