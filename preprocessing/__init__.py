"""Preprocessing engine: clip decoding, features, OCR, text ROI, fingerprints, the stages and job runner."""
