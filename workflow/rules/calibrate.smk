# Stage 5b: the opponents' ratings measured under the evaluation's own engine and limits.


rule calibrate_opponents:
    output:
        pgn="results/calibration/games.pgn",
        csv=report(
            "results/calibration/opponents.csv",
            caption="../report/calibration.rst",
            category="Ratings",
        ),
        json="results/calibration/opponents.json",
    params:
        opponents=config["evaluate"]["opponents"],
        calibration=config["calibration"],
        players=calibration_players(),
        player_limit=config.get("synthetic", {}).get("limit"),
        mistakes=MISTAKES,
        personas=PERSONAS,
        max_fullmoves=config["evaluate"]["max_fullmoves"],
        seed=config["seed"],
        engine=config["engine"],
    threads: config["calibration"]["threads"]
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/calibration/opponents.log",
    benchmark:
        "results/benchmarks/calibration/opponents.tsv"
    script:
        "../scripts/calibrate_opponents.py"
