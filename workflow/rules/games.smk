# Stage 1: game dumps, generated offline (synthetic) or downloaded from Lichess.


if config["source"] == "synthetic":

    rule synthetic_games:
        output:
            "results/dumps/synthetic-{shard}.pgn.zst",
        params:
            players=config["synthetic"]["players"],
            games=lambda wc: shard_games(int(wc.shard)),
            limit=config["synthetic"]["limit"],
            max_plies=config["synthetic"]["max_plies"],
            mistakes=config["synthetic"]["mistakes"],
            seed=config["seed"],
            engine=config["engine"],
        conda:
            "../../envs/transcendence.yaml"
        log:
            "results/logs/games/synthetic-{shard}.log",
        benchmark:
            "results/benchmarks/games/synthetic-{shard}.tsv"
        wildcard_constraints:
            shard=r"\d+",
        script:
            "../scripts/synthetic_games.py"

    rule player_ratings:
        input:
            expand("results/dumps/{dump}.pgn.zst", dump=DUMPS),
        output:
            report(
                "results/summary/players.csv",
                caption="../report/players.rst",
                category="Players",
            ),
        params:
            players=config["synthetic"]["players"],
            anchor=config["synthetic"].get("anchor", config["synthetic"]["players"][0]["name"]),
        conda:
            "../../envs/transcendence.yaml"
        log:
            "results/logs/games/player_ratings.log",
        benchmark:
            "results/benchmarks/games/player_ratings.tsv"
        script:
            "../scripts/player_ratings.py"

else:

    rule download_month:
        output:
            "results/dumps/{month}.pgn.zst",
        params:
            base_url=config["lichess"]["base_url"],
            sha256=lambda wc: config["lichess"].get("sha256", {}).get(wc.month),
        conda:
            "../../envs/transcendence.yaml"
        log:
            "results/logs/download/{month}.log",
        benchmark:
            "results/benchmarks/download/{month}.tsv"
        wildcard_constraints:
            month=r"\d{4}-\d{2}",
        resources:
            downloads=1,
        script:
            "../scripts/download_month.py"
