"""Benchmark: the board family's three costs (training, dataset, evaluation), each against a
baseline measured in the same run.

Every rate is per CPU-second of this process (``time.process_time``: the interpreter and
PyTorch, one thread), with wall-clock seconds beside it, because the development machine's
two cores are shared and wall time mostly measures the others' load.

1. training: positions per CPU-second of ``board.training.batch_loss`` (masked cross-entropy)
   + backward + clipping + AdamW, the step ``train_board`` runs, on a 32x4 ``BoardNet`` at
   batch 128 with one thread: the network as it is (channels_last input) against the same
   network and weights fed plain contiguous NCHW planes (checked first: the same loss on the
   same batch to 1e-5); then batch 256 against batch 128 (channels_last). Rounds alternate,
   the medians are compared.
2. dataset: positions per CPU-second of the dataset stage's per-game work
   (``board.dataset.game_examples``: replay each SAN move, ``encode``, ``legal_moves``) against
   the same loop with ``tests/test_board.py``'s square-by-square ``reference_encode`` (checked
   first: the same features, moves and legal moves); then the two encodings alone on the
   same positions.
3. evaluation: games per CPU-hour of ``evaluate.run_shard`` with a 32x4 board checkpoint
   (freshly initialised and saved with ``save_model``, or ``--model``) against the
   eps0.75 synthetic opponent (Stockfish depth 1, three moves in four uniformly random),
   ``legal_moves`` mode, the config's shard of 80 games at T=1, ``batch_games`` 40 against 1
   (checked: the same games, PGN and table byte for byte). The engine's own CPU (child
   processes, waited for when the shard ends) is reported beside it.

Positions and games are those of seeded random games (python-chess's legal moves drawn
uniformly), so the script needs no workflow outputs.

    nice -n 10 .venv/bin/python benchmarks/board_speed.py [--json board_speed.json]

The defaults take about 2 CPU-minutes (this process about 110 s, the engine 10 s);
``--train-rounds``, ``--train-steps``, ``--dataset-games``, ``--eval-games`` scale it up,
``--only`` runs one part.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import chess
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ is a package: the encoding's oracle lives there

from tests.test_board import reference_encode  # noqa: E402
from transcendence.data.board_positions import Positions, game_examples  # noqa: E402
from transcendence.model.board_encoding import FEATURES, encode, legal_moves, planes  # noqa: E402
from transcendence.model.board_network import BoardNet, BoardNetConfig  # noqa: E402
from transcendence.families.board.training import batch_loss  # noqa: E402
from transcendence.model.checkpoint import save_model  # noqa: E402
from transcendence.play.evaluate import run_shard  # noqa: E402
from transcendence.players.player import Player  # noqa: E402
from transcendence.training.train import batch_rows  # noqa: E402

PARTS = ("training", "dataset", "evaluation")


class Clock:
    """CPU-seconds of this process and wall seconds since it was made."""

    def __init__(self) -> None:
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()

    def read(self) -> tuple[float, float]:
        return time.process_time() - self.cpu0, time.perf_counter() - self.wall0


def random_games(n: int, seed: int, max_plies: int = 150) -> list[list[str]]:
    """SAN moves of ``n`` seeded random games (uniform legal moves, 1 to ``max_plies`` plies)."""
    rng = random.Random(seed)
    games = []
    for _ in range(n):
        board, sans = chess.Board(), []
        for _ in range(rng.randint(1, max_plies)):
            if board.is_game_over():
                break
            move = rng.choice(list(board.legal_moves))
            sans.append(board.san(move))
            board.push(move)
        if sans:
            games.append(sans)
    return games


def positions_of(games: list[list[str]]) -> Positions:
    """The games' examples as a ``.pos`` file would hold them (what ``build_positions`` writes)."""
    feats, moves, legal = [], [], []
    for sans in games:
        f, m, lg = game_examples(sans)
        feats.append(f)
        moves.append(m)
        legal += lg
    offsets = np.zeros(len(legal) + 1, dtype=np.int64)
    np.cumsum([len(ix) for ix in legal], out=offsets[1:])
    return Positions(np.concatenate(feats), np.concatenate(moves), np.concatenate(legal), offsets)


# --- 1. training ---------------------------------------------------------------------------

class NCHWBoardNet(BoardNet):
    """``BoardNet`` fed its planes as plain contiguous NCHW (the baseline layout)."""

    def hidden(self, features: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.stem(planes(features)))


