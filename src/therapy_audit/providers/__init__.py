"""Inspect model providers shipped with therapy-audit (registered via ``_registry``)."""
