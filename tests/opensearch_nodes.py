"""Real OpenSearch nodes for the tests, started once per session and version, stopped at the end.

``OPENSEARCH_VERSIONS`` is the version matrix. ``NodePool.node(version)`` starts a local
node (plugin/opensearch/node/local.py) on first use; ``secured`` gives a 2.19.1 node with TLS, an admin
and a least-privilege application user, with passwords made for this session. What a version
lacks is recorded with ``record_gap`` and printed in the test report.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsedoc.plugin.opensearch.node.local import LocalOpenSearchNode
from sparsedoc.plugin.opensearch.node.security import User

OPENSEARCH_VERSIONS = ("3.6.0", "2.19.1")
SECURED_VERSION = "2.19.1"
APP_INDEX_PREFIX = "sparsedoc"  # the application user's role covers sparsedoc* only
FAST_START = "-XX:TieredStopAtLevel=1"  # JVM option for test nodes: C1 only, starts faster

VERSION_GAPS: list[tuple[str, str, str]] = []  # (version, what, why) shown in the test report
NODES_STARTED: list[str] = []  # how each node of the session ran, shown in the test report


def record_gap(version: str, what: str, why: str) -> None:
    """Note that ``version`` refused ``what`` (and why) for the report's version matrix."""
    if (version, what, why) not in VERSION_GAPS:
        VERSION_GAPS.append((version, what, why))


@dataclass(frozen=True)
class SecuredCluster:
    """A secured node: HTTPS URL, the CA bundle that signed it, an admin and an application user."""

    url: str
    ca_file: str
    admin: User
    app: User
    node: LocalOpenSearchNode = field(repr=False)

    def auth(self, user: User) -> tuple[str, str]:
        """Basic-auth pair of ``user``."""
        return (user.name, user.password)


def new_password() -> str:
    """A strong random password, unique to this session."""
    return f"Sd-{secrets.token_urlsafe(18)}-9!"


class NodePool:
    """Nodes by (version, secured), started on first use: containers built from ``base_image``
    (testcontainers, host network) when given, else native local nodes. Secured nodes are native."""

    def __init__(self, root: Path, free_port, base_image: str | None = None) -> None:  # noqa: ANN001
        self.root = root
        self.shared = root.parent  # the session's temporary folder
        self.free_port = free_port
        self.base_image = base_image
        self.nodes: dict[tuple[str, bool], Any] = {}
        self.secured_cluster: SecuredCluster | None = None
        if base_image:  # the container's user (uid 1000) must reach data folders and file:// models
            for folder in (root, *root.parents):
                if folder == Path("/tmp"):
                    break
                folder.chmod(folder.stat().st_mode | 0o755)

    def node(self, version: str, users: tuple[User, ...] = ()) -> Any:
        """A started node of ``version`` (``LocalOpenSearchNode`` or ``ContainerNode``)."""
        key = (version, bool(users))
        if key not in self.nodes:
            port = self.free_port()
            node = LocalOpenSearchNode(port=port, version=version, data_dir=self.root / f"{version}-{port}",
                                       java_opts=FAST_START, users=users)
            if self.base_image and not users:
                from opensearch_containers import ContainerNode, opensearch_image

                node = ContainerNode(opensearch_image(version, self.base_image), node, self.shared, java_opts=FAST_START)
            self.nodes[key] = node
            node.start(timeout=300)
            how = f"container {node.image}" if self.base_image and not users else "native local node"
            NODES_STARTED.append(f"OpenSearch {version}{' secured (TLS + basic auth)' if users else ''}: {how} at {node.url}")
        return self.nodes[key]

    def secured(self) -> SecuredCluster:
        if self.secured_cluster is None:
            admin = User("sparsedoc-admin", new_password(), admin=True)
            app = User("sparsedoc-app", new_password())
            node = self.node(SECURED_VERSION, (admin, app))
            self.secured_cluster = SecuredCluster(node.url, str(node.ca_file), admin, app, node)
        return self.secured_cluster

    def stop_all(self) -> None:
        for node in self.nodes.values():
            node.stop()
