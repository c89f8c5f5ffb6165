"""The one way sparsedoc connects to OpenSearch: TLS, basic auth, retries and timeouts.

:func:`open_client` builds the opensearch-py client used by the backend, the ML Commons
client and the latency benchmark. ``https://`` URLs use TLS with certificate verification
against ``ca_certs`` (or the system store). Credentials (``http_auth`` or a user in the URL)
go over plain ``http://`` only to a loopback address, with a warning; elsewhere they are
refused. Connection failures, timeouts and 502/503/504 answers are retried ``max_retries``
times by the transport. :func:`cluster_version` reads what the cluster runs,
so features a version lacks are refused with a clear message (:func:`require_feature`).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.extras import import_extra

from .errors import redact_url, translate_errors
from .features import FEATURES_SINCE, features_of

logger = logging.getLogger(__name__)

RETRY_STATUSES = (502, 503, 504)
NEURAL_SEARCH_PLUGIN = "opensearch-neural-search"


def open_client(
    url: str,
    *,
    http_auth: tuple[str, str] | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
    timeout: float = 30.0,
    max_retries: int = 3,
    pool_maxsize: int = 10,
) -> Any:
    """Return an ``opensearchpy.OpenSearch`` client for ``url``.

    Args:
        url: ``http://host:port`` or ``https://host:port`` (TLS).
        http_auth: ``(user, password)`` for basic auth.
        ca_certs: CA bundle that signed the cluster's certificate (TLS only).
        verify_certs: verify the cluster's certificate (keep on outside tests).
        timeout: seconds per request.
        max_retries: retries of a request after a connection error, timeout or 502/503/504.
        pool_maxsize: connections kept per host (raise it for many client threads).

    Raises:
        ConfigError: not an http(s) URL, a CA bundle with a plain-HTTP URL, or credentials over
            plain HTTP to a host that is not loopback.
        MissingExtraError: opensearch-py is missing (extra ``opensearch``).
    """
    OpenSearch = import_extra("opensearchpy", "OpenSearch").OpenSearch  # noqa: N806
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"OpenSearch URL must start with http:// or https://, got {redact_url(url)!r}")
    tls = url.startswith("https://")
    if ca_certs and not tls:
        raise ConfigError(f"a CA bundle was given for a plain-HTTP URL {redact_url(url)}; use https://")
    user = basic_auth_user(url, http_auth)
    if user is not None and not tls:
        check_plain_http_credentials(url, user)
    options: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries, "retry_on_timeout": True,
                               "retry_on_status": RETRY_STATUSES, "pool_maxsize": pool_maxsize}
    if http_auth:
        options["http_auth"] = http_auth
    if tls:
        options.update(use_ssl=True, verify_certs=verify_certs, ssl_show_warn=verify_certs)
        if ca_certs:
            options["ca_certs"] = ca_certs
    return OpenSearch(hosts=[url], **options)


def basic_auth_user(url: str, http_auth: tuple[str, str] | None) -> str | None:
    """The basic-auth user a client for ``url`` sends (``http_auth``'s, else the URL's), named in 403 errors."""
    return http_auth[0] if http_auth else urlsplit(url).username


def check_plain_http_credentials(url: str, user: str) -> None:
    """Refuse to send ``user``'s password over plain HTTP except to loopback, where it is warned once per URL.

    Raises:
        ConfigError: ``url`` is not a loopback address (127.0.0.0/8, ::1, localhost).
    """
    shown = redact_url(url)
    if not is_loopback(urlsplit(url).hostname or ""):
        raise ConfigError(f"refusing to send the password of user {user!r} over plain HTTP to {shown}; use https:// "
                          "(plain HTTP with credentials is allowed to loopback addresses only)")
    _warn_plain_http(shown)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.cache
def _warn_plain_http(url: str) -> None:
    logger.warning("sending an OpenSearch password over plain HTTP to %s (loopback only; use https:// elsewhere)", url)


def cluster_version(client: Any, url: str) -> str:
    """The OpenSearch version the cluster reports (``GET /``); ``url`` must be redacted."""
    with translate_errors("read the cluster version", url):
        info = client.info()
    return str(info["version"]["number"])


def require_feature(client: Any, url: str, feature: str, what: str) -> None:
    """Raise a one-line ``BackendError`` if the cluster's version lacks ``feature``.

    Args:
        feature: a key of ``features.FEATURES_SINCE`` (``analyzer_query``, ``sparse_vector``).
        what: the user's request, named in the message.
    """
    version = cluster_version(client, url)
    if feature not in features_of(version):
        since = ".".join(map(str, FEATURES_SINCE[feature]))
        raise BackendError(f"{what} needs OpenSearch {since}+; the cluster at {url} runs {version}")


def detect_query_mode(client: Any, url: str) -> str:
    """``neural_sparse`` if the cluster has the neural-search plugin, else ``rank_feature`` (core OpenSearch)."""
    with translate_errors("list plugins", url):
        plugins = client.cat.plugins(format="json")
    return "neural_sparse" if NEURAL_SEARCH_PLUGIN in {p.get("component") for p in plugins} else "rank_feature"
