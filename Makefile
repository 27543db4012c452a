# parsefleet: `make run` runs the main job on embedded services; `make test` runs lint, types and tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
REPO   ?= .
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/parsefleet run $(REPO)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@! grep -rnE '(#\s*noqa|#\s*type:\s*ignore|#\s*pragma: no cover)' --include='*.py' parsefleet common producer workers tests \
		|| (echo 'no per-line escapes: write smaller code instead' && exit 1)

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Benchmark corpora under corpus/ (gitignored): the Debian sources (installed when root), then
# `large` (every file) and `ts2-200` (1,200 seeded files). See parsefleet/corpus.py. Also the
# toolchains of the parity reference parsers (golang-go, librust-syn-dev; docs/outline.md).
CORPUS ?= corpus
.PHONY: corpus
corpus: $(STAMP)
	bash infra/dev/corpus-packages.sh
	bash infra/dev/reference-packages.sh
	$(BIN)/python -m parsefleet.corpus large --out $(CORPUS)
	$(BIN)/python -m parsefleet.corpus ts2-200 --out $(CORPUS)

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
	mkdir -p bench-results
	$(BIN)/parsefleet bench --profile $(PROFILE) --json bench-results/$(PROFILE).json