class Trainer:
    """``train_board``'s step (loss, backward, clipping, AdamW) on one network and batch size."""

    def __init__(self, model: BoardNet, data: Positions, batch_size: int, seed: int = 0) -> None:
        self.model, self.data, self.batch_size, self.seed = model.train(), data, batch_size, seed
        self.opt = torch.optim.AdamW(model.optimizer_groups(0.1), lr=2e-3, betas=(0.9, 0.95))
        self.step = 0
        self.device = torch.device("cpu")

    def run(self, steps: int) -> None:
        for _ in range(steps):
            rows = np.sort(batch_rows(self.seed, self.step, 0, len(self.data), self.batch_size))
            loss, _ = batch_loss(self.model, self.data, rows, self.device)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            self.step += 1


def bench_training(args: argparse.Namespace) -> dict:
    torch.use_deterministic_algorithms(True)  # as train_board runs on a CPU
    data = positions_of(random_games(args.train_games, seed=1))
    cfg = BoardNetConfig(channels=args.channels, blocks=args.blocks)
    torch.manual_seed(0)
    fast = BoardNet(cfg)
    plain = NCHWBoardNet(cfg)
    plain.load_state_dict(fast.state_dict())
    wide = BoardNet(cfg)
    wide.load_state_dict(fast.state_dict())

    rows = np.sort(batch_rows(0, 0, 0, len(data), args.batch_size))
    loss_cl = batch_loss(fast.train(), data, rows, torch.device("cpu"))[0].item()
    loss_nchw = batch_loss(plain.train(), data, rows, torch.device("cpu"))[0].item()
    assert abs(loss_cl - loss_nchw) <= 1e-5, (loss_cl, loss_nchw)

    trainers = {"channels_last": Trainer(fast, data, args.batch_size),
                "nchw": Trainer(plain, data, args.batch_size),
                f"channels_last_b{2 * args.batch_size}": Trainer(wide, data, 2 * args.batch_size)}
    for t in trainers.values():
        t.run(args.train_warmup)
    cpu_rates: dict[str, list[float]] = {k: [] for k in trainers}
    wall_rates: dict[str, list[float]] = {k: [] for k in trainers}
    cpu_total = dict.fromkeys(trainers, 0.0)
    for _ in range(args.train_rounds):
        for name, t in trainers.items():
            clock = Clock()
            t.run(args.train_steps)
            cpu, wall = clock.read()
            n = args.train_steps * t.batch_size
            cpu_rates[name].append(n / cpu)
            wall_rates[name].append(n / wall)
            cpu_total[name] += cpu
    rows_out = {name: {"batch_size": trainers[name].batch_size,
                       "positions_per_cpu_s": round(statistics.median(cpu_rates[name]), 1),
                       "positions_per_wall_s": round(statistics.median(wall_rates[name]), 1),
                       "rounds_per_cpu_s": [round(x, 1) for x in cpu_rates[name]],
                       "cpu_s": round(cpu_total[name], 2)} for name in trainers}
    big = f"channels_last_b{2 * args.batch_size}"
    med = {k: v["positions_per_cpu_s"] for k, v in rows_out.items()}
    return {"network": f"{args.channels}x{args.blocks}", "parameters": fast.num_params(),
            "positions": len(data), "batch_size": args.batch_size, "threads": torch.get_num_threads(),
            "steps_per_round": args.train_steps, "rounds": args.train_rounds,
            "loss_channels_last": loss_cl, "loss_nchw": loss_nchw, **rows_out,
            "ratio_channels_last_vs_nchw": round(med["channels_last"] / med["nchw"], 3),
            "ratio_batch_double_vs_single": round(med[big] / med["channels_last"], 3)}


# --- 2. dataset ----------------------------------------------------------------------------

