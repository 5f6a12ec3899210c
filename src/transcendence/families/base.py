"""What a model family is to the stages: one interface, so that a new family is one folder.

A family is a kind of model with everything that depends on its kind: the data set it
trains on, its training step, how its checkpoint is read, how it plays moves (many games at
once), how it scores a position's legal moves, what its hidden state is, and how much of a
game it can read. The stages hold a :class:`Family` and ask it; none of them asks which
family it is. The registry (:mod:`transcendence.families`) maps ``model.family`` and a
checkpoint to one.

Importing this module loads neither torch nor a network: the Snakefile and the config check
read a family's name, file suffix and rules at start-up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping, Protocol, Sequence, TextIO

import chess

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..training.train import TrainConfig, TrainPaths
    from .sampling import Choice


@dataclass
class Request:
    """A game whose turn it is: its slot, position, moves so far and random generator."""

    slot: int
    board: chess.Board
    sans: list[str]
    gen: torch.Generator


class MovePolicy(Protocol):
    """A model playing ``slots`` games at once: what :func:`~transcendence.play.evaluate.play_games` needs.

    ``step`` advances every requested game by one model step and returns the games that
    decided their move, by slot (a per-character turn takes a step per character).
    """

    slots: int

    def new_game(self, slot: int) -> None: ...

    def step(self, requests: list[Request]) -> dict[int, Choice]: ...


class MoveSampler(Protocol):
    """Many independent samples of the model's move in one position (the favor analysis)."""

    def moves_at(self, temperature: float, n: int, gen: torch.Generator) -> list[chess.Move | None]: ...


class MoveScorer(Protocol):
    """Scores the legal moves of one position after another (:meth:`Family.legal_move_scores`)."""

    def legal_move_scores(self, board: chess.Board, sans: list[str]) -> tuple[list[chess.Move], torch.Tensor]: ...


class GamePosition(Protocol):
    """A position of a game as the analyses hold it: which game, after how many plies, the
    moves so far (the text family's prompt) and the board (the board families' input)."""

    game: int
    ply: int
    sans: tuple[str, ...]
    fen: str


# (dump index, game index in that dump, the game's moves): a game test positions come from.
SourceGame = tuple[int, int, list[str]]


