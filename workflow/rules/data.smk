# Stages 2-3: the rating-cap filter (one pass per dump, all caps) and the token dataset.


rule filter_dump:
    input:
        "results/dumps/{dump}.pgn.zst",
    output:
        games=expand("results/data/{{dump}}/cap{cap}.pgn.zst", cap=CAPS),
        stats="results/data/{dump}/filter_stats.json",
    params:
        caps=CAPS,
        max_bad_share=config["filter"]["max_bad_share"],
        replay_every=config["filter"]["replay_every"],
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/filter/{dump}.log",
    benchmark:
        "results/benchmarks/filter/{dump}.tsv"
    script:
        "../scripts/filter_dump.py"


rule dataset:
    input:
        expand("results/data/{dump}/cap{{cap}}.pgn.zst", dump=DUMPS),
    output:
        # The text family's packed character blocks, or the board family's positions.
        train=f"results/datasets/cap{{cap}}/train.{DATASET_EXT}",
        val=f"results/datasets/cap{{cap}}/val.{DATASET_EXT}",
        meta="results/datasets/cap{cap}/meta.json",
    params:
        family=config["model"]["family"],
        block_size=config["model"].get("block_size", 0) + 1,
        val_fraction=config["dataset"]["val_fraction"],
        shuffle_bucket_mb=config["dataset"]["shuffle_bucket_mb"],
        seed=config["seed"],
    # Threads (pass 1's processes, one dump each), memory and run time come from
    # workflow/profiles/; the output does not depend on the number of threads.
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/dataset/cap{cap}.log",
    benchmark:
        "results/benchmarks/dataset/cap{cap}.tsv"
    script:
        "../scripts/dataset.py"
