"""Token-id vectors for OpenSearch ``sparse_vector`` (SEISMIC): ids that would collide are refused."""

from __future__ import annotations

import pytest

from sparsedoc.encoder.errors import ConfigError
from sparsedoc.encoder.sparse_vector import SparseVector
from sparsedoc.plugin.opensearch.queries import SPARSE_VECTOR_MAX_IDS, check_vocabulary_size, token_id_vector


def test_tokens_become_id_keys() -> None:
    ids = {"wing": 7, "lift": 32_767}
    assert token_id_vector(SparseVector({"wing": 1.5, "lift": 0.25}), ids) == {"7": 1.5, "32767": 0.25}


def test_ids_that_would_fold_onto_others_are_refused() -> None:
    # 32,768 + 7 would be stored as 7, the id of "wing": a silent collision
    with pytest.raises(ConfigError, match=r"'##ja' has id 32775.*below 32768"):
        token_id_vector(SparseVector({"wing": 1.0, "##ja": 2.0}), {"wing": 7, "##ja": SPARSE_VECTOR_MAX_IDS + 7})


def test_unknown_tokens_are_refused() -> None:
    with pytest.raises(ConfigError, match="'zeppelin' has no id"):
        token_id_vector(SparseVector({"zeppelin": 1.0}), {"wing": 7})


def test_vocabulary_size_limit() -> None:
    check_vocabulary_size(30_522)  # bert-base-uncased fits
    check_vocabulary_size(SPARSE_VECTOR_MAX_IDS)
    with pytest.raises(ConfigError, match="250002 tokens.*collide"):
        check_vocabulary_size(250_002)  # XLM-R
