"""Positions as compact arrays, moves as indices, and the planes the network reads.

Everything is seen from the side to move: for Black the board is mirrored top to bottom
and the colours swapped, so "our" pawns always move up the board and one network serves
both colours. A position is stored as ``FEATURES`` uint8 values (194 bytes), which the
dataset writes and the network's input layer expands on the fly:

- 64 piece codes by square (0 empty, 1-6 our pawn..king, 7-12 theirs);
- 64 counts of our pieces attacking each square, then 64 of theirs (python-chess's
  ``attacks_mask``: what a piece attacks whether or not the move would be legal);
- castling rights (bit 0 our king side, 1 our queen side, 2 their king side, 3 theirs);
- the en-passant file + 1 when an en-passant capture is legal, else 0.

Moves use AlphaZero's 8x8x73 planes: index = from-square * 73 + plane, with 56 queen-like
planes (8 directions x distance 1-7; castling is the king's two-square move), 8 knight
planes and 9 under-promotion planes (knight, bishop, rook x three directions); a pawn
reaching the last rank with a queen is a queen-like move.
"""

from __future__ import annotations

import chess
import numpy as np
import torch
import torch.nn.functional as F

FEATURES = 194
N_PLANES = 73
N_MOVES = 64 * N_PLANES
INPUT_PLANES = 12 + 2 + 4 + 1        # pieces, attack counts, castling rights, en passant
ATTACK_SCALE = 4.0                   # attack counts enter the network as count / 4

# (file step, rank step) of the eight queen directions and the eight knight jumps.
_DIRECTIONS = [(0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1)]
_KNIGHT = [(1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)]
_DIRECTION_INDEX = {d: i for i, d in enumerate(_DIRECTIONS)}
_KNIGHT_INDEX = {d: i for i, d in enumerate(_KNIGHT)}
_UNDER = {chess.KNIGHT: 0, chess.BISHOP: 1, chess.ROOK: 2}


def _orient(turn: chess.Color) -> int:
    """XOR mask that maps a square to its square seen from ``turn`` (a vertical mirror for Black)."""
    return 0 if turn == chess.WHITE else 56


