"""`sparsedoc opensearch start|stop|status|install`: a local official OpenSearch node, no Docker;
`sparsedoc opensearch security-config`: certificates and users for a secured node in a container."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from sparsedoc.encoder.errors import BackendError
from sparsedoc.plugin.opensearch.node.release import DEFAULT_VERSION, RELEASES

from .environment import environment


def _node_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--port", default=9250, show_default=True, help="HTTP port on 127.0.0.1."),
        click.option("--version", "version", type=click.Choice(sorted(RELEASES)), default=DEFAULT_VERSION,
                     show_default=True, help="OpenSearch release (2.19.1 runs on Java 17-23)."),
        click.option("--home", type=click.Path(file_okay=False, path_type=Path),
                     help="Cache of artifacts and runs (default $SPARSEDOC_OPENSEARCH_HOME or "
                          "~/.cache/sparsedoc/opensearch)."),
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Node data directory."),
        click.option("--heap", default="1g", show_default=True, help="JVM heap."),
        click.option("--no-plugins", is_flag=True, help="Core OpenSearch only (no neural-search, ml-commons)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _with_node(command: Callable[..., Any]) -> Callable[..., Any]:
    """Build the node from the options and turn its errors into one-line CLI errors."""

    @wraps(command)
    def run(port: int, version: str, home: Path | None, data_dir: Path | None, heap: str, no_plugins: bool,
            **kwargs: Any) -> Any:
        from sparsedoc.plugin.opensearch.node.local import LocalOpenSearchNode

        env = environment()
        node = LocalOpenSearchNode(home=home or env.opensearch_home, port=port, version=version, data_dir=data_dir,
                                   heap=heap, plugins=not no_plugins, java_home=env.java_home)
        try:
            return command(node, **kwargs)
        except BackendError as err:
            raise click.ClickException(str(err)) from err

    return _node_options(run)


@click.group("opensearch")
def opensearch() -> None:
    """A real OpenSearch node from official Maven Central artifacts, run natively on 127.0.0.1."""


@opensearch.command("install")
@_with_node
def install(node: Any) -> None:
    """Download (once, verified) and unpack OpenSearch and its plugins."""
    click.echo(node.install())


@opensearch.command("start")
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to wait for health yellow/green.")
@click.option("--djl-natives/--no-djl-natives", default=True, show_default=True,
              help="Put DJL's libtorch (from Maven Central) into the node's ML cache, so ML Commons can "
                   "deploy SPARSE_ENCODING models offline.")
@_with_node
def start(node: Any, timeout: float, djl_natives: bool) -> None:
    """Start the node (installing it first if needed) and print its URL."""
    url = node.start(timeout=timeout)
    if djl_natives and node.plugins:
        from sparsedoc.plugin.opensearch.node.djl_natives import seed_djl_pytorch

        seed_djl_pytorch(node.data_dir / "ml_cache", cache=environment().cache_dir / "djl")
    click.echo(url)


@opensearch.command("stop")
@_with_node
def stop(node: Any) -> None:
    """Stop the node on --port."""
    node.stop()


@opensearch.command("status")
@_with_node
def status(node: Any) -> None:
    """Print the node's state as JSON (running, pid, version, health, plugins)."""
    click.echo(json.dumps(node.status(), indent=2))


SECURED_VERSIONS = sorted(version for version, release in RELEASES.items() if release.security is not None)


@opensearch.command("security-config")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--version", "version", type=click.Choice(SECURED_VERSIONS), default=SECURED_VERSIONS[-1],
              show_default=True, help="OpenSearch release whose security plugin hashes the passwords.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="Cache of artifacts (default $SPARSEDOC_OPENSEARCH_HOME or ~/.cache/sparsedoc/opensearch).")
@click.option("--admin-password", envvar="OPENSEARCH_INITIAL_ADMIN_PASSWORD", required=True, show_envvar=True,
              help="Password of user admin (all_access); set the variable (an argument shows in process listings).")
@click.option("--app-user", help="Also a least-privilege user: reads and writes sparsedoc* indices only.")
@click.option("--app-password", envvar="SPARSEDOC_OPENSEARCH_PASSWORD", show_envvar=True,
              help="The --app-user's password; set the variable.")
def security_config(directory: Path, version: str, home: Path | None, admin_password: str,
                    app_user: str | None, app_password: str | None) -> None:
    """Write a new CA, a node certificate for 127.0.0.1, opensearch.yml (TLS) and the security
    config (users, roles) into DIRECTORY, for docker/docker-compose.secure-local.yml; print the CA file."""
    from sparsedoc.plugin.opensearch.node.local import LocalOpenSearchNode
    from sparsedoc.plugin.opensearch.node.security import User, write_node_security

    if app_user and not app_password:
        raise click.UsageError("--app-user needs its password in SPARSEDOC_OPENSEARCH_PASSWORD")
    users = [User("admin", admin_password, admin=True), *([User(app_user, app_password or "")] if app_user else [])]
    env = environment()
    node = LocalOpenSearchNode(home=home or env.opensearch_home, version=version, java_home=env.java_home)
    try:
        click.echo(write_node_security(directory, node.install(), node.java(), users))
    except BackendError as err:
        raise click.ClickException(str(err)) from err


COMMANDS = [opensearch]
