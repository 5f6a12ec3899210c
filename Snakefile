# The Transcendence study: games -> filter -> dataset -> train -> evaluate -> rate -> figures.
# Run `snakemake --cores all` (embedded default) or add `--configfile config/paper.yaml`.

import copy
import hashlib
import json
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# The configuration is one file, never two merged: config/config.yaml (the embedded default)
# when no --configfile is given, else the --configfile alone. (Snakemake merges a --configfile
# over the Snakefile's configfile key by key, nested mappings included, so keys of the default
# would leak into a file that leaves them out.) --config still applies on top of either.
if workflow.overwrite_configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))


# The package is imported from this checkout's src/, set here once for the whole workflow:
# this process through sys.path (the config check below), and every job through PYTHONPATH,
# which a job inherits (a script job's Python, a conda environment's, torchrun's ranks) and
# which puts src/ ahead of any installed copy of the package. A cluster job runs this
# Snakefile again on its node, so the same is set there; `envvars` also hands the variable to
# executors that start jobs in a fresh environment.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
if os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] != SRC:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))


envvars:
    "PYTHONPATH",


# Schema errors one line each (an unknown key with the keys allowed there), rules across keys,
# and the engine (it must exist and answer `uci`), before any job: see config_check.py.
# A sweep (a `sweep:` section) checks each condition's merged configuration the same way, and
# an error names the condition.
from transcendence.config_check import ConfigError, check_config
from transcendence.sweep_conditions import SWEEP_KEY, condition_configs

SCHEMA = os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml")
try:  # a cluster job's own Snakemake skips the engine: it was checked when the run started
    if SWEEP_KEY in config:
        CONDITIONS = condition_configs(config, SCHEMA, engine=workflow.is_main_process)
    else:
        check_config(config, SCHEMA, engine=workflow.is_main_process)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, "workflow/schemas/config.schema.yaml")


# A stop sent to Snakemake alone (SIGTERM, or SIGINT not from a terminal) made it wait for its
# running jobs; onstart runs after Snakemake sets its handlers, and this wraps them so that the
# jobs are stopped first (SIGTERM; a second stop SIGKILL): see stop_jobs.py.
from transcendence.stop_jobs import forward_stops_to_jobs


onstart:
    forward_stops_to_jobs()

# Which configuration runs, with a fingerprint of its validated content (sha256 of its JSON,
# keys sorted): tests/test_readme.py checks that it is each config file's own content.
logger.info(
    "Configuration: {}{} (sha256 {})".format(
        ", ".join(
            f if os.path.relpath(f).startswith("..") else os.path.relpath(f)
            for f in map(str, workflow.overwrite_configfiles)
        )
        or "config/config.yaml",
        " with --config on top" if workflow.config_settings.config_args else "",
        hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest(),
    )
)


report: "workflow/report/workflow.rst"


# The study is workflow/study.smk, loaded as a Snakemake module: once as it is for a plain run
# (its rules and paths unchanged), or once per condition for a sweep (workflow/sweep.smk).
if SWEEP_KEY in config:

    include: "workflow/sweep.smk"

    # Here, not in sweep.smk: Snakemake keeps the default target an included file sets only
    # for a module's rules, so the sweep's own one is declared in this file.
    rule all:
        input:
            SWEEP_TARGETS,
        default_target: True

else:

    module study:
        snakefile:
            "workflow/study.smk"
        config:
            config

    use rule * from study
