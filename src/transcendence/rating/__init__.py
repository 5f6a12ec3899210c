"""Ratings: Elo MLE and Glicko-2, the opponent ladder, the calibration round robin and the ratings table."""
