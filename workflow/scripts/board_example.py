"""Rule board_example: one position where low temperature plays the players' majority move."""

from transcendence.analysis.board_example import board_example
from transcendence.logs import logged

sm = snakemake  # noqa: F821  (injected by Snakemake)
with logged(sm.log[0]) as log:
    div, cfg = sm.params.diversity, sm.params.board
    board_example(
        sm.input.model, list(sm.input.data), plies=div["plies"], min_count=div["min_count"],
        max_games=div["max_games"], positions=cfg["positions"], analysed=cfg["analysed"],
        low_temperature=sm.params.low_temperature, engine=sm.params.engine, limit=cfg["limit"],
        svg_out=sm.output.svg, json_out=sm.output.json, md_out=sm.output.md, threads=sm.threads, log=log,
    )
