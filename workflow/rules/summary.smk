# Stages 6-7: ratings per (cap, temperature) and the paper's Figure 1.


rule ratings:
    input:
        tables=eval_tables(),
        stats=expand("results/data/{dump}/filter_stats.json", dump=DUMPS),
        calibration=calibration_table(),
        calibration_games=calibration_games(),
    output:
        csv=report(
            "results/summary/ratings.csv",
            caption="../report/ratings.rst",
            category="Ratings",
        ),
        md="results/summary/ratings.md",
        json="results/summary/ratings.json",
    params:
        glicko2=config["rating"]["glicko2"],
        glicko2_shuffles=config["rating"]["glicko2"]["shuffles"],
        sequential=config["rating"]["sequential"],
        anchors=config["rating"]["anchors"],
        players=calibration_players(),
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/summary/ratings.log",
    benchmark:
        "results/benchmarks/summary/ratings.tsv"
    script:
        "../scripts/ratings.py"


rule figure1:
    input:
        "results/summary/ratings.csv",
    output:
        png=report(
            "results/figures/figure1.png",
            caption="../report/figure1.rst",
            category="Figure 1",
        ),
        pdf="results/figures/figure1.pdf",
    params:
        reference=config["rating"].get("reference"),
        mode=config["evaluate"]["mode"],
        # Which model read what: the figure must say it, since the families are different models.
        reads=family_named(config["model"]["family"]).reads,
        anchors=config["rating"]["anchors"],
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/summary/figure1.log",
    benchmark:
        "results/benchmarks/summary/figure1.tsv"
    script:
        "../scripts/figure1.py"


rule diagnostics:
    input:
        eval_tables(),
    output:
        png=report(
            "results/figures/diagnostics.png",
            caption="../report/diagnostics.rst",
            category="Diagnostics",
        ),
        pdf="results/figures/diagnostics.pdf",
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/summary/diagnostics.log",
    benchmark:
        "results/benchmarks/summary/diagnostics.tsv"
    script:
        "../scripts/diagnostics.py"
