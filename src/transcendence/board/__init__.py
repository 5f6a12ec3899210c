"""The board-reading model family: a small residual CNN over the position, for a CPU.

The paper's ChessFormer reads the move list and must rebuild the board before it can learn
which moves are good, which takes GPU-scale training. The theory of transcendence (low
temperature is a majority vote over the learned mixture of players) does not depend on how
the model reads the position, so the embedded default trains this family instead
(``model.family: board``): it sees the position from the side to move and outputs a
distribution over that position's legal moves (AlphaZero's 8x8x73 move planes).

- :mod:`.encoding`: positions as compact arrays, moves as indices, planes for the network;
- :mod:`.network`: the network;
- :mod:`.dataset`: (position, move played) pairs from cap-filtered games, streaming;
- :mod:`.training`: the training loop (the paper's recipe, seeded, resumable);
- :mod:`.policy`: moves sampled at a temperature over the legal moves, many games at once.
"""
