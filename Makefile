# Every target creates .venv and installs what it needs by itself.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The demo needs only the package and its emulator extra, not the development tools.
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install test lint typecheck pytest demo docs bench bench-scale soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[emulator]'
	touch $(DEMO_STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The end-to-end walkthrough on an in-process local org (no network, no account).
demo: $(DEMO_STAMP)
	$(BIN)/sobjects demo

# sobjects' hot paths beside aiosalesforce / simple-salesforce / plain pydantic, client CPU
# on canned HTTP answers, with targets; then the in-process local org. `bench/run.py --quick`
# is the smoke run. No timing assertions anywhere.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# The scale runs of issue 12: the Bulk section again, up to a million Contacts upserted
# through one session flush and streamed back (several minutes on a 2-core machine).
bench-scale: $(STAMP)
	$(BIN)/python bench/run.py --only bulk --scale

# The session against a local org that fails on purpose (every fault kind), 200,000 records
# on each flush path: nothing lost, duplicated or misreported. The test suite runs a small one.
soak: $(STAMP)
	$(BIN)/python -m tests.orm.soak --records 200000

# The documentation site (mkdocs-material, API reference by mkdocstrings) into site/.
# --strict: any warning (a broken link, an unresolvable reference) fails the build.
# NO_MKDOCS_2_WARNING silences mkdocs-material's end-of-life banner.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
