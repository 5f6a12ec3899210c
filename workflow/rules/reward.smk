# The paper's own definition of transcendence (issue 16): expected reward over test positions.
# Synthetic source only: a player's expected reward needs its mistake rate, which only the
# synthetic players have. One job per cap in reward.caps; it shares favor's cache of
# Stockfish's values of every legal move (MOVE_VALUE_CACHE, favor.smk).


REWARD_CAPS = [int(c) for c in config["reward"]["caps"]] if config["source"] == "synthetic" else []
if not set(REWARD_CAPS) <= set(CAPS):
    raise ValueError(f"config reward.caps lists {sorted(set(REWARD_CAPS) - set(CAPS))}, which are not among caps {CAPS}")
REWARD_TARGETS = expand("results/analysis/reward/cap{cap}.{ext}", cap=REWARD_CAPS, ext=["json", "md", "png", "pdf"])


if REWARD_CAPS:

    rule expected_reward:
        input:
            model="results/models/cap{cap}/model.pt",
            # The cap's games; the board family's held-out games are re-drawn from them exactly
            # as the dataset drew them, and their count is checked against its meta.json.
            data=expand("results/data/{dump}/cap{{cap}}.pgn.zst", dump=DUMPS),
            meta="results/datasets/cap{cap}/meta.json",
        output:
            json="results/analysis/reward/cap{cap}.json",
            md=report(
                "results/analysis/reward/cap{cap}.md",
                caption="../report/reward_table.rst",
                category="Expected reward",
            ),
            png=report(
                "results/analysis/reward/cap{cap}.png",
                caption="../report/reward.rst",
                category="Expected reward",
            ),
            pdf="results/analysis/reward/cap{cap}.pdf",
        params:
            reward=config["reward"],
            synthetic=config["synthetic"],
            temperatures=config["evaluate"]["temperatures"],
            val_fraction=config["dataset"]["val_fraction"],
            device=config["evaluate"].get("device", "cpu"),
            seed=config["seed"],
            engine=config["engine"],
            cache=MOVE_VALUE_CACHE,
        # Threads (the Stockfish pool's engine processes) come from workflow/profiles/.
        conda:
            "../../envs/transcendence.yaml"
        log:
            "results/logs/analysis/reward/cap{cap}.log",
        benchmark:
            "results/benchmarks/analysis/reward/cap{cap}.tsv"
        script:
            "../scripts/expected_reward.py"
