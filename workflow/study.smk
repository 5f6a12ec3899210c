# The study on one configuration: games -> filter -> dataset -> train -> evaluate -> rate ->
# figures. It uses only the `config` it is given: the Snakefile includes it for a plain run
# and loads it once per condition as a module for a sweep (workflow/sweep.smk), which
# rewrites its paths from results/ to results/<sweep>/<condition>/.


include: "rules/common.smk"
include: "rules/games.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/openings.smk"
include: "rules/evaluate.smk"
include: "rules/calibrate.smk"
include: "rules/summary.smk"
include: "rules/favor.smk"
include: "rules/analysis.smk"
include: "rules/reward.smk"


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
        REWARD_TARGETS,
    default_target: True
