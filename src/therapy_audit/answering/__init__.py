"""Asking for and reading a lettered answer (stigma items and the judge's yes/no)."""
