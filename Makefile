# parsefleet: `make run` runs the main job on embedded services; `make test` runs lint, types and
# tests, setting up what they need (README.md, "Set-up").
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
REPO   ?= .
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest test-setup clean

$(STAMP): pyproject.toml
	@echo "installing parsefleet and its dependencies into $(VENV) (once, about 30 s; log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@{ $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[dev]'; } >$(VENV)/install.log 2>&1 \
		|| { tail -n 20 $(VENV)/install.log; echo "installing failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/parsefleet run $(REPO)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@! grep -rnE '(#\s*noqa|#\s*type:\s*ignore|#\s*pragma: no cover)' --include='*.py' parsefleet producer workers schema tests \
		|| (echo 'no per-line escapes: write smaller code instead' && exit 1)

# mypy cannot follow the package-dir mapping of an editable install (an import hook): it checks a
# view of the package made of links, so its messages name .venv/typecheck/parsefleet/<path>.
typecheck: $(STAMP)
	@rm -rf $(VENV)/typecheck && mkdir -p $(VENV)/typecheck/parsefleet
	@for entry in parsefleet/*; do ln -s "$(CURDIR)/$$entry" $(VENV)/typecheck/parsefleet/; done
	@for mapped in producer workers schema; do ln -s "$(CURDIR)/$$mapped" $(VENV)/typecheck/parsefleet/$$mapped; done
	$(BIN)/mypy

# Debian packages, corpus/large and a TimescaleDB where this machine allows (infra/dev/test-setup);
# the test session starts its own embedded Redis and PostgreSQL (tests/conftest.py).
test-setup: $(STAMP)
	@bash infra/dev/test-setup $(VENV)/test-setup.env

pytest: test-setup
	@set -a && . $(VENV)/test-setup.env && set +a; \
	$(BIN)/pytest -rs $(PYTEST_ARGS); status=$$?; \
	if [ -n "$${PARSEFLEET_TEST_TIMESCALEDB_STARTED:-}" ]; then bash infra/dev/timescaledb stop; fi; \
	exit $$status

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Benchmark corpora under corpus/ (gitignored): the Debian sources (installed when root), then
# `large` (every file), `ts2-200` (1,200 seeded files) and `nightly` (what the nightly bench adds to
# `large`). See parsefleet/bench/corpus.py. Also the
# toolchains of the parity reference parsers (golang-go, librust-syn-dev; docs/outline.md).
CORPUS ?= corpus
.PHONY: corpus
corpus: $(STAMP)
	bash infra/dev/corpus-packages.sh
	bash infra/dev/reference-packages.sh
	$(BIN)/python -m parsefleet.bench.corpus large --out $(CORPUS)
	$(BIN)/python -m parsefleet.bench.corpus ts2-200 --out $(CORPUS)
	$(BIN)/python -m parsefleet.bench.corpus nightly --out $(CORPUS)

# Tree-sitter outlines against CPython's ast, go/parser and syn on the large corpus (docs/outline.md,
# Parity); exits 1 below 99.5% agreement in any language. The reference programs build once into
# PARSEFLEET_CACHE_DIR (default ~/.cache/parsefleet).
.PHONY: parity
parity: $(STAMP)
	$(BIN)/parsefleet parity $(CORPUS)/large --json $(CORPUS)/parity.json

# The benchmark (docs/benchmarks.md): on corpus/ts2-200 when `make corpus` has built it, else on a
# small seeded stand-in. PROFILE=large for the large corpus. Exits non-zero when a floor breaks.
PROFILE ?= ts2-200
.PHONY: bench
bench: $(STAMP)
	bash infra/dev/peer-packages.sh
	mkdir -p bench-results
	$(BIN)/parsefleet bench --profile $(PROFILE) --json bench-results/$(PROFILE).json
