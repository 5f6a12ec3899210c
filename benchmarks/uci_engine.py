"""Benchmark: `transcendence uci`, a model as a UCI engine: its start-up time and its time
per move, for both model families on the CPU, against baselines measured in the same run.

Start-up: from starting the process to its ``uciok`` and ``readyok`` (the client sends
``uci`` and ``isready`` at once), against starting a Python that only imports torch (what
any engine of this package pays before it reads its checkpoint). Per move: the engine plays
a game against itself from the standard position, ``--plies`` moves, one ``position
startpos moves ...`` + ``go`` at a time through its pipes, timed by the client from sending
``position`` to reading ``bestmove``; against, on each same position in turn, the
evaluation's own work (the family's policy with one slot, as ``run_shard`` steps it one
game at a time) and the engine's player in process (that step, plus the legal-move scores
the ``info`` line reports). The ratios are the protocol's cost per move.

Freshly initialised networks of the default's board size (32x4) and, for the text family,
``--text-layers`` x ``--text-width`` with a 1023-character context (the paper's 16x512 by
default); their moves take as long as a trained model's. One thread, as the engine's
``Threads`` default and each evaluation job.

    nice -n 10 .venv/bin/python benchmarks/uci_engine.py [--plies 60 --starts 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import chess
import torch

from transcendence.model.board_network import BoardNet, BoardNetConfig
from transcendence.families import load_model
from transcendence.model.checkpoint import save_model
from transcendence.model.gpt import GPT, GPTConfig
from transcendence.families import Request
from transcendence.families import family_of
from transcendence.play.uci_player import ModelPlayer, decide, sans_of

COMMAND = [sys.executable, "-m", "transcendence.cli", "uci", "--model"]
TEMPERATURE = 1.0   # a spread of moves, so the self-play game is not one repeated line


def write_models(folder: Path, args: argparse.Namespace) -> dict[str, Path]:
    torch.manual_seed(0)
    paths = {"board": folder / "board" / "cap400" / "model.pt", "text": folder / "text" / "cap400" / "model.pt"}
    save_model(paths["board"], BoardNet(BoardNetConfig(channels=32, blocks=4)), {}, family="board")
    save_model(paths["text"], GPT(GPTConfig(n_layer=args.text_layers, n_head=8, n_embd=args.text_width,
                                            block_size=1023)), {})
    return paths


class Engine:
    """The console command's engine on pipes, read line by line."""

    def __init__(self, model: Path) -> None:
        self.proc = subprocess.Popen([*COMMAND, str(model)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def until(self, prefix: str) -> str:
        while not (line := self.proc.stdout.readline()).startswith(prefix):
            if not line:
                raise RuntimeError(f"the engine ended before {prefix!r}")
        return line.strip()

    def close(self) -> None:
        self.send("quit")
        self.proc.wait(timeout=60)


def startup(model: Path) -> tuple[float, float]:
    """Seconds from starting the process to uciok and to readyok."""
    start = time.perf_counter()
    engine = Engine(model)
    engine.send("uci")
    engine.send("isready")
    engine.until("uciok")
    uciok = time.perf_counter() - start
    engine.until("readyok")
    readyok = time.perf_counter() - start
    engine.close()
    return uciok, readyok


def import_torch() -> float:
    """Seconds from starting a Python to its line after ``import torch`` (its exit not counted,
    as the engine's is not)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "import torch; print('imported', flush=True)"],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    seconds = time.perf_counter() - start
    proc.wait()
    return seconds


def per_move(model_path: Path, plies: int) -> dict[str, object]:
    """The engine's self-play game, each move timed three ways in turn on the same position
    (so a load that comes and goes reaches all three alike): the client's ``position`` +
    ``go`` to ``bestmove``, the evaluation's policy step, the engine's player in process
    (seeded as the engine's first game: Seed 0, so it must draw the engine's moves)."""
    engine = Engine(model_path)
    engine.send("uci")
    engine.until("uciok")
    engine.send(f"setoption name Temperature value {TEMPERATURE}")
    engine.send("ucinewgame")
    engine.send("isready")
    engine.until("readyok")
    model = load_model(model_path)
    policy = family_of(model).batch_policy(model, slots=1, temperature=TEMPERATURE, mode="legal_moves", max_tries=5)
    player = ModelPlayer(model, temperature=TEMPERATURE, mode="legal_moves", max_tries=5)
    player.new_game(0)
    gen = torch.Generator().manual_seed(0)
    board, moves = chess.Board(), []
    times: dict[str, list[float]] = {"engine": [], "policy": [], "player": []}
    same = True
    while len(moves) < plies and not board.is_game_over():
        start = time.perf_counter()
        engine.send("position startpos" + (" moves " + " ".join(moves) if moves else ""))
        engine.send("go wtime 60000 btime 60000")
        best = engine.until("bestmove").split()[1]
        times["engine"].append(time.perf_counter() - start)
        start = time.perf_counter()
        decide(policy, Request(0, board, sans_of(board), gen))
        times["policy"].append(time.perf_counter() - start)
        start = time.perf_counter()
        same &= player.choose(board).move.uci() == best
        times["player"].append(time.perf_counter() - start)
        moves.append(best)
        board.push_uci(best)
    engine.close()
    return {"plies": len(moves), "same_moves_in_process": same, **times}


def ms(values: list[float]) -> float:
    return round(1000 * statistics.median(values), 2)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plies", type=int, default=60, help="moves of the engine's self-play game")
    parser.add_argument("--starts", type=int, default=3, help="process starts timed per family (median)")
    parser.add_argument("--text-layers", type=int, default=16)
    parser.add_argument("--text-width", type=int, default=512)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_models(Path(tmp), args)
        # Rounds interleave the baseline and both engines, so a load that comes and goes
        # reaches them alike.
        rounds = [(import_torch(), {family: startup(path) for family, path in paths.items()})
                  for _ in range(args.starts)]
        result: dict = {"import_torch_s": round(statistics.median(r[0] for r in rounds), 3)}
        for family, path in paths.items():
            starts = [r[1][family] for r in rounds]
            moves = per_move(path, args.plies)
            row = {
                "checkpoint_mib": round(path.stat().st_size / 2 ** 20, 1),
                "uciok_s": round(statistics.median(s[0] for s in starts), 3),
                "readyok_s": round(statistics.median(s[1] for s in starts), 3),
                "plies": moves["plies"], "same_moves_in_process": moves["same_moves_in_process"],
                "policy_step_ms": ms(moves["policy"]), "player_ms": ms(moves["player"]),
                "engine_go_ms": ms(moves["engine"]),
            }
            row["uciok_over_import_torch"] = round(row["uciok_s"] / result["import_torch_s"], 2)
            row["engine_over_policy"] = round(row["engine_go_ms"] / row["policy_step_ms"], 2)
            row["player_over_policy"] = round(row["player_ms"] / row["policy_step_ms"], 2)
            result[family] = row
    print(f"python -c 'import torch' to its first line: {result['import_torch_s']:.2f} s (median of {args.starts})")
    print(f"{'family':<7} {'ckpt MiB':>8} {'uciok s':>8} {'readyok s':>9} {'x torch':>7} "
          f"{'policy ms':>9} {'player ms':>9} {'engine ms':>9} {'player/policy':>13} {'engine/policy':>13}  same moves")
    for family in paths:
        r = result[family]
        print(f"{family:<7} {r['checkpoint_mib']:>8} {r['uciok_s']:>8.2f} {r['readyok_s']:>9.2f} "
              f"{r['uciok_over_import_torch']:>7.2f} {r['policy_step_ms']:>9.2f} {r['player_ms']:>9.2f} "
              f"{r['engine_go_ms']:>9.2f} {r['player_over_policy']:>13.2f} {r['engine_over_policy']:>13.2f}  "
              f"{r['same_moves_in_process']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
