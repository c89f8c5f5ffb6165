"""OpenSearch ML Commons: model packages (tokenizer + IDF, document encoder) and a client to register, deploy, predict."""
