"""Reproduction of the chess "Transcendence" study (Zhang et al., NeurIPS 2024).

All logic of the workflow lives in this package; the Snakemake rules only call it.
The package never imports Snakemake, so every stage can be run and tested on its own.
"""

__version__ = "0.1.0"
