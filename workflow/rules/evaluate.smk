# Stage 5: one job per (cap, temperature, opponent) shard; every game kept as PGN. Within a
# job, batch_games games advance together and the job's threads are its engine processes.
# With an opening suite (openings.smk), every shard of a cap plays the cap's openings.


rule evaluate:
    input:
        model="results/models/cap{cap}/model.pt",
        # An opening suite's file (rule openings); none for suite start, the paper's protocol.
        **OPENINGS_INPUT,
    output:
        pgn="results/eval/cap{cap}/T{temperature}/{opponent}.pgn",
        table="results/eval/cap{cap}/T{temperature}/{opponent}.csv",
    params:
        opponent=lambda wc: OPPONENTS[wc.opponent],
        # An eps-opponent errs by the data's mistake rule, with its namesake player's persona.
        mistakes=MISTAKES,
        persona=lambda wc: PERSONAS.get(wc.opponent, "uniform"),
        games=config["evaluate"]["games"],
        batch_games=config["evaluate"]["batch_games"],
        mode=config["evaluate"]["mode"],
        max_tries=config["evaluate"]["max_tries"],
        max_fullmoves=config["evaluate"]["max_fullmoves"],
        seed=config["seed"],
        engine=config["engine"],
        device=config["evaluate"].get("device", "cpu"),
    # Threads, memory and run time come from workflow/profiles/; GPUs from the config.
    resources:
        gpu=config["evaluate"].get("gpus", 0),
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/evaluate/cap{cap}/T{temperature}/{opponent}.log",
    benchmark:
        "results/benchmarks/evaluate/cap{cap}/T{temperature}/{opponent}.tsv"
    script:
        "../scripts/evaluate.py"
