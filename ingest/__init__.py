"""Corpora in (BEIR layout, plain JSONL), batched encoding, and resumable writes to a backend."""
