"""The ``transcendence`` command: ``status`` (where the study stands) and ``uci`` (a model as an engine).

``transcendence uci`` plays a trained model as a UCI chess engine.

``transcendence status`` reads files only (the config, ``results/``); it never runs Snakemake
or any stage. For one configuration (``config/config.yaml`` unless ``--configfile`` names
another) it lists the config files, how many of each stage's results exist, the command that
plays each trained model as an engine, the ratings table and, per cap, the verdicts of the
transcendence test.

``transcendence uci --model <checkpoint>`` is the engine of :mod:`transcendence.play.uci_engine`
on stdin and stdout (docs/UCI.md: GUIs, matches, a Lichess bot, ratings).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Mapping

import yaml


def _first_comment(path: Path) -> str:
    """The first line of a config file's header comment (what the file is for)."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def expected_results(config: dict) -> list[tuple[str, list[str]]]:
    """Each stage of the study with the result files it makes under ``config``, in DAG order."""
    caps = [int(c) for c in config["caps"]]
    evaluate = config["evaluate"]
    if config["source"] == "synthetic":
        dumps = [f"synthetic-{i:02d}" for i in range(config["synthetic"]["shards"])]
    else:
        dumps = [str(m) for m in config["lichess"]["months"]]
    stages = [
        ("dumps", [f"results/dumps/{d}.pgn.zst" for d in dumps]),
        ("filtered games", [f"results/data/{d}/filter_stats.json" for d in dumps]),
        ("datasets", [f"results/datasets/cap{c}/meta.json" for c in caps]),
        ("models", [f"results/models/cap{c}/model.pt" for c in caps]),
        ("evaluation shards", [f"results/eval/cap{c}/T{float(t)}/{o['name']}.csv" for c in caps
                               for t in evaluate["temperatures"] for o in evaluate["opponents"]]),
        ("opponent calibration", ["results/calibration/opponents.csv"]),
        ("ratings", ["results/summary/ratings.csv"]),
        ("Figure 1", ["results/figures/figure1.png"]),
        ("favor analysis", [f"results/analysis/favor/cap{c}.json" for c in config.get("favor", {}).get("caps", [])]),
        ("t-SNE", [f"results/analysis/tsne/cap{c}.json" for c in config.get("tsne", {}).get("caps", [])]),
        ("theory, diversity, board", [f"results/analysis/{n}" for n in ("theory.csv", "diversity.json", "board.json")]),
        ("HTML report (make report)", ["results/report.html"]),
    ]
    return [(name, files) for name, files in stages if files]


def _interval(row: Mapping[str, object]) -> str:
    return f"[{float(row['ci_low']):.0f}, {float(row['ci_high']):.0f}]"


