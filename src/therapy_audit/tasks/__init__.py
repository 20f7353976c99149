"""Inspect tasks, one module per experiment."""
