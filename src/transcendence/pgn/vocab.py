"""The paper's 32-character vocabulary and the mapping between text and token ids.

Ids follow the order of ``VOCAB`` (space = 0 ... ``x`` = 31), exactly as the released
checkpoints expect, so a model trained here reads the same ids as the paper's.
"""

from __future__ import annotations

import numpy as np

VOCAB: str = " #+-.0123456789;=BKNOQRabcdefghx"
VOCAB_SIZE: int = len(VOCAB)
SPACE_ID: int = VOCAB.index(" ")
GAME_START: str = ";"
GAME_START_ID: int = VOCAB.index(GAME_START)

_LOOKUP = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(VOCAB):
    _LOOKUP[ord(_c)] = _i
#: The same mapping as a ``bytes.translate`` table (byte -> id; 255: not in ``VOCAB``).
TOKEN_TABLE: bytes = _LOOKUP.tobytes()


def encode(text: str) -> np.ndarray:
    """Token ids (uint8) of ``text``; raises ``ValueError`` naming the first bad character."""
    raw = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
    ids = _LOOKUP[raw]
    bad = np.flatnonzero(ids == 255)
    if bad.size:
        pos = int(bad[0])
        raise ValueError(f"character {text[pos]!r} at position {pos} is not in the vocabulary {VOCAB!r}")
    return ids


def decode(ids) -> str:
    """Text of a sequence of token ids."""
    return "".join(VOCAB[int(i)] for i in ids)
