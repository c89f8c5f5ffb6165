"""OpenSearch: the backend (``backend`` writes, ``reading`` searches), the client, request bodies, errors, versions."""