def _plane(dx: int, dy: int, promotion: int | None) -> int:
    """The move plane of a step (dx files, dy ranks) seen from the side to move."""
    if promotion is not None and promotion != chess.QUEEN:
        return 64 + 3 * _UNDER[promotion] + (dx + 1)
    if (dx, dy) in _KNIGHT_INDEX:
        return 56 + _KNIGHT_INDEX[(dx, dy)]
    distance = max(abs(dx), abs(dy))
    return 7 * _DIRECTION_INDEX[(dx // distance, dy // distance)] + distance - 1


def _move_table(flip: int) -> list[int]:
    """Index of every (from, to) step without under-promotion, for one side to move (-1: none)."""
    table = [-1] * 4096
    for src in range(64):
        for dst in range(64):
            s, d = src ^ flip, dst ^ flip
            dx, dy = (d & 7) - (s & 7), (d >> 3) - (s >> 3)
            if (dx, dy) != (0, 0) and ((dx, dy) in _KNIGHT_INDEX or dx == 0 or dy == 0 or abs(dx) == abs(dy)):
                table[src * 64 + dst] = s * N_PLANES + _plane(dx, dy, None)
    return table


_TABLES = {chess.WHITE: _move_table(0), chess.BLACK: _move_table(56)}


def move_index(move: chess.Move, turn: chess.Color) -> int:
    """The move's index among ``N_MOVES``, seen from the side to move ``turn``."""
    if move.promotion is None or move.promotion == chess.QUEEN:
        return _TABLES[turn][move.from_square * 64 + move.to_square]
    flip = _orient(turn)
    src, dst = move.from_square ^ flip, move.to_square ^ flip
    return src * N_PLANES + _plane((dst & 7) - (src & 7), (dst >> 3) - (src >> 3), move.promotion)


def legal_moves(board: chess.Board) -> tuple[list[chess.Move], np.ndarray]:
    """The legal moves of ``board`` and their indices (uint16), in python-chess's order."""
    moves = list(board.legal_moves)
    table, turn = _TABLES[board.turn], board.turn
    return moves, np.array([table[m.from_square * 64 + m.to_square]
                            if m.promotion is None or m.promotion == chess.QUEEN else move_index(m, turn)
                            for m in moves], dtype=np.uint16)


# Bit i of byte value b, for every b: turns bitboards into 0/1 squares with one lookup.
_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little")
_CODES = np.arange(1, 13, dtype=np.uint8)[:, None]
_NOT_A, _NOT_H = ~chess.BB_FILE_A & chess.BB_ALL, ~chess.BB_FILE_H & chess.BB_ALL


def _pawn_attacks(pawns: int, color: chess.Color) -> list[int]:
    """The squares attacked by ``color``'s pawns towards each side, as two bitboards."""
    if color == chess.WHITE:
        return [((pawns & _NOT_A) << 7) & chess.BB_ALL, ((pawns & _NOT_H) << 9) & chess.BB_ALL]
    return [(pawns & _NOT_A) >> 9, (pawns & _NOT_H) >> 7]


def encode(board: chess.Board, out: np.ndarray | None = None) -> np.ndarray:
    """The position's ``FEATURES`` bytes (see the module's docstring), seen from the side to move.

    Works on python-chess's bitboards: the twelve piece sets and every attack set become
    squares in one table lookup, pawns' attacks are two shifted sets per side, and only the
    other pieces ask python-chess for their attacks. ``tests/test_board.py`` checks it
    against a plain square-by-square reference.
    """
    if out is None:
        out = np.zeros(FEATURES, dtype=np.uint8)
    us, them = board.turn, not board.turn
    masks = []
    for color in (us, them):
        occupied = board.occupied_co[color]
        masks += [board.pawns & occupied, board.knights & occupied, board.bishops & occupied,
                  board.rooks & occupied, board.queens & occupied, board.kings & occupied]
    attacks = []
    for color in (us, them):
        occupied = board.occupied_co[color]
        attacks.append(_pawn_attacks(board.pawns & occupied, color)
                       + [board.attacks_mask(sq) for sq in chess.scan_forward(occupied & ~board.pawns)])
    ours = len(attacks[0])
    bits = _BITS[np.array(masks + attacks[0] + attacks[1], dtype="<u8").view(np.uint8)].reshape(-1, 8, 8)
    if us == chess.BLACK:
        bits = bits[:, ::-1]
    bits = bits.reshape(-1, 64)
    out[:64] = (bits[:12] * _CODES).sum(axis=0)
    out[64:128] = bits[12:12 + ours].sum(axis=0)
    out[128:192] = bits[12 + ours:].sum(axis=0)
    out[192] = (board.has_kingside_castling_rights(us) | board.has_queenside_castling_rights(us) << 1
                | board.has_kingside_castling_rights(them) << 2 | board.has_queenside_castling_rights(them) << 3)
    out[193] = chess.square_file(board.ep_square) + 1 if board.has_legal_en_passant() else 0
    return out


def planes(features: torch.Tensor) -> torch.Tensor:
    """(N, INPUT_PLANES, 8, 8) float planes from (N, FEATURES) uint8 features, on their device."""
    n = features.shape[0]
    pieces = F.one_hot(features[:, :64].long(), 13)[..., 1:].permute(0, 2, 1).float()      # (N, 12, 64)
    attacks = features[:, 64:192].view(n, 2, 64).float() / ATTACK_SCALE                   # (N, 2, 64)
    shifts = torch.arange(4, device=features.device)
    castling = ((features[:, 192, None].long() >> shifts) & 1).float()[..., None].expand(n, 4, 64)
    ep_file = features[:, 193].long()
    ep = torch.zeros(n, 1, 64, device=features.device)
    has_ep = ep_file > 0
    # The en-passant target square, seen from the side to move, is on the sixth rank.
    ep[has_ep, 0, 40 + ep_file[has_ep] - 1] = 1.0
    return torch.cat([pieces, attacks, castling, ep], dim=1).view(n, INPUT_PLANES, 8, 8)


def legal_mask(indices: list[np.ndarray] | np.ndarray, offsets: np.ndarray | None = None,
               rows: np.ndarray | None = None) -> torch.Tensor:
    """(N, N_MOVES) bool mask of legal moves.

    Either a list of index arrays (one per position), or a flat array of indices with
    ``offsets`` (CSR: position i's moves are ``indices[offsets[i]:offsets[i + 1]]``) and the
    ``rows`` (positions) wanted.
    """
    if offsets is None:
        per_row = list(indices)
    else:
        assert rows is not None
        per_row = [indices[offsets[r]:offsets[r + 1]] for r in rows]
    mask = torch.zeros(len(per_row), N_MOVES, dtype=torch.bool)
    lengths = [len(ix) for ix in per_row]
    if sum(lengths):
        row_ids = torch.repeat_interleave(torch.arange(len(per_row)), torch.tensor(lengths))
        cols = torch.from_numpy(np.concatenate(per_row).astype(np.int64))
        mask[row_ids, cols] = True
    return mask


def move_logits(head: torch.Tensor) -> torch.Tensor:
    """(N, N_MOVES) logits, index = square * 73 + plane, from a move head's (N, N_PLANES, 8, 8) output."""
    return head.permute(0, 2, 3, 1).reshape(head.shape[0], N_MOVES)
