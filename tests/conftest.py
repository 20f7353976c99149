"""Shared fixtures: registers the scripted test provider and finds the reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

import scripted_provider  # noqa: F401  (registers the "scripted" model API)

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """../shared/reference, or a skip with the reason when a clone lacks it."""
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (only CI and developers have it)")
    return REFERENCE
