"""Placeholder until the models issue lands: exits with a clear message."""
import sys

if __name__ == "__main__":
    sys.exit("avt_normal_main.py: not implemented yet (models and training engine are being built; see README)")
