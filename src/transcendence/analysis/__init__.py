"""The analyses after rating: favor, t-SNE, diversity, the board example, the theory check, expected reward and figures."""
