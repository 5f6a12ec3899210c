# Two entry points: `make reproduce` (the study on the embedded default) and `make test`;
# `make restore` fetches results from the DVC remote instead of computing them.
# Both create .venv/, install the pinned environment and, where it is missing, Stockfish.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
SNAKEMAKE_ARGS ?=
CONFIG ?= config/config.yaml
# DVC runs each stage's command, which is Snakemake: it must be on PATH.
DVC = PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc
# Snakemake compares times, DVC contents. Once `dvc status` is clean (every result matches
# dvc.lock: its inputs, code and parameters), Snakemake's own record is brought in line by
# touching what it would otherwise re-run (a result DVC kept because its inputs' contents did
# not change, or one pulled from a remote).
SNAKEMAKE_AGREES = { $(DVC) status --quiet || { echo "dvc status: results differ from dvc.lock; not marking them up to date" >&2; exit 1; }; } \
	&& $(BIN)/snakemake --touch --cores 1 --configfile $(CONFIG) --quiet

# Snakemake as make's recipe runs it: sent SIGTERM when the recipe's shell dies (make passes a
# SIGTERM it gets to that shell only), so that a stop of make stops the jobs too (stop_jobs.py).
STOPPABLE = $(BIN)/python src/transcendence/stop_jobs.py --

.PHONY: reproduce test setup stockfish polyglot lint dry-run-paper readme-figure report clean dvc.yaml restore

# A sweep (CONFIG with a top-level `sweep:` section) runs every condition in this one Snakemake
# call, without DVC: dvc.yaml describes the stages of one configuration, and `make dvc.yaml`
# refuses a sweep (src/transcendence/provenance/dvc_stages.py).
SWEEP := $(shell grep -qs '^sweep:' $(CONFIG) && echo yes)

# Snakemake runs the study. In a git clone it is also told to re-run what DVC finds stale
# (DVC hashes the scripts and modules, Snakemake does not), and DVC then records in dvc.lock
# the hash, code and parameters of every result, so `dvc status` is clean afterwards.
reproduce: setup $(if $(SWEEP),,dvc.yaml)
	@# A run killed hard leaves Snakemake's lock: cleared when no Snakemake runs here, else said.
	@PYTHONPATH=src $(BIN)/python -m transcendence.stale_lock -- $(BIN)/snakemake --unlock --cores 1 --configfile $(CONFIG)
	if [ -n "$(SWEEP)" ]; then $(STOPPABLE) $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) $(SNAKEMAKE_ARGS); \
	elif git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  stale=$$($(DVC) status --json | PYTHONPATH=src $(BIN)/python -m transcendence.provenance.dvc_stages --stale /dev/stdin) \
	  && $(STOPPABLE) $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) $(SNAKEMAKE_ARGS) $${stale:+--forcerun $$stale} \
	  && $(DVC) commit --force --quiet && $(SNAKEMAKE_AGREES); \
	else $(STOPPABLE) $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) $(SNAKEMAKE_ARGS); fi

# dvc.yaml, generated from the Snakemake workflow for CONFIG (src/transcendence/provenance/dvc_stages.py).
dvc.yaml:
	@if [ -n "$(SWEEP)" ]; then echo "make dvc.yaml: $(CONFIG) is a sweep; dvc.yaml describes one configuration's stages, so there is none for a sweep (make reproduce CONFIG=$(CONFIG) runs it without DVC)" >&2; exit 1; fi
	$(BIN)/snakemake --dry-run --forceall --configfile $(CONFIG) \
	  | PYTHONPATH=src $(BIN)/python -m transcendence.provenance.dvc_stages --configfile $(CONFIG) --dry-run /dev/stdin --output $@

# After a fresh clone: datasets and checkpoints from the DVC remote, checked against
# dvc.lock, then marked up to date for Snakemake (which has no record of jobs it did not run).
restore: setup
	$(DVC) pull
	$(SNAKEMAKE_AGREES)

test: setup polyglot
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

# Only tests/test_uci.py's polyglot game needs it (skipped without): `make test`, not `setup`.
polyglot:
	@bash workflow/setup/ensure_polyglot.sh

lint: setup
	$(BIN)/snakemake --lint

dry-run-paper: setup
	$(BIN)/snakemake -n --configfile config/paper.yaml

readme-figure: results/figures/figure1.png
	cp $< docs/figure1-default.png

# Snakemake's self-contained HTML report of CONFIG's results (after `make reproduce`): Figure 1,
# the ratings table, the analyses, and for every file the rule, parameters and code behind it.
report: setup
	$(BIN)/snakemake --report results/report.html --configfile $(CONFIG)

# Every result, and Snakemake's records; results/README.md is tracked and stays.
clean:
	if [ -d results ]; then find results -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +; fi
	rm -rf .snakemake

# gpu-bundle/: wheels, Debian's Stockfish and the Lichess sample that benchmarks/gpu_check.sh
# needs on a lent GPU machine without network (benchmarks/README.md says how to run it there).
.PHONY: gpu-bundle
gpu-bundle: $(VENV)/.installed
	PYTHON=$(BIN)/python bash benchmarks/make_gpu_bundle.sh gpu-bundle
