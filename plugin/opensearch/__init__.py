"""OpenSearch: the backend, the client, request bodies, error translation and the version/feature table."""
