# Names and paths shared by the rules; all values come from the validated config.

import os

from transcendence.families import family_named


CAPS = [int(c) for c in config["caps"]]
# The dataset's files, of the model family's kind (packed token blocks .bin, positions .pos...).
DATASET_EXT = family_named(config["model"]["family"]).dataset_suffix
TEMPERATURES = [str(float(t)) for t in config["evaluate"]["temperatures"]]
OPPONENTS = {o["name"]: o for o in config["evaluate"]["opponents"]}
# How the eps-players err (synthetic.mistakes), and each synthetic player's persona: an
# opponent named like a synthetic player plays as that player (players/config.py).
MISTAKES = config.get("synthetic", {}).get("mistakes")
PERSONAS = {p["name"]: p.get("persona", "uniform") for p in config.get("synthetic", {}).get("players", [])}

if config["source"] == "synthetic":
    DUMPS = [f"synthetic-{i:02d}" for i in range(config["synthetic"]["shards"])]
else:
    DUMPS = list(config["lichess"]["months"])


wildcard_constraints:
    cap=r"\d+",
    dump=r"[A-Za-z0-9_.-]+",
    temperature=r"\d+(\.\d+)?",
    opponent=r"[A-Za-z0-9_.+-]+",


def shard_games(shard):
    """Games of one synthetic shard: the total split as evenly as possible."""
    total, shards = config["synthetic"]["games"], config["synthetic"]["shards"]
    return total // shards + (1 if shard < total % shards else 0)


def train_settings(cap):
    """One cap's training section: `train` with that cap's `train_overrides` entry on top.

    Only that cap's training sees its override, so changing it re-runs only that cap's
    model and what depends on it (Snakemake's params trigger and DVC's params agree).
    """
    return {**config["train"], **config["train_overrides"].get(str(cap), {})}


for _cap, _override in config["train_overrides"].items():
    if not isinstance(_cap, str):
        raise ValueError(f'train_overrides: write cap {_cap} as a quoted string, "{_cap}" (DVC reads keys as text)')
    if int(_cap) not in CAPS:
        raise ValueError(f"train_overrides: cap {_cap} is not one of caps {CAPS}")
    _unknown = sorted(set(_override) - set(config["train"]))
    if _unknown:
        raise ValueError(f"train_overrides: cap {_cap} overrides {_unknown}, which train does not set")


def eval_tables(wildcards=None):
    return expand(
        "results/eval/cap{cap}/T{temperature}/{opponent}.csv",
        cap=CAPS,
        temperature=TEMPERATURES,
        opponent=list(OPPONENTS),
    )


def calibration_players():
    """The synthetic players who join the calibration round robin (none for Lichess)."""
    if config["source"] == "synthetic" and config["calibration"]["include_players"]:
        return config["synthetic"]["players"]
    return []


def calibration_table(wildcards=None):
    """The measured ratings, when the ratings stage is told to use them."""
    if config["rating"]["anchors"] == "calibrated":
        return "results/calibration/opponents.csv"
    return []


def calibration_games(wildcards=None):
    """The calibration's games, which the ratings stage fits jointly with the models' games."""
    if config["rating"]["anchors"] == "calibrated":
        return "results/calibration/games.pgn"
    return []
