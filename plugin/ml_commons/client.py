"""A small client for OpenSearch ML Commons local sparse models: register, deploy, predict.

It wraps an opensearch-py client (given, or built from a URL like
:class:`OpenSearchBackend`) and turns every transport error or failed ML task into a
one-line :class:`BackendError`. Long operations (register, deploy) are ML tasks; they are
polled until they finish or ``timeout`` seconds pass.

The cluster must allow local models: ``plugins.ml_commons.only_run_on_ml_node: false``,
``allow_registering_model_via_url: true`` (``via="url"``) or
``allow_registering_model_via_local_file: true`` (``via="chunks"``); see
:meth:`MlCommonsClient.configure_cluster`.

Example:
    >>> ml = MlCommonsClient("http://127.0.0.1:9200")  # doctest: +SKIP
    >>> model_id = ml.register(MlCommonsPackage.load("out/tok"))  # doctest: +SKIP
    >>> ml.deploy(model_id)  # doctest: +SKIP
    >>> ml.predict(model_id, ["lift of a wing"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sparsedoc.encoder.errors import BackendError, ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector

from ..opensearch.client import basic_auth_user, open_client
from ..opensearch.errors import one_line, redact_url, translate_errors
from ..opensearch.queries import index_body
from .package import MlCommonsPackage, check_zip

logger = logging.getLogger(__name__)

ML = "/_plugins/_ml"
CHUNK_BYTES = 10_000_000
REGISTER_MODES = ("url", "chunks")
PRUNE_TYPES = ("none", "max_ratio", "alpha_mass", "top_k", "abs_value")
ML_SETTINGS = {
    "plugins.ml_commons.only_run_on_ml_node": False,
    "plugins.ml_commons.allow_registering_model_via_url": True,
    "plugins.ml_commons.allow_registering_model_via_local_file": True,
    "plugins.ml_commons.native_memory_threshold": 99,
}
_DONE = {"COMPLETED"}
_FAILED = {"FAILED", "COMPLETED_WITH_ERROR", "CANCELLED"}


class MlCommonsClient:
    """Register, deploy and run ML Commons sparse models (SPARSE_ENCODING / SPARSE_TOKENIZE).

    Args:
        url: cluster URL (ignored when ``client`` is given).
        client: an existing opensearch-py ``OpenSearch`` client to wrap.
        http_auth / ca_certs / verify_certs: as for :class:`OpenSearchBackend` (the user, from
            ``http_auth`` or ``url``, is named when the cluster refuses a request: HTTP 403).
        timeout: seconds to wait for a register or deploy task.
        poll_interval: seconds between task polls.
        request_timeout: seconds per HTTP request.

    Raises:
        ConfigError: neither ``url`` nor ``client``, or invalid timings.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        http_auth: tuple[str, str] | None = None,
        ca_certs: str | None = None,
        verify_certs: bool = True,
        timeout: float = 300.0,
        poll_interval: float = 0.5,
        request_timeout: float = 60.0,
    ) -> None:
        if timeout <= 0 or poll_interval <= 0:
            raise ConfigError(f"timeout and poll_interval must be > 0, got {timeout} and {poll_interval}")
        if client is None:
            if not url:
                raise ConfigError("MlCommonsClient needs a url or an opensearch-py client")
            client = open_client(url, http_auth=http_auth, ca_certs=ca_certs, verify_certs=verify_certs,
                                 timeout=request_timeout)
            self.url = redact_url(url)
        else:
            hosts = getattr(getattr(client, "transport", None), "hosts", None) or [{}]
            host = hosts[0] if isinstance(hosts[0], dict) else {}
            self.url = url and redact_url(url) or f"{host.get('host', '?')}:{host.get('port', '?')}"
        self.client = client
        self._user = basic_auth_user(url, http_auth) if url else None
        self.timeout = timeout
        self.poll_interval = poll_interval

    # -- plumbing -----------------------------------------------------------------------------
    def _errors(self, action: str) -> AbstractContextManager[None]:
        return translate_errors(action, self.url, self._user)

    def _request(self, action: str, method: str, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        with self._errors(action):
            answer = self.client.transport.perform_request(method, path, body=body, **kwargs)
        return answer if isinstance(answer, dict) else {}

    def configure_cluster(self, settings: Mapping[str, Any] | None = None) -> None:
        """Apply the persistent cluster settings local sparse models need (``ML_SETTINGS``)."""
        self._request("configure ML Commons", "PUT", "/_cluster/settings",
                      {"persistent": dict(settings or ML_SETTINGS)})

    def wait_for_task(self, task_id: str, action: str) -> dict[str, Any]:
        """Poll an ML task until it completes; return it.

        Raises:
            BackendError: the task failed (with its error text) or did not finish in time.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            task = self._request(action, "GET", f"{ML}/tasks/{task_id}")
            state = str(task.get("state", "")).upper()
            if state in _DONE:
                return task
            if state in _FAILED:
                reason = one_line(task.get('error')) or 'no error text'
                raise BackendError(f"{action}: ML task {task_id} {state}: {reason}")
            if time.monotonic() > deadline:
                raise BackendError(f"{action}: ML task {task_id} still {state or 'unknown'} after {self.timeout:g}s")
            time.sleep(self.poll_interval)

    # -- models -------------------------------------------------------------------------------
    def register(self, package: MlCommonsPackage, *, via: str = "url", model_group_id: str | None = None) -> str:
        """Register a package and return its model id (polls the register task).

        Args:
            package: from :func:`package_ml_commons` or :meth:`MlCommonsPackage.load`.
            via: ``"url"`` (the node reads ``file:///...``; it must see the same file system) or
                ``"chunks"`` (``_register_meta`` + uploads of at most 10 MB).
            model_group_id: optional model group.

        Raises:
            ConfigError: unknown ``via``.
            ModelLoadError: the zip no longer matches the register body (checked first).
            BackendError: the node refused the request or the task failed.
        """
        if via not in REGISTER_MODES:
            raise ConfigError(f"via must be one of {REGISTER_MODES}, got {via!r}")
        check_zip(package.zip_path, package.register_body)
        body = dict(package.register_body)
        if model_group_id:
            body["model_group_id"] = model_group_id
        action = f"register model {body['name']}"
        if via == "url":
            body["url"] = package.zip_path.as_uri()
            answer = self._request(action, "POST", f"{ML}/models/_register", body)
            task = self.wait_for_task(_required(answer, "task_id", action), action)
            model_id = _required(task, "model_id", action)
        else:
            body.pop("url", None)
            total = max(1, math.ceil(package.size / CHUNK_BYTES))
            body["total_chunks"] = total
            answer = self._request(action, "POST", f"{ML}/models/_register_meta", body)
            model_id = _required(answer, "model_id", action)
            with package.zip_path.open("rb") as handle:
                for number in range(total):
                    chunk = handle.read(CHUNK_BYTES)
                    # raw bytes; the REST layer only accepts the JSON content type
                    self._request(f"{action}: upload chunk {number + 1}/{total}", "POST",
                                  f"{ML}/models/{model_id}/upload_chunk/{number}", chunk)
        logger.info("registered %s as %s (%s)", body["name"], model_id, via)
        return model_id

    def deploy(self, model_id: str) -> None:
        """Deploy a model and wait until it is DEPLOYED.

        Raises:
            BackendError: the deploy task failed; the message carries the node's error text
                (e.g. a native library DJL could not download).
        """
        action = f"deploy model {model_id}"
        answer = self._request(action, "POST", f"{ML}/models/{model_id}/_deploy")
        if task_id := answer.get("task_id"):
            self.wait_for_task(task_id, action)
        deadline = time.monotonic() + self.timeout
        while (state := self.model_state(model_id)) != "DEPLOYED":
            if state == "DEPLOY_FAILED":
                raise BackendError(f"{action}: model state {state}")
            if time.monotonic() > deadline:
                raise BackendError(f"{action}: model state still {state} after {self.timeout:g}s")
            time.sleep(self.poll_interval)

    def model_state(self, model_id: str) -> str:
        """Return the model's ``model_state`` (REGISTERED, DEPLOYING, DEPLOYED, ...)."""
        model = self._request(f"get model {model_id}", "GET", f"{ML}/models/{model_id}")
        return str(model.get("model_state", "UNKNOWN"))

    def predict(self, model_id: str, texts: Sequence[str]) -> list[SparseVector]:
        """Run ``_predict/sparse_encoding`` and return one vector per text (zero weights dropped).

        Raises:
            BackendError: request refused, or an answer without one result per text.
        """
        texts = list(texts)
        if not texts:
            return []
        action = f"predict with model {model_id}"
        answer = self._request(action, "POST", f"{ML}/_predict/sparse_encoding/{model_id}", {"text_docs": texts})
        results = answer.get("inference_results")
        if not isinstance(results, list) or len(results) != len(texts):
            raise BackendError(f"{action}: expected {len(texts)} inference results, got {one_line(answer)[:200]}")
        vectors = []
        for result in results:
            try:
                weights = result["output"][0]["dataAsMap"]["response"][0]
            except (KeyError, IndexError, TypeError) as err:
                raise BackendError(f"{action}: unexpected result shape {one_line(result)[:200]}") from err
            vectors.append(SparseVector({str(t): float(w) for t, w in weights.items()}))
        return vectors

    def undeploy(self, model_id: str) -> None:
        """Undeploy a model from every node."""
        self._request(f"undeploy model {model_id}", "POST", f"{ML}/models/{model_id}/_undeploy")

    def delete(self, model_id: str, *, undeploy: bool = True) -> None:
        """Delete a model (undeploying it first unless ``undeploy=False``)."""
        if undeploy and self.model_state(model_id) in {"DEPLOYED", "PARTIALLY_DEPLOYED", "DEPLOYING"}:
            self.undeploy(model_id)
        self._request(f"delete model {model_id}", "DELETE", f"{ML}/models/{model_id}")

    # -- ingest -------------------------------------------------------------------------------
    def create_sparse_ingest_pipeline(
        self,
        name: str,
        model_id: str,
        field_map: Mapping[str, str],
        *,
        prune_type: str = "none",
        prune_ratio: float | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Create (or replace) an ingest pipeline with one ``sparse_encoding`` processor.

        Args:
            name: pipeline id.
            model_id: a deployed SPARSE_ENCODING model.
            field_map: text field -> ``rank_features`` field.
            prune_type: one of ``PRUNE_TYPES``; ``prune_ratio`` is required unless ``"none"``.

        Returns:
            The pipeline body sent.
        """
        if prune_type not in PRUNE_TYPES:
            raise ConfigError(f"prune_type must be one of {PRUNE_TYPES}, got {prune_type!r}")
        if prune_type != "none" and prune_ratio is None:
            raise ConfigError(f"prune_type {prune_type!r} needs a prune_ratio")
        if not field_map:
            raise ConfigError("field_map must map at least one text field to a vector field")
        processor: dict[str, Any] = {"model_id": model_id, "field_map": dict(field_map)}
        if prune_type != "none":
            processor.update(prune_type=prune_type, prune_ratio=float(prune_ratio))  # type: ignore[arg-type]
        body = {"description": description or f"sparsedoc sparse_encoding with {model_id}",
                "processors": [{"sparse_encoding": processor}]}
        self._request(f"create ingest pipeline {name}", "PUT", f"/_ingest/pipeline/{name}", body)
        return body

    def create_pipeline_index(
        self, index: str, pipeline: str, *, text_field: str = "text", vector_field: str = "sparse",
        shards: int = 1, replicas: int = 0,
    ) -> dict[str, Any]:
        """Create an index like :class:`OpenSearchBackend`'s (``rank_features`` + text) whose
        ``default_pipeline`` is ``pipeline``, so plain writes of ``{text_field: ...}`` are
        encoded by the node. Returns the body sent."""
        body = index_body(vector_field=vector_field, text_field=text_field, shards=shards, replicas=replicas)
        body["settings"]["index"]["default_pipeline"] = pipeline
        self._request(f"create index {index}", "PUT", f"/{index}", body)
        return body

    def delete_ingest_pipeline(self, name: str) -> None:
        """Delete an ingest pipeline."""
        self._request(f"delete ingest pipeline {name}", "DELETE", f"/_ingest/pipeline/{name}")

    def close(self) -> None:
        """Close the wrapped client's connections."""
        self.client.close()

    def __enter__(self) -> MlCommonsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _required(answer: Mapping[str, Any], key: str, action: str) -> str:
    value = answer.get(key)
    if not value:
        raise BackendError(f"{action}: answer has no {key}: {one_line(answer)[:200]}")
    return str(value)
