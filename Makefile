# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PROTOS := $(wildcard protos/modelyard/v1/*.proto)

.PHONY: run test test-fast lint unasync proto install bench clean

# Python keeps the bytecode it compiles, whatever the shell says: uv installs none, and with
# PYTHONDONTWRITEBYTECODE set every process compiled every module it imports again: a server
# took 4.4-5.0 s to start instead of 2.3-2.5, and the suite starts a few hundred.
unexport PYTHONDONTWRITEBYTECODE

# uv installs the same packages as pip, from the same index, in a fifth of the time (20 s
# against 100 s on a fresh clone): CI makes this venv on every run.
$(STAMP): pyproject.toml client/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ./client -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The web UI comes with it on HTTP_ADDRESS (MODELYARD_HTTP_ADDRESS); `make run HTTP_ADDRESS=`
# serves none.
HTTP_ADDRESS ?= $(or $(MODELYARD_HTTP_ADDRESS),127.0.0.1:8080)

run: $(STAMP)
	$(VENV)/bin/modelyard-server serve --http-address "$(HTTP_ADDRESS)"

# Every layer: unit, api, cli and e2e (server subprocesses), on SQLite and PostgreSQL, on two
# workers (pytest-xdist): about 8 minutes on two cores, against 11 in one process.
test: $(STAMP)
	$(PY) -m pytest -q -n 2

# The inner loop: the unit and api layers on SQLite, no server subprocess, two test
# workers, without the fuzz (make test runs it; so does pytest -m fuzz).
test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 tests/unit tests/api -m "not postgres and not fuzz"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy server client/src tests examples scripts/unasync.py scripts/gen_types.py
	$(PY) scripts/unasync.py --check
	$(PY) scripts/gen_types.py --check

# Regenerates the sync client, client/src/modelyard/_sync/, from the async one in _async/.
unasync: $(STAMP)
	$(PY) scripts/unasync.py

# Regenerates the messages, .pyi stubs, typed grpc stubs and the SDK's views (types.py)
# from protos/.
proto: $(STAMP)
	$(PY) scripts/gen_protos.py client/src
	$(PY) scripts/gen_types.py

bench: $(STAMP)
	$(MAKE) -C bench run

clean:
	rm -rf $(VENV) build dist client/build client/dist
