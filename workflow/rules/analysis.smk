# The paper's other results (issue 9): the toy theory experiment, the diversity of each cap's
# data, and a board where low temperature plays the players' majority move.

# The board example uses the lowest cap, the one the paper illustrates (its cap 1000).
BOARD_CAP = min(CAPS)


ANALYSIS_TARGETS = [
    "results/analysis/theory.csv",
    "results/analysis/theory.png",
    "results/analysis/theory.pdf",
    "results/analysis/diversity.json",
    "results/analysis/diversity.csv",
    "results/analysis/diversity.png",
    "results/analysis/board.svg",
    "results/analysis/board.json",
    "results/analysis/board.md",
]


rule theory:
    output:
        csv=report(
            "results/analysis/theory.csv",
            caption="../report/theory_table.rst",
            category="Theory",
        ),
        png=report(
            "results/analysis/theory.png",
            caption="../report/theory.rst",
            category="Theory",
        ),
        pdf="results/analysis/theory.pdf",
    params:
        theory=config["theory"],
        seed=config["seed"],
    threads: 1
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/analysis/theory.log",
    benchmark:
        "results/benchmarks/analysis/theory.tsv"
    script:
        "../scripts/theory.py"


rule diversity:
    input:
        expand("results/data/{dump}/cap{cap}.pgn.zst", dump=DUMPS, cap=CAPS),
    output:
        json=report(
            "results/analysis/diversity.json",
            caption="../report/diversity_table.rst",
            category="Data diversity",
        ),
        csv="results/analysis/diversity.csv",
        png=report(
            "results/analysis/diversity.png",
            caption="../report/diversity.rst",
            category="Data diversity",
        ),
    params:
        caps=CAPS,
        diversity=config["diversity"],
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/analysis/diversity.log",
    benchmark:
        "results/benchmarks/analysis/diversity.tsv"
    script:
        "../scripts/diversity.py"


rule board_example:
    input:
        model=f"results/models/cap{BOARD_CAP}/model.pt",
        data=expand("results/data/{dump}/cap{cap}.pgn.zst", dump=DUMPS, cap=BOARD_CAP),
    output:
        svg=report(
            "results/analysis/board.svg",
            caption="../report/board.rst",
            category="Board example",
        ),
        json="results/analysis/board.json",
        md=report(
            "results/analysis/board.md",
            caption="../report/board.rst",
            category="Board example",
        ),
    params:
        diversity=config["diversity"],
        board=config["board_example"],
        low_temperature=min(float(t) for t in TEMPERATURES),
        engine=config["engine"],
    conda:
        "../../envs/transcendence.yaml"
    log:
        "results/logs/analysis/board.log",
    benchmark:
        "results/benchmarks/analysis/board.tsv"
    script:
        "../scripts/board_example.py"
