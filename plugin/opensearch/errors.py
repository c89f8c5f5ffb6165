"""OpenSearch failures as one-line ``BackendError``s that never show credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sparsedoc.encoder.errors import BackendError


def redact_url(url: str) -> str:
    """Return ``url`` without user name or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def error_reason(error: Any) -> str:
    """The innermost reason of an OpenSearch error body (or bulk item error), on one line."""
    if isinstance(error, dict):
        inner = error.get("error", error)
        if isinstance(inner, dict):
            causes = inner.get("root_cause") or []
            cause = causes[0] if causes and isinstance(causes[0], dict) else inner
            reason = str(cause.get("reason") or cause.get("type") or cause)
            caused_by = (inner.get("caused_by") or {}).get("reason")
            return one_line(f"{reason} ({caused_by})" if caused_by else reason)
        return one_line(inner)
    return one_line(error) or "unknown error"


@contextmanager
def translate_errors(action: str, url: str, user: str | None = None) -> Iterator[None]:
    """Turn opensearch-py exceptions raised inside the block into one-line ``BackendError``s.

    ``url`` must already be redacted (see :func:`redact_url`); ``action`` names what was
    asked and of which index (``create index docs``). ``user`` (the basic-auth user, if
    any) is named when the cluster refuses it permission (HTTP 403).
    """
    from opensearchpy.exceptions import (
        AuthenticationException,
        AuthorizationException,
        ConnectionError,
        SSLError,
        TransportError,
    )

    try:
        yield
    except AuthenticationException as err:
        raise BackendError(f"{action}: OpenSearch at {url} refused the credentials (HTTP 401)") from err
    except AuthorizationException as err:  # a HEAD request's 403 has no body to give a reason
        reason = error_reason(err.info) if err.info else one_line(err.error)
        who = f"user {user!r}" if user else "the user"
        raise BackendError(f"{action}: {who} lacks permission to do this at {url} (HTTP 403)"
                           + (f": {reason}" if reason else "")) from err
    except SSLError as err:
        raise BackendError(f"{action}: TLS with OpenSearch at {url} failed; its certificate is not trusted "
                           "(pass the CA bundle that signed it with --ca-certs)") from err
    except ConnectionError as err:
        reason = type(err.info).__name__ if getattr(err, "info", None) else "connection failed"
        hint = " (if the cluster uses TLS, use an https:// URL)" if url.startswith("http://") else ""
        raise BackendError(f"{action}: cannot reach OpenSearch at {url} ({reason}){hint}") from err
    except TransportError as err:
        raise BackendError(f"{action}: OpenSearch at {url} answered {err.status_code}: "
                           f"{error_reason(err.info) or err.error}") from err


def one_line(value: Any) -> str:
    """``value`` as one line of text (empty for falsy values)."""
    return " ".join(str(value).split()) if value else ""
