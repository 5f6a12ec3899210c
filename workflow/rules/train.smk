# Stage 4: one model per cap. The evaluated checkpoint is the declared output; the resumable
# training state and the DVCLive curves beside it are not, so a failed or killed run keeps
# them and resumes (dvc.yaml declares the curves as the train stage's plots). With
# train.gpus > 1 the job trains data-parallel through torchrun, one process per GPU.


rule train:
    input:
        train=f"results/datasets/cap{{cap}}/train.{DATASET_EXT}",
        val=f"results/datasets/cap{{cap}}/val.{DATASET_EXT}",
    output:
        model="results/models/cap{cap}/model.pt",
        metrics="results/models/cap{cap}/metrics.json",
    params:
        model=config["model"],
        train=lambda wc: train_settings(wc.cap),
        seed=config["seed"],
        # Beside the checkpoint, wherever it goes: a sweep's module rewrites paths, not params.
        state=lambda wildcards, output: os.path.join(os.path.dirname(output.model), "train_state.pt"),
        live=lambda wildcards, output: os.path.join(os.path.dirname(output.model), "dvclive"),
        # The cap's own gpus: a train_overrides entry may change it for one cap.
        processes=lambda wc: max(1, train_settings(wc.cap).get("gpus", 0)),
    # Threads, memory and run time come from workflow/profiles/; GPUs from the config (the cap's).
    resources:
        gpu=lambda wc: train_settings(wc.cap).get("gpus", 0),
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/train/cap{cap}.log",
    benchmark:
        "results/benchmarks/train/cap{cap}.tsv"
    script:
        "../scripts/train.py"
