# Stage 4: one model per cap. The evaluated checkpoint is the declared output; the resumable
# training state beside it is not, so a failed or killed run keeps it and resumes.


rule train:
    input:
        train="results/datasets/cap{cap}/train.bin",
        val="results/datasets/cap{cap}/val.bin",
    output:
        model="results/models/cap{cap}/model.pt",
        metrics="results/models/cap{cap}/metrics.json",
    params:
        model=config["model"],
        train=config["train"],
        seed=config["seed"],
        state="results/models/cap{cap}/train_state.pt",
    # Snakemake scales this down to --cores; profiles can change it with set-threads.
    threads: 8
    resources:
        gpu=config["train"].get("gpus", 0),
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/train/cap{cap}.log",
    benchmark:
        "results/benchmarks/train/cap{cap}.tsv"
    script:
        "../scripts/train.py"
