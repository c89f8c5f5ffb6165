# sparsedoc: `make quickstart` runs the main job, `make test` runs the tests.
# Both build (once) a virtualenv outside the clone, keyed by the dependency spec. In CI (as root)
# the tests also get a private Docker engine and locally built images (scripts/with-docker.sh).
SHELL := /bin/bash
VENV = $(shell scripts/venv.sh)

.PHONY: setup quickstart test

setup:
	@scripts/venv.sh

quickstart:
	$(VENV)/bin/sparsedoc quickstart

test:
	scripts/with-docker.sh $(VENV)/bin/python -m pytest
