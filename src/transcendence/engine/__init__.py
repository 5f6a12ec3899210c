"""The chess engine: a cached UCI client, a pool of engines, and engine values of moves."""
