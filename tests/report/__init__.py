"""Tests of the HTML/JSON/CSV report (a package so its conftest does not shadow tests/conftest)."""
