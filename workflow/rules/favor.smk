# The paper's analyses of the model in the positions it met (issue 9): the favor analysis
# (Table 1) and a t-SNE of its last hidden state. Both read one cap's games against the
# weakest opponent at the lowest temperature, and share a cache of Stockfish's values of
# every legal move of those positions (keyed by FEN, search limit and engine).


FAVOR_CAPS = [int(c) for c in config["favor"]["caps"]]
TSNE_CAPS = [int(c) for c in config["tsne"]["caps"]]
for _key, _caps in (("favor", FAVOR_CAPS), ("tsne", TSNE_CAPS)):
    if not set(_caps) <= set(CAPS):
        raise ValueError(f"config {_key}.caps lists {sorted(set(_caps) - set(CAPS))}, which are not among caps {CAPS}")
# The paper's setting: the games at the lowest temperature against the weakest opponent.
ANALYSIS_GAMES = "results/eval/cap{{cap}}/T{temperature}/{opponent}.pgn".format(
    temperature=min(TEMPERATURES, key=float),
    opponent=min(OPPONENTS.values(), key=lambda o: float(o["rating"]))["name"],
)
# Shared by every run and every condition of a sweep, deliberately (a module does not rewrite
# params): an entry is keyed by what its values depend on (position, limit, engine), and
# concurrent jobs may write one entry at once (engine/move_values.py).
MOVE_VALUE_CACHE = "results/cache/move_values"
FAVOR_TARGETS = expand("results/analysis/favor/cap{cap}.{ext}", cap=FAVOR_CAPS, ext=["json", "md", "png", "pdf"])
TSNE_TARGETS = expand("results/analysis/tsne/cap{cap}.{ext}", cap=TSNE_CAPS, ext=["json", "png"])


rule favor:
    input:
        model="results/models/cap{cap}/model.pt",
        games=ANALYSIS_GAMES,
    output:
        json="results/analysis/favor/cap{cap}.json",
        md=report(
            "results/analysis/favor/cap{cap}.md",
            caption="../report/favor_table.rst",
            category="Favor analysis",
        ),
        png=report(
            "results/analysis/favor/cap{cap}.png",
            caption="../report/favor.rst",
            category="Favor analysis",
        ),
        pdf="results/analysis/favor/cap{cap}.pdf",
    params:
        favor=config["favor"],
        mode=config["evaluate"]["mode"],
        device=config["evaluate"].get("device", "cpu"),
        seed=config["seed"],
        engine=config["engine"],
        cache=MOVE_VALUE_CACHE,
    # Threads (the Stockfish pool's engine processes) come from workflow/profiles/.
    resources:
        gpu=config["evaluate"].get("gpus", 0),
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/analysis/favor/cap{cap}.log",
    benchmark:
        "results/benchmarks/analysis/favor/cap{cap}.tsv"
    script:
        "../scripts/favor.py"


rule tsne:
    input:
        model="results/models/cap{cap}/model.pt",
        games=ANALYSIS_GAMES,
    output:
        json="results/analysis/tsne/cap{cap}.json",
        png=report(
            "results/analysis/tsne/cap{cap}.png",
            caption="../report/tsne.rst",
            category="t-SNE",
        ),
    params:
        tsne=config["tsne"],
        device=config["evaluate"].get("device", "cpu"),
        seed=config["seed"],
        engine=config["engine"],
        cache=MOVE_VALUE_CACHE,
    # Threads (the Stockfish pool's engine processes) come from workflow/profiles/.
    resources:
        gpu=config["evaluate"].get("gpus", 0),
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/analysis/tsne/cap{cap}.log",
    benchmark:
        "results/benchmarks/analysis/tsne/cap{cap}.tsv"
    script:
        "../scripts/tsne.py"
