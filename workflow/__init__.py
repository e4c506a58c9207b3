"""The workflow above the models: the demo's stages (shared with the benchmarks), its report, and the
provenance every result file records."""
