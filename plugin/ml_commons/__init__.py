"""OpenSearch ML Commons: model packages (tokenizer + IDF, document encoder), a client to register, deploy, predict."""
