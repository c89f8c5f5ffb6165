"""Corpora in (BEIR layout, plain JSONL, a seeded synthetic one), batched encoding, and resumable writes to a backend."""
