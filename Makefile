# Two entry points: `make reproduce` (the study on the embedded default) and `make test`.
# Both create .venv/, install the pinned environment and, where it is missing, Stockfish.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
SNAKEMAKE_ARGS ?=

.PHONY: reproduce test setup stockfish lint dry-run-paper readme-figure clean

reproduce: setup
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

test: setup
	$(BIN)/python -m pytest -v $(PYTEST_ARGS)

setup: $(VENV)/.installed stockfish

$(VENV)/.installed: requirements.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

stockfish:
	@bash workflow/setup/ensure_stockfish.sh

lint: setup
	$(BIN)/snakemake --lint

dry-run-paper: setup
	$(BIN)/snakemake -n --configfile config/paper.yaml

readme-figure: results/figures/figure1.png
	cp $< docs/figure1-default.png

clean:
	rm -rf results/* .snakemake
