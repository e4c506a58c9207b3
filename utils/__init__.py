"""Offline preprocessing scripts (features written once, read by training) and shared helpers."""
