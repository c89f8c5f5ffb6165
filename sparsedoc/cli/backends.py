"""Pick and construct a concrete backend from command-line options (the CLI's job alone)."""

from __future__ import annotations

from pathlib import Path

import click

from sparsedoc.plugin.approximate import APPROXIMATE_METHODS, approximate_settings
from sparsedoc.plugin.base import Backend

BACKENDS = ("lucene", "opensearch")


def approximate_option(command: click.decorators.FC) -> click.decorators.FC:
    """Add ``--approximate exact|two-phase|seismic`` (sparse search; seismic is Lucene-only and set at indexing)."""
    return click.option(
        "--approximate", type=click.Choice(("exact", *APPROXIMATE_METHODS)), default="exact", show_default=True,
        help="Sparse search: exact, two-phase (high-IDF tokens then rescoring; both backends) or seismic "
             "(embedded SEISMIC index, lucene only; index with it too; pip extra 'seismic').")(command)


def backend_options(command: click.decorators.FC) -> click.decorators.FC:
    """Add ``--backend``, ``--url`` and OpenSearch connection options to a command."""
    options = [
        click.option("--backend", type=click.Choice(BACKENDS), default="lucene", show_default=True,
                     help="Search engine: embedded Lucene or an OpenSearch cluster."),
        click.option("--url", envvar="SPARSEDOC_OPENSEARCH_URL", help="OpenSearch URL (opensearch backend)."),
        click.option("--user", envvar="SPARSEDOC_OPENSEARCH_USER", help="OpenSearch basic-auth user."),
        click.option("--password", envvar="SPARSEDOC_OPENSEARCH_PASSWORD", help="OpenSearch basic-auth password."),
        click.option("--ca-certs", type=click.Path(exists=True, dir_okay=False), help="CA bundle for TLS."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def open_backend(
    backend: str,
    index: str | Path,
    *,
    url: str | None = None,
    user: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
    approximate: str = "exact",
) -> Backend:
    """Construct the chosen backend; ``index`` is a directory (Lucene) or an index name (OpenSearch).

    ``approximate`` names the sparse search method (``exact`` or one of ``APPROXIMATE_METHODS``).
    """
    settings = approximate_settings(approximate)
    if backend == "lucene":
        from sparsedoc.plugin.lucene_backend import LuceneBackend

        from .environment import start_lucene_jvm

        start_lucene_jvm()
        return LuceneBackend(Path(index), approximate=settings)
    if not url:
        raise click.UsageError("--backend opensearch needs --url (or SPARSEDOC_OPENSEARCH_URL)")
    if approximate == "seismic":
        raise click.UsageError("--approximate seismic is embedded (lucene) only; on OpenSearch 3.3+ use a "
                               "sparse_vector index (see benchmarks/README.md)")
    from sparsedoc.plugin.opensearch_backend import OpenSearchBackend

    auth = (user, password) if user else None
    two_phase = None if settings is None else {"prune_ratio": settings.prune_ratio,
                                               "expansion_rate": settings.expansion_rate,
                                               "max_window_size": settings.max_window_size}
    return OpenSearchBackend(url, str(index), http_auth=auth, ca_certs=ca_certs, two_phase=two_phase)
