"""Seeds of single games, one definition for every stage that plays or samples.

Evaluation, calibration, the favor analysis, the t-SNE and the expected-reward test each
draw a game's or a position's randomness from a seed made of the parts that name it; one
function keeps "the same parts, the same seed" true across stages, runs and machines.
"""

from __future__ import annotations

import hashlib


def game_seed(*parts: object) -> int:
    """A 63-bit seed from the parts that identify one game (stable across runs and machines)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
