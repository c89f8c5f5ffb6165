"""Options naming an engine and how to search it, defined once; and the backend they construct (the CLI's job alone).

Each decorator adds its options to a command and hands the command one object instead of
loose keywords: ``connection_options`` -> ``connection: Connection``, ``search_options`` ->
``search: SearchSettings``, ``backend_options`` -> ``backend: str`` plus ``connection``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import click

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.extras import import_extra
from sparsedoc.plugin.approximate import APPROXIMATE_METHODS, TwoPhase, approximate_settings
from sparsedoc.plugin.base import Backend
from sparsedoc.plugin.opensearch.queries import QUERY_MODES, TwoPhaseParameters

BACKENDS = ("lucene", "opensearch")
_ENGINE_MODULES = {"lucene": ("jnius_config", "the embedded Lucene engine"),
                   "opensearch": ("opensearchpy", "OpenSearch")}
ANALYZER = "analyzer"
DEFAULT_TEXT_FIELD = "text"
DEFAULT_VECTOR_FIELD = "sparse"


@dataclass(frozen=True)
class Connection:
    """How to reach an OpenSearch cluster."""

    url: str | None = None
    user: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    request_timeout: float = 60.0

    @property
    def http_auth(self) -> tuple[str, str] | None:
        """``(user, password)`` for basic auth, or ``None``.

        Raises:
            ConfigError: ``--user`` without a password (before any request is made).
        """
        if not self.user:
            return None
        if not self.password:
            raise ConfigError(f"--user {self.user} has no password: pass --password or set "
                              "SPARSEDOC_OPENSEARCH_PASSWORD")
        return (self.user, self.password)

    def require_url(self) -> str:
        """The URL, or a usage error saying how to give it."""
        if not self.url:
            raise click.UsageError("OpenSearch needs --url (or SPARSEDOC_OPENSEARCH_URL)")
        return self.url


@dataclass(frozen=True)
class SearchSettings:
    """Which fields an index is searched on, and how (``query_mode`` is OpenSearch's; ``approximate`` both)."""

    query_mode: str = "auto"
    text_field: str = DEFAULT_TEXT_FIELD
    vector_field: str = DEFAULT_VECTOR_FIELD
    approximate: str = "exact"


def _apply(command: Callable[..., Any], options: list[Callable[[Any], Any]]) -> Callable[..., Any]:
    for option in reversed(options):
        command = option(command)
    return command


def connection_options(*, url_required: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``--url --user --password --ca-certs --request-timeout``; the command gets ``connection``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(command)
        def run(*args: Any, url: str | None, user: str | None, password: str | None, ca_certs: str | None,
                request_timeout: float, **kwargs: Any) -> Any:
            return command(*args, connection=Connection(url, user, password, ca_certs, request_timeout), **kwargs)

        return _apply(run, [
            click.option("--url", envvar="SPARSEDOC_OPENSEARCH_URL", required=url_required,
                         help="OpenSearch URL, http(s)://host:port (or SPARSEDOC_OPENSEARCH_URL)."),
            click.option("--user", envvar="SPARSEDOC_OPENSEARCH_USER", help="OpenSearch basic-auth user."),
            click.option("--password", envvar="SPARSEDOC_OPENSEARCH_PASSWORD", help="OpenSearch basic-auth password."),
            click.option("--ca-certs", type=click.Path(exists=True, dir_okay=False), help="CA bundle for TLS."),
            click.option("--request-timeout", default=60.0, show_default=True,
                         type=click.FloatRange(min=0, min_open=True), help="Seconds per OpenSearch request."),
        ])

    return decorate


def backend_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--backend`` and the connection options (for ``--backend opensearch``)."""
    return click.option("--backend", type=click.Choice(BACKENDS), default="lucene", show_default=True,
                        help="Search engine: embedded Lucene or an OpenSearch cluster.")(connection_options()(command))


def search_options(*, analyzer: bool = False,
                   approximate: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the field names, ``--query-mode`` (with ``analyzer`` if the command can) and ``--approximate``.

    The command gets ``search: SearchSettings``.
    """
    modes = (*QUERY_MODES, ANALYZER) if analyzer else QUERY_MODES

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(command)
        def run(*args: Any, text_field: str, vector_field: str, query_mode: str, approximate: str = "exact",
                **kwargs: Any) -> Any:
            return command(*args, search=SearchSettings(query_mode, text_field, vector_field, approximate), **kwargs)

        mode_help = ("Sparse query on OpenSearch: auto (neural_sparse if the neural-search plugin is there), "
                     "neural_sparse, or rank_feature (core)")
        options: list[Callable[[Any], Any]] = [
            click.option("--text-field", default=DEFAULT_TEXT_FIELD, show_default=True,
                         help="Index field searched by BM25 (opensearch; lucene's is fixed)."),
            click.option("--vector-field", default=DEFAULT_VECTOR_FIELD, show_default=True,
                         help="Index field holding the sparse vectors (opensearch; lucene's is fixed)."),
            click.option("--query-mode", type=click.Choice(modes), default="auto", show_default=True,
                         help=mode_help + ("; analyzer: OpenSearch 3.1+ tokenises and weights the query itself "
                                           "(no --model/--idf)." if analyzer else ".")),
        ]
        if approximate:
            options.append(_approximate("Sparse search: exact, two-phase (high-IDF tokens then rescoring; both "
                                        "backends) or seismic (embedded SEISMIC index, lucene only; index with it "
                                        "too; pip extra 'seismic')."))
        return _apply(run, options)

    return decorate


def approximate_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--approximate`` alone (commands that build an index rather than search it)."""
    return _approximate("Approximate sparse search to prepare: two-phase (OpenSearch: the index's default search "
                        "pipeline) or seismic (embedded SEISMIC index next to the Lucene index; pip extra "
                        "'seismic').")(command)


def _approximate(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--approximate", type=click.Choice(("exact", *APPROXIMATE_METHODS)), default="exact",
                        show_default=True, help=help_text)


def require_engine(backend: str) -> None:
    """Check that ``backend``'s client is installed, before a command spends time encoding for it.

    Raises:
        MissingExtraError: it is not; the message names the pip extra.
    """
    import_extra(*_ENGINE_MODULES[backend])


def open_backend(
    backend: str,
    index: str | Path,
    connection: Connection | None = None,
    search: SearchSettings | None = None,
    *,
    reordering: bool = False,
) -> Backend:
    """Construct the chosen backend; ``index`` is a directory (Lucene) or an index name (OpenSearch).

    ``reordering``: the Lucene JVM gets ``lucene-misc`` for ``force_merge(reorder=...)``.

    Raises:
        click.UsageError: an option the chosen backend cannot honour.
    """
    connection = connection or Connection()
    search = search or SearchSettings()
    settings = approximate_settings(search.approximate)
    if backend == "lucene":
        if search.query_mode != "auto":
            raise click.UsageError(f"--query-mode {search.query_mode} is for --backend opensearch")
        if (search.text_field, search.vector_field) != (DEFAULT_TEXT_FIELD, DEFAULT_VECTOR_FIELD):
            raise click.UsageError("--text-field/--vector-field are for --backend opensearch (lucene's are fixed)")
        from sparsedoc.plugin.lucene.backend import LuceneBackend

        from .environment import jvm_settings

        return LuceneBackend(Path(index), approximate=settings, jvm=jvm_settings(reordering=reordering))
    url = connection.require_url()
    if search.approximate == "seismic":
        raise click.UsageError("--approximate seismic is embedded (lucene) only; on OpenSearch 3.3+ use a "
                               "sparse_vector index (see benchmarks/README.md)")
    from sparsedoc.plugin.opensearch.backend import OpenSearchBackend

    two_phase = None if not isinstance(settings, TwoPhase) else TwoPhaseParameters(
        prune_ratio=settings.prune_ratio, expansion_rate=settings.expansion_rate,
        max_window_size=settings.max_window_size)
    mode = "auto" if search.query_mode == ANALYZER else search.query_mode
    return OpenSearchBackend(url, str(index), http_auth=connection.http_auth, ca_certs=connection.ca_certs,
                             query_mode=mode, text_field=search.text_field, vector_field=search.vector_field,
                             timeout=connection.request_timeout, two_phase=two_phase)
