"""The published preprocessing scripts, one command per output (the engine is the preprocessing package)."""
