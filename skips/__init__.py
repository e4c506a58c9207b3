"""Whole-episode skip timestamps: the library behind predict.py."""
