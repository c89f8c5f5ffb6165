"""Several local OpenSearch nodes on 127.0.0.1 joined into one cluster (tests, benchmarks).

Each node is a :class:`LocalOpenSearchNode` with its own HTTP port (transport port + 100),
data folder and run folder; all of them are cluster-manager eligible and hold data, so the
cluster keeps serving when one node dies (with at least one replica per shard).

Example:
    >>> with LocalOpenSearchCluster([9251, 9252, 9253], data_root=Path("/tmp/os")) as cluster:  # doctest: +SKIP
    ...     cluster.nodes[2].kill()
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from sparsedoc.encoder.errors import LocalNodeError

from .local import LocalOpenSearchNode


class LocalOpenSearchCluster:
    """``len(ports)`` nodes of one cluster; ``url`` is the first node's.

    Args:
        ports: HTTP ports, one per node.
        data_root: parent of each node's data folder (``<data_root>/<port>``).
        node_options: passed to every :class:`LocalOpenSearchNode` (version, heap, java_opts, ...).
    """

    def __init__(self, ports: Sequence[int], data_root: Path, **node_options: Any) -> None:
        multi = list(ports) if len(ports) > 1 else None
        self.nodes = [LocalOpenSearchNode(port=port, data_dir=Path(data_root) / str(port), cluster_ports=multi,
                                          **node_options) for port in ports]

    @property
    def url(self) -> str:
        """URL of the first node."""
        return self.nodes[0].url

    def start(self, timeout: float = 300) -> str:
        """Start every node, wait for green health; returns the first node's URL."""
        self.nodes[0].install()
        try:
            for node in self.nodes:
                node.launch()
            started = time.monotonic()
            self.nodes[0].wait_healthy(timeout, wait_for="green" if len(self.nodes) > 1 else "yellow")
            self._wait_for_all_nodes(started + timeout)
        except BaseException:
            self.stop()
            raise
        if self.nodes[0].configure_ml and self.nodes[0].plugins:
            self.nodes[0].configure_ml_commons()
        return self.url

    def _wait_for_all_nodes(self, deadline: float) -> None:
        """Return once every node has joined: green health can come first, with a node still joining
        (an index created then lands on the others and is rebalanced under its first writes)."""
        while (joined := self.nodes[0].request("GET", "/_cluster/health")["number_of_nodes"]) < len(self.nodes):
            if time.monotonic() > deadline:
                raise LocalNodeError(f"only {joined} of {len(self.nodes)} nodes joined the cluster at {self.url}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every node (all are tried even if one fails)."""
        errors = []
        for node in self.nodes:
            try:
                node.stop()
            except Exception as err:  # noqa: BLE001 - stop the others, then report
                errors.append(err)
        if errors:
            raise errors[0]

    def __enter__(self) -> LocalOpenSearchCluster:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
