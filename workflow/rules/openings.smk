# Opening suites (issue 27): where each pair of evaluation games starts (play/openings.py).
# Suite start, the paper's protocol and the default, has no rule and no file: every game
# starts from the initial position and the evaluate rule is what it was before suites.
# held_out and random draw one file per cap, results/openings/cap{cap}.json, which every
# (temperature, opponent) shard of the cap plays: games 2i and 2i + 1 start with opening i.

from transcendence.play.openings import OpeningSuite

OPENINGS = OpeningSuite.from_config(config["evaluate"].get("openings"))
# The evaluate rule's extra input: none for start.
OPENINGS_INPUT = {} if OPENINGS.is_start else {"openings": "results/openings/cap{cap}.json"}
# What the openings are drawn from. held_out: the cap's held-out (val) games, counted against
# the dataset's meta.json; re-drawn from the cap's games exactly as the dataset drew them
# (the board family's), or read from the dataset's val file (the text family's packed
# blocks). random: nothing.
if OPENINGS.suite != "held_out":
    OPENINGS_SOURCES = {}
elif family_named(config["model"]["family"]).held_out_from_dumps:
    OPENINGS_SOURCES = {
        "data": expand("results/data/{dump}/cap{{cap}}.pgn.zst", dump=DUMPS),
        "meta": "results/datasets/cap{cap}/meta.json",
    }
else:
    OPENINGS_SOURCES = {"val": f"results/datasets/cap{{cap}}/val.{DATASET_EXT}", "meta": "results/datasets/cap{cap}/meta.json"}


if not OPENINGS.is_start:

    rule openings:
        input:
            **OPENINGS_SOURCES,
        output:
            json="results/openings/cap{cap}.json",
        params:
            openings=config["evaluate"]["openings"],
            games=config["evaluate"]["games"],
            family=config["model"]["family"],
            val_fraction=config["dataset"]["val_fraction"],
            seed=config["seed"],
        conda:
            "../../envs/transcendence.yaml"
        log:
            "results/logs/openings/cap{cap}.log",
        benchmark:
            "results/benchmarks/openings/cap{cap}.tsv"
        script:
            "../scripts/openings.py"
