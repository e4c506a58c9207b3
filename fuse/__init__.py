"""Fusion of several submissions (K-means consensus) and audio-fingerprint season matching."""
