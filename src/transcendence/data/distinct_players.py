"""Counting the distinct players of each rating cap in memory that stays small.

The filter reports how many players each cap's data holds. Sets of names, one per cap,
grow with every new player: a Lichess month has millions, and a Python set of strings costs
about 100 bytes per name per cap. Here each player costs 12 bytes once (a 64-bit hash of the
name and the lowest "top rating" of the games they were kept in, since a player belongs to
cap R exactly when one of their games has both ratings at most R), held in numpy arrays that
are compacted in batches.

The count is exact unless two names share a 64-bit hash: with ten million players the
chance of any collision is about 3 in a million.
"""

from __future__ import annotations

from array import array

import numpy as np


class DistinctPlayers:
    """Distinct player names, each with the lowest top rating of the games they played."""

    def __init__(self, batch: int = 1 << 20) -> None:
        self._batch = batch
        self._hashes = array("q")
        self._tops = array("l")
        self._store_hashes = np.zeros(0, dtype=np.int64)
        self._store_tops = np.zeros(0, dtype=np.int32)

    def add(self, name: bytes, top: int) -> None:
        """Record that ``name`` played a game whose higher rating is ``top`` ("" is no one)."""
        if name:
            self._hashes.append(hash(name))
            self._tops.append(top)
            if len(self._hashes) >= self._batch:
                self._compact()

    def _compact(self) -> None:
        hashes = np.concatenate([self._store_hashes, np.frombuffer(self._hashes, dtype=np.int64)])
        tops = np.concatenate([self._store_tops, np.asarray(self._tops, dtype=np.int32)])
        self._hashes, self._tops = array("q"), array("l")
        order = np.lexsort((tops, hashes))  # by hash, then top: each name's first row has its lowest top
        hashes, tops = hashes[order], tops[order]
        first = np.ones(hashes.size, dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        self._store_hashes, self._store_tops = hashes[first], tops[first]

    def count_at_most(self, caps: list[int]) -> dict[int, int]:
        """How many distinct players played at least one game with top rating at most each cap."""
        self._compact()
        return {cap: int(np.count_nonzero(self._store_tops <= cap)) for cap in caps}
