# The Transcendence study: games -> filter -> dataset -> train -> evaluate -> rate -> figures.
# Run `snakemake --cores all` (embedded default) or add `--configfile config/paper.yaml`.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/games.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/calibrate.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/favor.smk"
include: "workflow/rules/analysis.smk"


rule all:
    input:
        "results/summary/ratings.csv",
        "results/summary/ratings.md",
        "results/figures/figure1.png",
        "results/figures/figure1.pdf",
        "results/figures/diagnostics.png",
        "results/calibration/opponents.csv",
        (["results/summary/players.csv"] if config["source"] == "synthetic" else []),
        FAVOR_TARGETS,
        TSNE_TARGETS,
        ANALYSIS_TARGETS,
    default_target: True
