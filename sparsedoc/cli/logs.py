"""Logging set-up for the CLI and the benchmark scripts (the library itself adds no handlers)."""

from __future__ import annotations

import logging
import sys

QUIET_LIBRARIES = ("opensearchpy", "urllib3", "httpx", "httpcore", "transformers", "elastic_transport")
"""Client libraries that log one INFO line per HTTP request (e.g. every bulk call)."""


def setup_logging(verbose: int = 0, *, quiet_libraries: bool | None = None) -> None:
    """Log to stderr at WARNING, INFO (``verbose=1``) or DEBUG (``verbose>=2``).

    Request logging of ``QUIET_LIBRARIES`` stays at WARNING unless ``verbose`` is set (or
    ``quiet_libraries`` says otherwise), so tables and progress bars are not buried under
    one line per request. opensearch-py's own logger, which prints a traceback per failed
    attempt, is silenced below ``-vv`` since sparsedoc's errors already say what failed.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    quiet = verbose == 0 if quiet_libraries is None else quiet_libraries
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else level)
    logging.getLogger("opensearch").setLevel(logging.DEBUG if verbose >= 2 else logging.CRITICAL)
