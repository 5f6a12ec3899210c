"""Training both families: the loop (the paper's recipe), its launcher, data-parallel ranks, curves and the legality check."""
