"""The data stages: download, synthetic players' games, the filter by rating, and the datasets both model families read."""
