# Stages 6-7: ratings per (cap, temperature) and the paper's Figure 1.


rule ratings:
    input:
        tables=eval_tables(),
        stats=expand("results/data/{dump}/filter_stats.json", dump=DUMPS),
    output:
        csv="results/summary/ratings.csv",
        md="results/summary/ratings.md",
    params:
        glicko2=config["rating"]["glicko2"],
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
        png="results/figures/figure1.png",
        pdf="results/figures/figure1.pdf",
    params:
        reference=config["rating"].get("reference"),
        mode=config["evaluate"]["mode"],
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/summary/figure1.log",
    benchmark:
        "results/benchmarks/summary/figure1.tsv"
    script:
        "../scripts/figure1.py"
