"""How a model plays: the sampling protocols, the single-position and batched policies, opponents and evaluation shards."""