class Family(ABC):
    """One model family. Subclasses set the class attributes and implement the methods; the
    defaults are those of a family that reads the board and samples over legal moves."""

    name: ClassVar[str]              # model.family in the config, and a board checkpoint's "family"
    label: ClassVar[str]             # the model's player name in PGN headers: <label>-cap<cap>
    reads: ClassVar[str]             # what the model reads, for figure titles
    dataset_suffix: ClassVar[str]    # the suffix of its train and val files
    modes: ClassVar[tuple[str, ...]] = ("legal_moves",)   # the sampling modes it plays in
    reads_moves: ClassVar[bool] = False                   # whether it reads the game's moves (else the board)
    data_parallel: ClassVar[bool] = False                 # whether train.gpus > 1 may split its batches
    # Whether its test positions (the expected reward) come from games its data set held out.
    held_out_positions: ClassVar[bool] = True
    # Where its held-out games are: re-drawn from the cap's dumps (True), or in its val file.
    held_out_from_dumps: ClassVar[bool] = True

    def __repr__(self) -> str:
        return f"<{self.name} family>"

    def player_name(self, cap: int) -> str:
        """The model's name in PGN headers, e.g. ``chessformer-cap1000`` or ``boardnet-cap400``."""
        return f"{self.label}-cap{cap}"

    def config_problems(self, config: Mapping[str, Any]) -> list[str]:
        """This family's rules on a configuration whose schema holds, one line each."""
        problems = []
        for section, mode in (("evaluate.mode", config.get("evaluate", {}).get("mode")),):
            if mode is not None and mode not in self.modes:
                problems.append(f"{section} {mode!r}: the {self.name} family samples in {', '.join(self.modes)} mode only")
        if not self.data_parallel:
            train = config.get("train", {})
            for where, section in [("train", train), *((f"train_overrides.{cap}", override) for cap, override
                                                       in sorted(config.get("train_overrides", {}).items()))]:
                gpus = section.get("gpus", 0) if isinstance(section, Mapping) else 0
                if isinstance(gpus, int) and gpus > 1:
                    problems.append(f"{where}.gpus ({gpus}): the {self.name} family trains on one device; "
                                    "set it to 0 or 1")
        return problems

    # -- the network and its data -------------------------------------------------------------

    @abstractmethod
    def network_type(self) -> type[torch.nn.Module]:
        """The class of this family's networks (a loaded model is an instance of it)."""

    @abstractmethod
    def build_dataset(self, dumps: Sequence[str | Path], train_out: str | Path, val_out: str | Path,
                      meta_out: str | Path, *, block_size: int, val_fraction: float, shuffle_bucket_mb: float,
                      seed: int, workers: int, log: TextIO) -> dict:
        """The cap's games as this family's train and val files, and their meta.json.
        ``block_size`` and ``shuffle_bucket_mb`` are the packed text blocks' (others ignore them)."""

    @abstractmethod
    def train_network(self, paths: TrainPaths, model: Mapping[str, Any], cfg: TrainConfig, *,
              threads: int | None, log: TextIO) -> dict[str, object]:
        """Train one model of config ``model`` (``model.family`` left out), resuming where it can."""

    def save_network(self, path: str | Path, model: torch.nn.Module, extra: Mapping[str, object]) -> None:
        """The evaluated checkpoint of ``model``, naming this family, with ``extra`` (step, seed)."""
        from ..model.checkpoint import save_model

        save_model(path, model, extra, family=self.name)

    @abstractmethod
    def load_network(self, checkpoint: Mapping[str, Any], device: str | torch.device) -> torch.nn.Module:
        """The network of a read checkpoint of this family, in eval mode on ``device``
        (:func:`restored`, given the untrained network of the checkpoint's config)."""

    # -- playing and scoring --------------------------------------------------------------------

    @abstractmethod
    def batch_policy(self, model: torch.nn.Module, *, slots: int, temperature: float, mode: str,
                     max_tries: int) -> MovePolicy:
        """The model playing ``slots`` games at once at one temperature."""

    @abstractmethod
    def legal_move_scores(self, model: torch.nn.Module, board: chess.Board, sans: list[str]
                          ) -> tuple[list[chess.Move], torch.Tensor]:
        """Every legal move and the model's log-score of it (softmax of these at T is its policy)."""

    def move_scorer(self, model: torch.nn.Module) -> MoveScorer:
        """Something that scores positions' legal moves for ``model`` one after another (and
        may keep state between them: the text family's prompt cache)."""
        return _Scorer(self, model)

    def position_sampler(self, model: torch.nn.Module, board: chess.Board, sans: list[str],
                         mode: str) -> MoveSampler:
        """Samples of the model's move in one position, in ``mode``."""
        from .sampling import MODES, ScoredMoves

        if mode not in MODES:
            raise ValueError(f"unknown evaluation mode {mode!r}")
        if mode not in self.modes:
            raise ValueError(f"the {self.name} family samples over legal moves; use the legal_moves mode")
        return ScoredMoves(*self.legal_move_scores(model, board, sans))

    @abstractmethod
    def hidden_states(self, model: torch.nn.Module, positions: Sequence[GamePosition]) -> np.ndarray:
        """(positions, width): the model's last hidden state in each position (the t-SNE's input)."""

    def context_length(self, model: torch.nn.Module) -> int | None:
        """How many characters of prompt the model can read; None when it reads the board."""
        return None

    @abstractmethod
    def test_games(self, dumps: Sequence[str | Path], *, context: int | None, val_fraction: float,
                   seed: int) -> tuple[list[SourceGame], list[int]]:
        """The games the expected reward draws positions from, and how many leading positions
        each offers (see :attr:`held_out_positions`)."""


    def held_out_games(self, *, dumps: Sequence[str | Path], val: str | Path | None, meta: Mapping[str, Any],
                       val_fraction: float, seed: int, first_plies: int | None = None
                       ) -> tuple[dict[str, Any], Iterator[tuple[dict[str, Any], list[str]]]]:
        """What the dataset's held-out games are (for the openings file), and the games: (where,
        SANs), ``first_plies`` moves of each at most. ``dumps`` or ``val`` is where they are
        (:attr:`held_out_from_dumps`); ``meta`` is the dataset's meta.json, and the iterator
        raises ``ValueError`` at its end when it read another number of games than it held out."""
        from ..data.held_out import counted

        source, games, expected, what = self._held_out(dumps=dumps, val=val, meta=meta, val_fraction=val_fraction,
                                                       seed=seed, first_plies=first_plies)
        return source, counted(games, expected, what)

    def _held_out(self, *, dumps: Sequence[str | Path], val: str | Path | None, meta: Mapping[str, Any],
                  val_fraction: float, seed: int, first_plies: int | None
                  ) -> tuple[dict[str, Any], Iterator[tuple[dict[str, Any], list[str]]], int | None, str]:
        """The held-out games of a dataset of board positions: its val split, re-drawn from the
        cap's dumps; (source, games, how many the dataset held out, what they are)."""
        from ..data.board_positions import val_games

        source = {"family": self.name, "from": f"the {self.name} dataset's val split, re-drawn from the cap's dumps "
                  "(data/board_positions.py val_games)", "dumps": [str(d) for d in dumps]}
        games = (({"dump": str(dumps[d]), "game": index}, sans[:first_plies] if first_plies else sans)
                 for d, index, sans in val_games(dumps, val_fraction=val_fraction, seed=seed))
        return source, games, meta.get("val_games"), f"the val games re-drawn from {[str(d) for d in dumps]}"


def restored(network: torch.nn.Module, checkpoint: Mapping[str, Any], device: str | torch.device) -> torch.nn.Module:
    """``network`` with a checkpoint's weights, in eval mode on ``device``."""
    network.load_state_dict(checkpoint["state_dict"])
    return network.to(device).eval()


class _Scorer:
    """A family's move scores for one model, without state of its own."""

    def __init__(self, family: Family, model: torch.nn.Module) -> None:
        self.family, self.model = family, model

    def legal_move_scores(self, board: chess.Board, sans: list[str]) -> tuple[list[chess.Move], torch.Tensor]:
        return self.family.legal_move_scores(self.model, board, sans)