def status(root: Path, configfile: Path, out=sys.stdout) -> int:
    """Print where the study under ``configfile`` stands in the repository ``root``."""
    def say(line: str = "") -> None:
        print(line, file=out)

    config_path = configfile if configfile.is_absolute() else root / configfile
    if not config_path.is_file():
        say(f"transcendence status: no config file {configfile}")
        return 2
    config = yaml.safe_load(config_path.read_text())

    say("Config files (config/):")
    for path in sorted((root / "config").glob("*.yaml")):
        mark = "*" if path.resolve() == config_path.resolve() else " "
        say(f" {mark} {path.name:<20} {_first_comment(path)}")
    caps = [int(c) for c in config["caps"]]
    say()
    say(f"Results for {configfile} (source {config['source']}, caps {', '.join(map(str, caps))}):")
    for name, files in expected_results(config):
        present = sum((root / f).is_file() for f in files)
        say(f"  {name:<27} {present}/{len(files)}")

    models = [f for name, files in expected_results(config) if name == "models" for f in files
              if (root / f).is_file()]
    if models:
        say()
        say("Each trained model as a UCI chess engine (docs/UCI.md):")
        for model in models:
            say(f"  transcendence uci --model {model}")

    table = root / "results" / "summary" / "ratings.csv"
    say()
    if not table.is_file():
        say("No ratings yet: `make reproduce` (or `snakemake --cores all`) makes them.")
        return 0
    import pandas as pd  # here, not at the top: `transcendence uci` starts without it

    ratings = pd.read_csv(table)
    say(f"Ratings ({table.relative_to(root)}; 95% likelihood-ratio intervals):")
    say(f"  {'cap':>5} {'T':>6} {'rating':>7} {'interval':>13} {'games':>5} {'W/D/L':>9} "
        f"{'forfeits':>8} {'best in data':>12}  verdict")
    for r in ratings.to_dict("records"):
        wdl = f"{r['wins']}/{r['draws']}/{r['losses']}"
        say(f"  {r['cap']:>5} {r['temperature']:>6g} {r['rating']:>7.0f} {_interval(r):>13} "
            f"{r['games']:>5} {wdl:>9} {r['forfeits']:>8} {r['best_in_data']:>12.0f}  {r['verdict']}")
    say()
    say("Verdicts (transcends: the interval of the rating minus the best player's in the cap's data above 0):")
    for cap, mine in ratings.groupby("cap"):
        counts = {v: int((mine["verdict"] == v).sum()) for v in ("transcends", "inconclusive", "below")}
        best = mine.loc[mine["rating"].idxmax()]
        said = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        say(f"  cap {cap}: {said} of {len(mine)} temperatures; highest rating {best['rating']:.0f} "
            f"{_interval(best)} at T={best['temperature']:g}")
    planned = {(c, float(t)) for c in caps for t in config["evaluate"]["temperatures"]}
    rated = set(zip(ratings["cap"].tolist(), ratings["temperature"].tolist()))
    if rated != planned:
        say()
        say(f"Note: the ratings are for other (cap, temperature) pairs than {configfile} plans: "
            "they were made with another configuration, or not all of it has run yet.")
    return 0


def cap_of(path: Path) -> int | None:
    """The rating cap a checkpoint's path names (``results/models/cap400/model.pt``: 400)."""
    found = re.findall(r"cap(\d+)", path.as_posix())
    return int(found[-1]) if found else None


def uci(model_path: Path, cap: int | None, device: str) -> int:
    """Serve the checkpoint as a UCI engine on stdin/stdout; 2, with the reason on stderr,
    when it cannot be loaded."""
    import torch

    from .files import file_sha256
    from .families import family_of, load_model
    from .model.checkpoint import CheckpointError
    from .model.device import pick_device
    from .play.uci_engine import ModelEngine, serve

    try:
        sha256 = file_sha256(model_path)
        model = load_model(model_path, pick_device(device))
    except FileNotFoundError:
        print(f"transcendence uci: no checkpoint file {model_path}", file=sys.stderr)
        return 2
    except CheckpointError as exc:
        print(f"transcendence uci: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a directory, a file it may not read
        print(f"transcendence uci: cannot read the checkpoint {model_path}: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # the Threads option's default, as each evaluation job runs
    cap = cap if cap is not None else cap_of(model_path)
    family = family_of(model)
    who = family.player_name(cap) if cap is not None else f"{family.name}-model"
    engine = ModelEngine(model, name=f"transcendence {who} ({family.name} family, sha256 {sha256[:12]})",
                         out=sys.stdout)
    serve(engine, iter(sys.stdin.readline, ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="transcendence", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    st = commands.add_parser("status", help="which configs and results exist, the ratings and the verdicts")
    st.add_argument("--configfile", type=Path, default=Path("config/config.yaml"),
                    help="the configuration whose results to look for (default: config/config.yaml)")
    st.add_argument("--root", type=Path, default=Path("."), help="the repository (default: here)")
    engine = commands.add_parser("uci", help="play a trained model as a UCI chess engine on stdin/stdout")
    engine.add_argument("--model", type=Path, required=True, help="the checkpoint, e.g. results/models/cap400/model.pt")
    engine.add_argument("--cap", type=int, default=None,
                        help="the model's rating cap, for its name (default: from the path's capN folder)")
    engine.add_argument("--device", default="cpu", help="cpu (default, as the evaluation), cuda or auto")
    args = parser.parse_args(argv)
    if args.command == "uci":
        return uci(args.model, args.cap, args.device)
    return status(args.root, args.configfile)


if __name__ == "__main__":
    sys.exit(main())
