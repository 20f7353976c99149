"""Stimulus data files (YAML), versioned with the package; see ``manifest.yaml``."""
