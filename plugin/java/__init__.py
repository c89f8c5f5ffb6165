"""Java tooling shared by Lucene and OpenSearch: finding a Java runtime, downloading Maven artifacts."""
