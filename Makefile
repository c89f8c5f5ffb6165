# sparsedoc: `make quickstart` runs the main job, `make test` runs the tests.
# Both build (once) a virtualenv outside the clone, keyed by the dependency spec.
SHELL := /bin/bash
VENV = $(shell scripts/venv.sh)

.PHONY: setup quickstart test

setup:
	@scripts/venv.sh

quickstart:
	$(VENV)/bin/sparsedoc quickstart

test:
	$(VENV)/bin/python -m pytest
