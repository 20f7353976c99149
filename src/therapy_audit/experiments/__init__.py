"""The experiments, one folder each: its task, scorer, helpers and analysis side by side."""
