"""Corpora in (BEIR layout, plain JSONL, a seeded synthetic one), batched encoding, resumable writes to a backend."""
