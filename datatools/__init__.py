"""Data: synthetic episode generator, label/submission files, datasets, metric and scoring."""
