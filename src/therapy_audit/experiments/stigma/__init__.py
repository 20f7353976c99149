"""Stigma experiment: vignettes followed by social-distance and dangerousness questions."""
