"""Credentials and permissions on the client side: never a password over plain HTTP off the machine,
``--user`` without a password said before any request, a 403 named for what it refused."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys

import pytest
from http_peer import http_peer

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.plugin.opensearch.backend import OpenSearchBackend
from sparsedoc.plugin.opensearch.client import cluster_version, open_client

SECRET = "Sd-S3cret-Passw0rd!"
CLUSTER_INFO = {"version": {"number": "2.19.1", "distribution": "opensearch"}}


@pytest.mark.parametrize(("url", "auth"), [
    ("http://10.255.255.1:9200", ("app", SECRET)),
    (f"http://app:{SECRET}@search.example.com:9200", None),
    ("http://[2001:db8::1]:9200", ("app", SECRET)),
])
def test_password_over_plain_http_off_the_machine_is_refused(url: str, auth: tuple[str, str] | None) -> None:
    with pytest.raises(ConfigError) as caught:
        open_client(url, http_auth=auth)
    message = str(caught.value)
    assert "refusing to send the password of user 'app' over plain HTTP" in message and "use https://" in message
    assert SECRET not in message and "\n" not in message
    with pytest.raises(ConfigError, match="over plain HTTP"):
        OpenSearchBackend(url, "docs", http_auth=auth)


def test_plain_http_without_credentials_and_https_with_them_are_allowed() -> None:
    open_client("http://10.255.255.1:9200")
    open_client("https://10.255.255.1:9200", http_auth=("app", SECRET))


def test_loopback_means_127_slash_8_ipv6_one_and_localhost() -> None:
    from sparsedoc.plugin.opensearch.client import is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST"]))
    assert not any(map(is_loopback, ["10.0.0.1", "0.0.0.0", "example.com", "localhost.example.com", "::", ""]))


def test_password_over_plain_http_to_loopback_is_sent_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with http_peer({("GET", "/"): (200, CLUSTER_INFO)}) as peer:
        with caplog.at_level(logging.WARNING, logger="sparsedoc.plugin.opensearch.client"):
            for _ in range(2):
                assert cluster_version(open_client(peer.url, http_auth=("app", SECRET)), peer.url) == "2.19.1"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"sending an OpenSearch password over plain HTTP to {peer.url} "
                        "(loopback only; use https:// elsewhere)"]
    basic = "Basic " + base64.b64encode(f"app:{SECRET}".encode()).decode()
    assert [r.headers.get("authorization") for r in peer.requests] == [basic, basic]


def test_user_without_password_is_one_line_before_any_request() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARSEDOC_OPENSEARCH_")}
    with http_peer({("GET", "/"): (200, CLUSTER_INFO)}) as peer:
        done = subprocess.run([sys.executable, "-m", "sparsedoc.cli.main", "search", "wing", "--bm25", "--index",
                               "docs", "--backend", "opensearch", "--url", peer.url, "--user", "app"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --user app has no password: pass --password or set SPARSEDOC_OPENSEARCH_PASSWORD"]
    assert peer.requests == []


SECURITY_403 = {"error": {"root_cause": [{"type": "security_exception", "reason": (
    "no permissions for [indices:admin/create] and User [name=app, backend_roles=[], requestedTenant=null]")}],
    "type": "security_exception", "reason": "no permissions for [indices:admin/create] and User [name=app, "
    "backend_roles=[], requestedTenant=null]"}, "status": 403}


@pytest.mark.parametrize(("answers", "reason"), [
    ({("HEAD", "/other-docs"): (403, None)}, ""),  # the security plugin's answer to HEAD: no body
    ({("HEAD", "/other-docs"): (404, None), ("PUT", "/other-docs"): (403, SECURITY_403)},
     ": no permissions for [indices:admin/create] and User [name=app, backend_roles=[], requestedTenant=null]"),
])
def test_forbidden_index_creation_names_the_user_the_index_and_the_action(
        answers: dict[tuple[str, str], tuple[int, object]], reason: str) -> None:
    with http_peer(answers) as peer:
        backend = OpenSearchBackend(peer.url, "other-docs", http_auth=("app", SECRET), timeout=5)
        with pytest.raises(BackendError) as caught:
            backend.create_index()
    assert str(caught.value) == (f"create index other-docs: user 'app' lacks permission to do this at {peer.url} "
                                 f"(HTTP 403){reason}")


SETTINGS_403 = {"error": {"type": "security_exception",
                          "reason": "no permissions for [cluster:admin/settings/update]"}, "status": 403}


@pytest.mark.parametrize(("url", "auth", "who"), [
    ("{url}", ("app", SECRET), "user 'app'"),
    ("http://app:{secret}@{host}", None, "user 'app'"),  # the user in the URL
    ("{url}", None, "the user"),  # no credentials: no name to give
])
def test_forbidden_ml_commons_request_names_the_user(url: str, auth: tuple[str, str] | None, who: str) -> None:
    from sparsedoc.plugin.ml_commons.client import MlCommonsClient

    with http_peer({("PUT", "/_cluster/settings"): (403, SETTINGS_403)}) as peer:
        address = url.format(url=peer.url, secret=SECRET, host=peer.url.removeprefix("http://"))
        with pytest.raises(BackendError) as caught:
            MlCommonsClient(address, http_auth=auth, timeout=5).configure_cluster()
    assert str(caught.value) == (f"configure ML Commons: {who} lacks permission to do this at {peer.url} (HTTP 403): "
                                 "no permissions for [cluster:admin/settings/update]")