def reference_game_examples(sans: list[str]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``game_examples`` with the square-by-square reference encoding (the baseline)."""
    board = chess.Board()
    features = np.zeros((len(sans), FEATURES), dtype=np.uint8)
    moves = np.zeros(len(sans), dtype=np.uint16)
    legal: list[np.ndarray] = []
    for ply, san in enumerate(sans):
        move = board.parse_san(san)
        features[ply] = reference_encode(board)
        candidates, indices = legal_moves(board)
        moves[ply] = indices[candidates.index(move)]
        legal.append(indices)
        board.push(move)
    return features, moves, legal


def bench_dataset(args: argparse.Namespace) -> dict:
    games = random_games(args.dataset_games, seed=2)
    n = sum(map(len, games))
    for sans in games:  # the same examples either way (and a warm-up)
        fast, ref = game_examples(sans), reference_game_examples(sans)
        assert (fast[0] == ref[0]).all() and (fast[1] == ref[1]).all()
        assert all((a == b).all() for a, b in zip(fast[2], ref[2]))
    ways = {"encode": game_examples, "reference_encode": reference_game_examples}
    cpu_rates: dict[str, list[float]] = {k: [] for k in ways}
    wall_rates: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(args.dataset_rounds):
        for name, fn in ways.items():
            clock = Clock()
            for sans in games:
                fn(sans)
            cpu, wall = clock.read()
            cpu_rates[name].append(n / cpu)
            wall_rates[name].append(n / wall)
    # The encoding alone, on the same positions: how much of the stage's work it was.
    boards = []
    for sans in games:
        board = chess.Board()
        for san in sans:
            boards.append(board.copy(stack=False))
            board.push_san(san)
    encoders = {"encode_only": encode, "reference_encode_only": reference_encode}
    for name in encoders:
        cpu_rates[name], wall_rates[name] = [], []
    for _ in range(args.dataset_rounds):
        for name, fn in encoders.items():
            clock = Clock()
            for board in boards:
                fn(board)
            cpu, wall = clock.read()
            cpu_rates[name].append(n / cpu)
            wall_rates[name].append(n / wall)
    out = {"games": len(games), "positions": n, "rounds": args.dataset_rounds}
    for name in cpu_rates:
        out[name] = {"positions_per_cpu_s": round(statistics.median(cpu_rates[name]), 1),
                     "positions_per_wall_s": round(statistics.median(wall_rates[name]), 1),
                     "rounds_per_cpu_s": [round(x, 1) for x in cpu_rates[name]]}
    out["ratio"] = round(out["encode"]["positions_per_cpu_s"] / out["reference_encode"]["positions_per_cpu_s"], 3)
    out["ratio_encode_only"] = round(out["encode_only"]["positions_per_cpu_s"]
                                     / out["reference_encode_only"]["positions_per_cpu_s"], 3)
    return out


# --- 3. evaluation -------------------------------------------------------------------------

def children_cpu() -> float:
    """CPU-seconds of this process's finished (waited-for) children: the engines."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_evaluation(args: argparse.Namespace) -> dict:
    opponent = Player("eps0.75", 360.0, {"depth": 1}, eps=0.75)
    out: dict = {"games": args.eval_games, "temperature": args.temperature, "opponent": opponent.name,
                 "mode": "legal_moves", "limit": opponent.limit.to_config()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model:
            model_path = Path(args.model)
            out["model"] = "given"
        else:
            torch.manual_seed(0)
            model_path = tmp / "model.pt"
            save_model(model_path, BoardNet(BoardNetConfig(args.channels, args.blocks)), {"step": 0, "seed": 0}, family="board")
            out["model"] = f"fresh {args.channels}x{args.blocks}"
        played = {}
        for batch in (args.batch_games, 1):
            pgn, table = tmp / f"b{batch}.pgn", tmp / f"b{batch}.csv"
            clock, child0 = Clock(), children_cpu()
            summary = run_shard(model_path, pgn, table, cap=0, temperature=args.temperature, opponent=opponent,
                                games=args.eval_games, seed=0, mode="legal_moves", max_tries=5,
                                max_fullmoves=args.max_fullmoves, engine_path=args.engine, threads=1,
                                batch_games=batch, log=io.StringIO())
            cpu, wall = clock.read()
            engine_cpu = children_cpu() - child0
            played[batch] = (pgn.read_bytes(), table.read_bytes())
            plies = sum(int(row["plies"]) for row in csv.DictReader(io.StringIO(table.read_text())))
            per_hour = args.eval_games * 3600
            out[f"batch_{batch}"] = {"batch_games": summary["batch_games"], "cpu_s": round(cpu, 2),
                                     "wall_s": round(wall, 2), "engine_cpu_s": round(engine_cpu, 2),
                                     "games_per_cpu_hour": round(per_hour / cpu),
                                     "games_per_cpu_hour_with_engine": round(per_hour / (cpu + engine_cpu)),
                                     "games_per_wall_hour": round(per_hour / wall), "plies": plies}
    assert played[args.batch_games] == played[1], "batched and one-at-a-time shards played different games"
    out["same_games"] = True
    big, one = out[f"batch_{args.batch_games}"], out["batch_1"]
    out["ratio"] = round(big["games_per_cpu_hour"] / one["games_per_cpu_hour"], 3)
    out["ratio_with_engine"] = round(big["games_per_cpu_hour_with_engine"] / one["games_per_cpu_hour_with_engine"], 3)
    return out


# --- report --------------------------------------------------------------------------------

def report(result: dict) -> None:
    if "training" in result:
        r = result["training"]
        big = f"channels_last_b{2 * r['batch_size']}"
        print(f"\ntraining: {r['network']} BoardNet ({r['parameters']:,} parameters), {r['threads']} thread, "
              f"{r['positions']:,} random-game positions, {r['rounds']} rounds x {r['steps_per_round']} steps; "
              f"loss at step 0: {r['loss_channels_last']:.6f} (channels_last) = {r['loss_nchw']:.6f} (NCHW)")
        print("| input layout, batch | positions per CPU-second (median) | positions/s wall | rounds (per CPU-s) |")
        print("|---|---|---|---|")
        for name, label in (("channels_last", f"channels_last, {r['batch_size']}"),
                            ("nchw", f"contiguous NCHW, {r['batch_size']} (baseline)"),
                            (big, f"channels_last, {2 * r['batch_size']}")):
            row = r[name]
            print(f"| {label} | {row['positions_per_cpu_s']:,.0f} | {row['positions_per_wall_s']:,.0f} | "
                  f"{', '.join(f'{x:,.0f}' for x in row['rounds_per_cpu_s'])} |")
        print(f"channels_last / NCHW: {r['ratio_channels_last_vs_nchw']:.2f}x; batch {2 * r['batch_size']} / "
              f"{r['batch_size']}: {r['ratio_batch_double_vs_single']:.2f}x (per CPU-second)")
    if "dataset" in result:
        r = result["dataset"]
        print(f"\ndataset: {r['games']} random games, {r['positions']:,} positions, {r['rounds']} rounds "
              "(replay + encode + legal_moves; same examples checked)")
        print("| encoding | positions per CPU-second (median) | positions/s wall |\n|---|---|---|")
        for name, label in (("encode", "replay + `encode` (bitboards) + legal_moves"),
                            ("reference_encode", "replay + square-by-square reference + legal_moves (baseline)"),
                            ("encode_only", "`encode` alone"),
                            ("reference_encode_only", "reference alone (baseline)")):
            print(f"| {label} | {r[name]['positions_per_cpu_s']:,.0f} | {r[name]['positions_per_wall_s']:,.0f} |")
        print(f"encode / reference: {r['ratio']:.2f}x per CPU-second (the stage's per-position work), "
              f"{r['ratio_encode_only']:.2f}x (the encoding alone)")
    if "evaluation" in result:
        r = result["evaluation"]
        print(f"\nevaluation: {r['games']} games, {r['model']} board model vs {r['opponent']} "
              f"(depth 1), {r['mode']}, T={r['temperature']}, one thread, one engine; same games: {r['same_games']}")
        print("| batch_games | games per CPU-hour | with the engine's CPU | games/hour wall | CPU s | engine CPU s "
              "| wall s | plies |\n|---|---|---|---|---|---|---|---|")
        for key in (k for k in r if k.startswith("batch_")):
            row = r[key]
            print(f"| {row['batch_games']} | {row['games_per_cpu_hour']:,} | {row['games_per_cpu_hour_with_engine']:,} "
                  f"| {row['games_per_wall_hour']:,} | {row['cpu_s']} | {row['engine_cpu_s']} | {row['wall_s']} "
                  f"| {row['plies']:,} |")
        print(f"batched / one at a time: {r['ratio']:.2f}x per CPU-hour of this process, "
              f"{r['ratio_with_engine']:.2f}x with the engine's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128, help="training batch (also measured doubled)")
    parser.add_argument("--train-games", type=int, default=60, help="random games whose positions are trained on")
    parser.add_argument("--train-warmup", type=int, default=2, help="untimed steps per configuration first")
    parser.add_argument("--train-rounds", type=int, default=7, help="alternating timed rounds")
    parser.add_argument("--train-steps", type=int, default=20, help="steps per configuration per round")
    parser.add_argument("--dataset-games", type=int, default=150)
    parser.add_argument("--dataset-rounds", type=int, default=3)
    parser.add_argument("--eval-games", type=int, default=80, help="games per shard (the config's 80)")
    parser.add_argument("--batch-games", type=int, default=40, help="games at once (the config's 40), against 1")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-fullmoves", type=int, default=89)
    parser.add_argument("--model", help="a board checkpoint to evaluate (default: a fresh network)")
    parser.add_argument("--engine", default="stockfish")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = args.only or list(PARTS)
    clock = Clock()
    result: dict = {"torch": torch.__version__, "threads": 1}
    for part in PARTS:
        if part in parts:
            result[part] = {"training": bench_training, "dataset": bench_dataset,
                            "evaluation": bench_evaluation}[part](args)
    cpu, wall = clock.read()
    result["cpu_s"], result["wall_s"] = round(cpu, 1), round(wall, 1)
    report(result)
    print(f"\nwhole script: {cpu:.1f} CPU-seconds (this process), {wall:.1f} s wall")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
