"""The board family: encoding against plain references, the dataset, training and play."""

from __future__ import annotations

import json
import random

import chess
import numpy as np
import pytest
import torch

from transcendence.data.board_positions import build_positions, game_examples, load_positions
from transcendence.model.board_encoding import FEATURES, N_MOVES, encode, legal_mask, legal_moves, move_index, planes
from transcendence.model.board_network import BoardNet, BoardNetConfig
from transcendence.families.board.policy import BoardBatchPolicy, legal_move_scores
from transcendence.files import atomic_text


def random_positions(n_games: int = 40, seed: int = 0, max_plies: int = 150) -> list[chess.Board]:
    """Positions of random games (promotions, castling, en passant and checks all occur)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n_games):
        board = chess.Board()
        for _ in range(rng.randint(1, max_plies)):
            if board.is_game_over():
                break
            out.append(board.copy(stack=False))
            board.push(rng.choice(list(board.legal_moves)))
    return out


def random_game_sans(rng: random.Random, plies: int) -> list[str]:
    """The SAN moves of one random game of at most ``plies`` plies."""
    board, sans = chess.Board(), []
    for _ in range(plies):
        if board.is_game_over():
            break
        move = rng.choice(list(board.legal_moves))
        sans.append(board.san(move))
        board.push(move)
    return sans


def reference_encode(board: chess.Board) -> np.ndarray:
    """The features square by square from python-chess's public API: the fast path's oracle."""
    out = np.zeros(FEATURES, dtype=np.uint8)
    us = board.turn
    view = (lambda sq: sq) if us == chess.WHITE else chess.square_mirror
    for square in chess.SQUARES:
        piece = board.piece_at(square)
        if piece:
            out[view(square)] = piece.piece_type + (0 if piece.color == us else 6)
        out[64 + view(square)] = len(board.attackers(us, square))
        out[128 + view(square)] = len(board.attackers(not us, square))
    them = not us
    out[192] = (board.has_kingside_castling_rights(us) + 2 * board.has_queenside_castling_rights(us)
                + 4 * board.has_kingside_castling_rights(them) + 8 * board.has_queenside_castling_rights(them))
    if board.has_legal_en_passant():
        out[193] = chess.square_file(board.ep_square) + 1
    return out


def reference_move_index(move: chess.Move, turn: chess.Color) -> int:
    """AlphaZero's 73 planes written out directly, without the lookup table."""
    src, dst = move.from_square, move.to_square
    if turn == chess.BLACK:
        src, dst = chess.square_mirror(src), chess.square_mirror(dst)
    dx = chess.square_file(dst) - chess.square_file(src)
    dy = chess.square_rank(dst) - chess.square_rank(src)
    if move.promotion in (chess.KNIGHT, chess.BISHOP, chess.ROOK):
        plane = 64 + 3 * [chess.KNIGHT, chess.BISHOP, chess.ROOK].index(move.promotion) + dx + 1
    elif {abs(dx), abs(dy)} == {1, 2}:
        plane = 56 + [(1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)].index((dx, dy))
    else:
        n = max(abs(dx), abs(dy))
        direction = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)].index((dx // n, dy // n))
        plane = 7 * direction + n - 1
    return src * 73 + plane


def test_encode_matches_the_square_by_square_reference():
    boards = random_positions()
    assert any(b.has_legal_en_passant() for b in boards) and any(b.turn == chess.BLACK for b in boards)
    for board in boards:
        assert (encode(board) == reference_encode(board)).all(), board.fen()


def test_move_indices_match_the_reference_and_are_distinct():
    promotions = 0
    for board in random_positions(seed=1) + [chess.Board("8/1P5k/8/8/8/8/6p1/K7 w - - 0 1"),
                                             chess.Board("8/1P5k/8/8/8/8/6p1/K7 b - - 0 1")]:
        moves, indices = legal_moves(board)
        assert len(set(indices.tolist())) == len(moves), board.fen()
        for move, index in zip(moves, indices):
            promotions += move.promotion is not None
            assert index == reference_move_index(move, board.turn) == move_index(move, board.turn)
            assert 0 <= index < N_MOVES
    assert promotions >= 8


def test_the_side_to_move_sees_the_same_position_after_a_colour_swap():
    for board in random_positions(n_games=10, seed=2):
        mirrored = board.mirror()
        assert (encode(board) == encode(mirrored)).all()
        assert sorted(legal_moves(board)[1].tolist()) == sorted(legal_moves(mirrored)[1].tolist())


def test_planes_hold_pieces_attacks_castling_and_en_passant():
    board = chess.Board("rnbqkbnr/ppp1p1pp/8/3pPp2/8/8/PPPP1PPP/RNBQKBNR w KQkq f6 0 3")
    x = planes(torch.from_numpy(encode(board))[None])
    assert x.shape == (1, 19, 8, 8)
    assert x[0, :12].sum() == 32 and x[0, 0].sum() == 8                # 32 pieces, 8 own pawns
    assert x[0, 14:18].sum() == 4 * 64                                   # four castling rights
    assert x[0, 18, 5, 5] == 1 and x[0, 18].sum() == 1                   # en passant on f6


def test_legal_mask_from_lists_and_from_offsets_agree():
    boards = random_positions(n_games=3, seed=3)[:20]
    lists = [legal_moves(b)[1] for b in boards]
    offsets = np.concatenate([[0], np.cumsum([len(ix) for ix in lists])])
    flat = np.concatenate(lists)
    rows = np.array([3, 0, 7])
    assert torch.equal(legal_mask([lists[r] for r in rows]), legal_mask(flat, offsets, rows))
    assert legal_mask(lists).sum() == len(flat)


def _write_games(path, games: list[list[str]]) -> None:
    with atomic_text(path) as fh:
        for i, sans in enumerate(games):
            moves = " ".join(f"{n // 2 + 1}. {s}" if n % 2 == 0 else s for n, s in enumerate(sans))
            fh.write(f'[Event "t"]\n[White "a{i}"]\n[Black "b{i}"]\n[Result "*"]\n[WhiteElo "300"]\n'
                     f'[BlackElo "300"]\n\n{moves} 1/2-1/2\n\n')


def test_position_dataset_replays_games_and_drops_illegal_ones(tmp_path):
    rng = random.Random(4)
    games = [random_game_sans(rng, rng.randint(5, 40)) for _ in range(30)]
    games.append(["e4", "e5", "Ke3"])                     # an illegal third move
    dumps = [tmp_path / "a.pgn.zst", tmp_path / "b.pgn.zst"]
    _write_games(dumps[0], games[:15])
    _write_games(dumps[1], games[15:])
    outs = [tmp_path / n for n in ("train.pos", "val.pos", "meta.json")]
    meta = build_positions(dumps, *outs, val_fraction=0.2, seed=5)
    assert meta["skipped_illegal"] == 1 and meta["games"] == 30
    train, val = load_positions(outs[0]), load_positions(outs[1])
    assert len(train) + len(val) == sum(len(g) for g in games[:30]) == meta["positions"]
    assert len(val) > 0 and len(train) > 0
    # Every stored move is legal where it was played, and the stored features are the encoding.
    for data in (train, val):
        for i in range(len(data)):
            assert data.moves[i] in data.legal[data.offsets[i]:data.offsets[i + 1]]
    first = game_examples(games[0])
    in_train = first[0][0].tobytes() == train.features[0].tobytes()
    assert in_train or first[0][0].tobytes() == val.features[0].tobytes()
    # Deterministic, and independent of the number of worker processes.
    again = [tmp_path / n for n in ("t2.pos", "v2.pos", "m2.json")]
    build_positions(dumps, *again, val_fraction=0.2, seed=5, workers=2)
    assert outs[0].read_bytes() == again[0].read_bytes() and outs[1].read_bytes() == again[1].read_bytes()


def test_a_truncated_positions_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "train.pos"
    with open(path, "wb") as fh:
        np.save(fh, np.zeros((2, FEATURES), dtype=np.uint8))
    with pytest.raises(ValueError, match="train.pos"):
        load_positions(path)


def test_the_policy_samples_legal_moves_and_low_temperature_is_the_argmax():
    torch.manual_seed(0)
    model = BoardNet(BoardNetConfig(channels=8, blocks=1)).eval()
    boards = random_positions(n_games=4, seed=6)[:12]
    from transcendence.families import Request

    policy = BoardBatchPolicy(model, slots=len(boards), temperature=1e-3)
    reqs = [Request(i, b, [], torch.Generator().manual_seed(i)) for i, b in enumerate(boards)]
    choices = policy.step(reqs)
    for i, board in enumerate(boards):
        moves, scores = legal_move_scores(model, board)
        assert torch.allclose(scores.exp().sum(), torch.tensor(1.0, dtype=torch.float64))
        assert choices[i].move == moves[int(scores.argmax())]
        assert choices[i].move in board.legal_moves
    # One game at a time draws the same moves as all at once.
    single = BoardBatchPolicy(model, slots=1, temperature=1.0)
    many = BoardBatchPolicy(model, slots=len(boards), temperature=1.0)
    alone = {i: single.step([Request(i, b, [], torch.Generator().manual_seed(i))])[i].move
             for i, b in enumerate(boards)}
    together = many.step([Request(i, b, [], torch.Generator().manual_seed(i)) for i, b in enumerate(boards)])
    assert alone == {i: c.move for i, c in together.items()}
    with pytest.raises(ValueError, match="legal_moves"):
        BoardBatchPolicy(model, slots=1, temperature=1.0, mode="per_character")


# The whole workflow with the board family (config/smoke-board.yaml), as a user runs it.


def _smoke_board_config() -> dict:
    import yaml

    from .conftest import ROOT

    return yaml.safe_load((ROOT / "config" / "smoke-board.yaml").read_text())


@pytest.mark.slow
def test_board_smoke_run_trains_board_networks_and_plays_only_legal_moves(smoke_board_run):
    import csv

    import chess.pgn

    from transcendence.families import load_model

    cfg = _smoke_board_config()
    assert cfg["model"]["family"] == "board"
    temps = [float(t) for t in cfg["evaluate"]["temperatures"]]
    for cap in cfg["caps"]:
        assert (smoke_board_run / f"results/datasets/cap{cap}/train.pos").stat().st_size > 0
        train = load_positions(smoke_board_run / f"results/datasets/cap{cap}/train.pos")
        assert len(train) > 0
        model = load_model(smoke_board_run / f"results/models/cap{cap}/model.pt")
        assert isinstance(model, BoardNet) and model.config.channels == cfg["model"]["channels"]
        for t in temps:
            for opp in cfg["evaluate"]["opponents"]:
                stem = smoke_board_run / f"results/eval/cap{cap}/T{t}/{opp['name']}"
                rows = list(csv.DictReader(open(f"{stem}.csv")))
                assert len(rows) == cfg["evaluate"]["games"]
                assert all(r["forfeit"] == "0" and r["mode"] == "legal_moves" for r in rows)
                with open(f"{stem}.pgn") as fh:
                    while (game := chess.pgn.read_game(fh)) is not None:
                        assert not game.errors, game.errors
                        assert f"boardnet-cap{cap}" in (game.headers["White"], game.headers["Black"])
    ratings = list(csv.DictReader(open(smoke_board_run / "results/summary/ratings.csv")))
    assert {(int(r["cap"]), float(r["temperature"])) for r in ratings} == {(c, t) for c in cfg["caps"] for t in temps}
    for name in ("figures/figure1.png", "analysis/board.svg", "analysis/theory.csv"):
        assert (smoke_board_run / "results" / name).stat().st_size > 0
    for cap in cfg["favor"]["caps"]:
        assert (smoke_board_run / f"results/analysis/favor/cap{cap}.json").stat().st_size > 0
    for cap in cfg["tsne"]["caps"]:
        assert (smoke_board_run / f"results/analysis/tsne/cap{cap}.json").stat().st_size > 0


def test_board_training_is_deterministic_and_resumes_exactly(tmp_path):
    import io

    from transcendence.families.board.training import train_board
    from transcendence.training.train import TrainConfig

    rng = random.Random(9)
    games = [random_game_sans(rng, 30) for _ in range(20)]
    _write_games(tmp_path / "d.pgn.zst", games)
    data = [tmp_path / n for n in ("train.pos", "val.pos", "meta.json")]
    build_positions([tmp_path / "d.pgn.zst"], *data, val_fraction=0.2, seed=1)
    net = BoardNetConfig(channels=8, blocks=1)
    cfg = TrainConfig(max_steps=10, batch_size=16, learning_rate=1e-2, min_lr=1e-3, warmup_steps=2,
                      eval_interval=5, eval_batches=2, checkpoint_interval=5, log_interval=1, seed=3)

    class KilledAt(io.StringIO):
        """A log that stops the run (as a kill would) when training reaches a step."""

        def __init__(self, line: str | None) -> None:
            super().__init__()
            self.line = line

        def write(self, text: str) -> int:
            if self.line and self.line in text:
                raise KeyboardInterrupt(self.line)
            return super().write(text)

    def run(tag: str, state: str, kill: str | None = None) -> dict:
        out = tmp_path / tag
        train_board(data[0], data[1], out / "model.pt", out / "metrics.json", net, cfg,
                    state_path=tmp_path / state, threads=1, log=KilledAt(kill))
        return torch.load(out / "model.pt", weights_only=True)["state_dict"]

    first, second = run("a", "sa.pt"), run("b", "sb.pt")
    assert all(torch.equal(first[k], second[k]) for k in first)
    # Where the bits came from: the same seed gives these bits only on a CPU with the same kernels.
    compute = json.loads((tmp_path / "a" / "timing.json").read_text())["compute"]
    assert compute["torch"] == torch.__version__ and compute["device"] == "cpu"
    assert compute["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and compute["cpu"]
    with pytest.raises(KeyboardInterrupt):
        run("c", "sc.pt", kill="step 7/10")
    assert torch.load(tmp_path / "sc.pt", weights_only=False)["step"] == 5
    resumed = run("c", "sc.pt")
    assert all(torch.equal(first[k], resumed[k]) for k in first)
    # A forced re-run resumes the finished state, with no step left: metrics.json, which DVC
    # hashes, is what the run wrote (the final loss was once rewritten rounded from the history).
    metrics = (tmp_path / "a" / "metrics.json").read_bytes()
    run("a", "sa.pt")
    assert (tmp_path / "a" / "metrics.json").read_bytes() == metrics


def test_a_board_state_learnt_from_other_positions_of_the_same_count_is_not_resumed(tmp_path):
    import io

    from transcendence.families.board.training import train_board
    from transcendence.training.train import TrainConfig

    cfg = TrainConfig(max_steps=4, batch_size=8, learning_rate=1e-2, min_lr=1e-3, warmup_steps=1,
                      eval_interval=2, eval_batches=1, checkpoint_interval=2, log_interval=1, seed=3)
    net = BoardNetConfig(channels=8, blocks=1)
    sets = []
    for name, seed in (("a", 9), ("b", 10)):
        d = tmp_path / name
        d.mkdir()
        _write_games(d / "g.pgn.zst", [random_game_sans(random.Random(seed * 100 + g), 30) for g in range(10)])
        files = [d / n for n in ("train.pos", "val.pos", "meta.json")]
        build_positions([d / "g.pgn.zst"], *files, val_fraction=0.2, seed=1)
        sets.append(files)
    (a_train, a_val, _), (b_train, b_val, _) = sets
    for a, b in ((a_train, b_train), (a_val, b_val)):  # the same counts: only the hashes tell them apart
        assert len(load_positions(a).moves) == len(load_positions(b).moves)
    log = io.StringIO()
    train_board(a_train, a_val, tmp_path / "a" / "model.pt", tmp_path / "a" / "metrics.json", net, cfg,
                state_path=tmp_path / "state.pt", log=log)
    train_board(b_train, b_val, tmp_path / "b" / "model.pt", tmp_path / "b" / "metrics.json", net, cfg,
                state_path=tmp_path / "state.pt", log=log)
    assert "ignoring" in log.getvalue() and "train_sha256" in log.getvalue()
    assert "resumed" not in log.getvalue()


def test_a_board_config_that_asks_for_per_character_sampling_stops_before_any_job(tmp_path):
    import yaml

    from .conftest import ROOT, snakemake

    cfg = _smoke_board_config()
    cfg["evaluate"]["mode"] = "per_character"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake("-n", "--configfile", str(path), workdir=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "evaluate.mode" in out and "board family" in out and "Job stats" not in out
